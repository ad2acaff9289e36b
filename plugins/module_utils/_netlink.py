# -*- coding: utf-8 -*-
# Copyright (c) 2026, lvs.cluster contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Generic netlink for the lvs.cluster collection: sockets, attributes, requests, dumps and batches.

Private to the lvs.cluster collection: no stability promise.

Standard library only. Written from the netlink ABI (``include/uapi/linux/netlink.h``,
``genetlink.h``): a message is ``struct nlmsghdr`` (len u32, type u16, flags u16, seq u32, pid u32), a
generic netlink payload starts with ``struct genlmsghdr`` (cmd u8, version u8, reserved u16), then
attributes, each ``struct nlattr`` (len u16, type u16) + payload, padded to 4 bytes.

Decoding never trusts the input: every length is checked against the buffer it claims to describe, every
loop advances by at least one header, and every problem raises :class:`NetlinkDecodeError` (a ValueError).

The socket is reached through a *transport* (``send(bytes)``, ``recv(block=True) -> bytes | None``,
``close()``, ``port_id``), so tests can stand a fake kernel in its place.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import errno
import os
import socket
import struct

# --- netlink.h -------------------------------------------------------------------------------------------------
NETLINK_GENERIC = 16

NLM_F_REQUEST = 0x01
NLM_F_MULTI = 0x02
NLM_F_ACK = 0x04
NLM_F_ECHO = 0x08
NLM_F_DUMP_INTR = 0x10
NLM_F_DUMP_FILTERED = 0x20
NLM_F_ROOT = 0x100
NLM_F_MATCH = 0x200
NLM_F_DUMP = NLM_F_ROOT | NLM_F_MATCH
# Flags of an NLMSG_ERROR message.
NLM_F_CAPPED = 0x100
NLM_F_ACK_TLVS = 0x200

NLMSG_NOOP = 1
NLMSG_ERROR = 2
NLMSG_DONE = 3
NLMSG_OVERRUN = 4
NLMSG_MIN_TYPE = 0x10

NLMSGERR_ATTR_MSG = 1
NLMSGERR_ATTR_OFFS = 2

SOL_NETLINK = 270
NETLINK_CAP_ACK = 10
NETLINK_EXT_ACK = 11

NLA_F_NESTED = 0x8000
NLA_F_NET_BYTEORDER = 0x4000
NLA_TYPE_MASK = ~(NLA_F_NESTED | NLA_F_NET_BYTEORDER) & 0xFFFF

# --- genetlink.h -----------------------------------------------------------------------------------------------
GENL_ID_CTRL = 0x10
CTRL_CMD_NEWFAMILY = 1
CTRL_CMD_GETFAMILY = 3
CTRL_ATTR_FAMILY_ID = 1
CTRL_ATTR_FAMILY_NAME = 2
CTRL_ATTR_VERSION = 3
CTRL_ATTR_HDRSIZE = 4
CTRL_ATTR_MAXATTR = 5

NLMSG_HDR = struct.Struct("=IHHII")
GENL_HDR = struct.Struct("=BBH")
NLA_HDR = struct.Struct("=HH")
NLMSG_HDRLEN = NLMSG_HDR.size  # 16
GENL_HDRLEN = GENL_HDR.size  # 4
NLA_HDRLEN = NLA_HDR.size  # 4

# Defaults. A request's acknowledgement costs the receive buffer a whole small skb (hundreds of bytes of
# truesize), so the batch size, not the bytes sent, is what overflows it.
DEFAULT_RCVBUF = 8 * 1024 * 1024
DEFAULT_SNDBUF = 1024 * 1024
DEFAULT_BATCH = 100
MAX_BATCH_BYTES = 128 * 1024
RECV_SIZE = 256 * 1024
DEFAULT_TIMEOUT = 30.0


# Plain ints: the socket module's flags are enum members, whose operators cost a call each per datagram.
_MSG_DONTWAIT = int(socket.MSG_DONTWAIT)
_MSG_TRUNC = int(socket.MSG_TRUNC)


def align(length):
    return (length + 3) & ~3


# ---------------------------------------------------------------------------------------------------------------
# Errors
# ---------------------------------------------------------------------------------------------------------------


class NetlinkBatchError(Exception):
    """A socket failure in the middle of a batch: ``error`` (NetlinkError) and ``outcomes`` so far (one
    :class:`Outcome` per request: ``ok``/``error`` as answered, ``unknown`` if sent, ``not_sent`` otherwise)."""

    def __init__(self, error, outcomes):
        super(NetlinkBatchError, self).__init__(str(error))
        self.error = error
        self.outcomes = outcomes


class NetlinkDecodeError(ValueError):
    """Bytes that are not a well-formed netlink message or attribute stream."""


class NetlinkError(Exception):
    """The kernel (or the socket) refused a request.

    ``errno`` is the positive errno value, ``message`` a human text (the kernel's extended ACK message when
    it sent one), ``request_index`` the position of the failed request in the batch it was sent in (or None).
    """

    def __init__(self, errno_value, message=None, request_index=None):
        self.errno = abs(int(errno_value))
        self.strerror = os.strerror(self.errno) if self.errno else "Success"
        self.message = message or self.strerror
        self.request_index = request_index
        super(NetlinkError, self).__init__(self.errno, self.message, request_index)

    @property
    def errno_name(self):
        return errno.errorcode.get(self.errno, str(self.errno))

    def __str__(self):
        text = "%s (%s, errno %d)" % (self.message, self.errno_name, self.errno)
        if self.message != self.strerror:
            text = "%s: %s" % (self.strerror, text)
        if self.request_index is not None:
            text = "request #%d: %s" % (self.request_index, text)
        return text


# ---------------------------------------------------------------------------------------------------------------
# Attribute encoding
# ---------------------------------------------------------------------------------------------------------------


def nla(attr_type, payload):
    """One attribute: header, payload, zero padding to 4 bytes."""
    payload = bytes(payload)
    length = NLA_HDRLEN + len(payload)
    if length > 0xFFFF:
        raise ValueError("netlink attribute %d too long (%d bytes)" % (attr_type, length))
    return NLA_HDR.pack(length, attr_type & 0xFFFF) + payload + b"\0" * (align(length) - length)


def nla_u8(attr_type, value):
    return nla(attr_type, struct.pack("=B", value))


def nla_u16(attr_type, value):
    return nla(attr_type, struct.pack("=H", value))


def nla_u32(attr_type, value):
    return nla(attr_type, struct.pack("=I", value))


def nla_u64(attr_type, value):
    return nla(attr_type, struct.pack("=Q", value))


def nla_be16(attr_type, value):
    return nla(attr_type, struct.pack(">H", value))


def nla_be32(attr_type, value):
    return nla(attr_type, struct.pack(">I", value))


def nla_string(attr_type, value):
    """A string without terminating NUL (NLA_STRING)."""
    return nla(attr_type, value.encode("utf-8") if not isinstance(value, bytes) else value)


def nla_nulstring(attr_type, value):
    """A NUL-terminated string (NLA_NUL_STRING), as the kernel's nla_put_string() writes it."""
    data = value.encode("utf-8") if not isinstance(value, bytes) else value
    return nla(attr_type, data + b"\0")


def nla_binary(attr_type, value):
    return nla(attr_type, value)


def nla_nested(attr_type, children, flag=True):
    """A nested attribute holding the already-encoded ``children``; sets NLA_F_NESTED unless told not to."""
    return nla(attr_type | (NLA_F_NESTED if flag else 0), b"".join(children))


# ---------------------------------------------------------------------------------------------------------------
# Attribute decoding
# ---------------------------------------------------------------------------------------------------------------


def iter_attrs(data):
    """``(type, flags, payload)`` for each attribute in ``data``; every header is checked.

    The hot loop of reading a table (tens of thousands of attributes): no helper calls inside it.
    """
    data = bytes(data)
    result = []
    append = result.append
    unpack = NLA_HDR.unpack_from
    offset = 0
    end = len(data)
    while offset < end:
        if end - offset < NLA_HDRLEN:
            raise NetlinkDecodeError("%d stray bytes after the last attribute" % (end - offset))
        length, raw_type = unpack(data, offset)
        if length < NLA_HDRLEN:
            raise NetlinkDecodeError("attribute length %d is shorter than its header" % length)
        stop = offset + length
        if stop > end:
            raise NetlinkDecodeError("attribute type %d claims %d bytes, only %d left"
                                     % (raw_type & NLA_TYPE_MASK, length, end - offset))
        append((raw_type & NLA_TYPE_MASK, raw_type & ~NLA_TYPE_MASK & 0xFFFF, data[offset + NLA_HDRLEN:stop]))
        # Aligned to 4; the final attribute may lack its padding (the loop ends either way), and length >= 4
        # always steps forward.
        offset = (stop + 3) & ~3
    return result


_FIXED = dict((fmt, struct.Struct(fmt)) for fmt in ("=B", "=H", "=I", "=Q", ">H", ">I"))


class Attrs:
    """Decoded attributes of one level, with typed accessors that check sizes.

    When a type repeats, the last one wins (as in the kernel's nla_parse()). Nested levels are parsed on
    demand by :meth:`nested`, so decoding depth is bounded by what the caller asks for.
    """

    __slots__ = ("_by_type", "_order")

    def __init__(self, data=b""):
        self._order = [(attr_type, payload) for attr_type, _flags, payload in iter_attrs(data)]
        self._by_type = dict(self._order)  # the last of a repeated type wins

    def __contains__(self, attr_type):
        return attr_type in self._by_type

    def __len__(self):
        return len(self._order)

    def items(self):
        return list(self._order)

    def types(self):
        return [attr_type for attr_type, _payload in self._order]

    def raw(self, attr_type, default=None):
        return self._by_type.get(attr_type, default)

    def _fixed(self, attr_type, fmt, size, default):
        payload = self._by_type.get(attr_type)
        if payload is None:
            return default
        if len(payload) != size:
            raise NetlinkDecodeError("attribute %d: expected %d bytes, got %d" % (attr_type, size, len(payload)))
        return _FIXED[fmt].unpack(payload)[0]

    def u8(self, attr_type, default=None):
        return self._fixed(attr_type, "=B", 1, default)

    def u16(self, attr_type, default=None):
        return self._fixed(attr_type, "=H", 2, default)

    def u32(self, attr_type, default=None):
        return self._fixed(attr_type, "=I", 4, default)

    def u64(self, attr_type, default=None):
        return self._fixed(attr_type, "=Q", 8, default)

    def be16(self, attr_type, default=None):
        return self._fixed(attr_type, ">H", 2, default)

    def be32(self, attr_type, default=None):
        return self._fixed(attr_type, ">I", 4, default)

    def uint(self, attr_type, default=None):
        """An unsigned integer of 1, 2, 4 or 8 bytes (the width the sender chose)."""
        payload = self._by_type.get(attr_type)
        if payload is None:
            return default
        fmt = {1: "=B", 2: "=H", 4: "=I", 8: "=Q"}.get(len(payload))
        if fmt is None:
            raise NetlinkDecodeError("attribute %d: %d bytes is no integer width" % (attr_type, len(payload)))
        return struct.unpack(fmt, payload)[0]

    def string(self, attr_type, default=None):
        """A string; stops at the first NUL (NLA_STRING and NLA_NUL_STRING alike)."""
        payload = self._by_type.get(attr_type)
        if payload is None:
            return default
        payload = payload.split(b"\0", 1)[0]
        try:
            return payload.decode("utf-8")
        except UnicodeDecodeError:
            raise NetlinkDecodeError("attribute %d is not a UTF-8 string" % attr_type)

    def binary(self, attr_type, default=None, size=None):
        payload = self._by_type.get(attr_type)
        if payload is None:
            return default
        if size is not None and len(payload) != size:
            raise NetlinkDecodeError("attribute %d: expected %d bytes, got %d" % (attr_type, size, len(payload)))
        return payload

    def nested(self, attr_type, default=None):
        payload = self._by_type.get(attr_type)
        if payload is None:
            return default
        return Attrs(payload)


def walk(data, max_depth=16, _depth=0):
    """Decode a whole attribute tree, treating every payload that parses as attributes as nested.

    For diagnostics and fuzzing: returns ``[(type, payload_or_children)]``; nesting beyond ``max_depth`` is
    reported as an error rather than followed.
    """
    if _depth > max_depth:
        raise NetlinkDecodeError("attributes nested deeper than %d levels" % max_depth)
    result = []
    for attr_type, flags, payload in iter_attrs(data):
        if flags & NLA_F_NESTED:
            result.append((attr_type, walk(payload, max_depth, _depth + 1)))
        else:
            result.append((attr_type, payload))
    return result


# ---------------------------------------------------------------------------------------------------------------
# Messages
# ---------------------------------------------------------------------------------------------------------------


class Message:
    """One netlink message: header fields and the raw payload after ``struct nlmsghdr``."""

    __slots__ = ("type", "flags", "seq", "pid", "payload")

    def __init__(self, msg_type, flags, seq, pid, payload):
        self.type = msg_type
        self.flags = flags
        self.seq = seq
        self.pid = pid
        self.payload = payload

    def __repr__(self):
        return "Message(type=%d, flags=0x%x, seq=%d, pid=%d, %d bytes)" % (
            self.type, self.flags, self.seq, self.pid, len(self.payload))

    def encode(self):
        return encode_message(self.type, self.flags, self.seq, self.pid, self.payload)

    # Generic netlink view ------------------------------------------------------------------------------------
    def genl(self):
        """Return ``(cmd, version, Attrs)`` of a generic netlink message."""
        return parse_genl(self.payload)

    # NLMSG_ERROR view -----------------------------------------------------------------------------------------
    def error(self):
        """For an NLMSG_ERROR message: ``(errno, ext_ack_message, original_seq)``; errno 0 is an ACK."""
        return parse_error(self)


def encode_message(msg_type, flags, seq, pid, payload):
    payload = bytes(payload)
    length = NLMSG_HDRLEN + len(payload)
    return NLMSG_HDR.pack(length, msg_type, flags, seq, pid) + payload + b"\0" * (align(length) - length)


def genl_payload(cmd, version, attrs=b""):
    """``struct genlmsghdr`` followed by the encoded attributes."""
    if not isinstance(attrs, (bytes, bytearray)):
        attrs = b"".join(attrs)
    return GENL_HDR.pack(cmd, version, 0) + bytes(attrs)


def parse_genl(payload):
    if len(payload) < GENL_HDRLEN:
        raise NetlinkDecodeError("generic netlink payload of %d bytes has no genlmsghdr" % len(payload))
    cmd, version, _reserved = GENL_HDR.unpack_from(payload, 0)
    return cmd, version, Attrs(payload[GENL_HDRLEN:])


def parse_messages(data):
    """Split one datagram into :class:`Message` objects; validate every length."""
    data = bytes(data)
    messages = []
    offset = 0
    end = len(data)
    while offset < end:
        if end - offset < NLMSG_HDRLEN:
            raise NetlinkDecodeError("%d stray bytes after the last netlink message" % (end - offset))
        length, msg_type, flags, seq, pid = NLMSG_HDR.unpack_from(data, offset)
        if length < NLMSG_HDRLEN:
            raise NetlinkDecodeError("netlink message length %d is shorter than its header" % length)
        if length > end - offset:
            raise NetlinkDecodeError("netlink message claims %d bytes, only %d left" % (length, end - offset))
        messages.append(Message(msg_type, flags, seq, pid, data[offset + NLMSG_HDRLEN:offset + length]))
        # Aligned to 4 (the last message may lack its padding: the loop ends either way).
        offset = (offset + length + 3) & ~3
    return messages


def parse_error(message):
    """Decode ``struct nlmsgerr`` (+ extended ACK TLVs): ``(errno, text_or_None, original_seq_or_None)``."""
    payload = message.payload
    if len(payload) < 4:
        raise NetlinkDecodeError("NLMSG_ERROR of %d bytes has no error code" % len(payload))
    (error,) = struct.unpack_from("=i", payload, 0)
    orig_seq = None
    text = None
    if len(payload) >= 4 + NLMSG_HDRLEN:
        orig_len, _t, _f, orig_seq, _p = NLMSG_HDR.unpack_from(payload, 4)
        if message.flags & NLM_F_ACK_TLVS:
            tlv_offset = 4 + (NLMSG_HDRLEN if message.flags & NLM_F_CAPPED else align(orig_len))
            if NLMSG_HDRLEN <= orig_len and tlv_offset <= len(payload):
                try:
                    text = Attrs(payload[tlv_offset:]).string(NLMSGERR_ATTR_MSG)
                except NetlinkDecodeError:
                    text = None  # a damaged explanation must not hide the error code itself
    if error > 0:
        raise NetlinkDecodeError("NLMSG_ERROR carries a positive error code %d" % error)
    return -error, text, orig_seq


# ---------------------------------------------------------------------------------------------------------------
# Transport
# ---------------------------------------------------------------------------------------------------------------


class SocketTransport:
    """A real AF_NETLINK socket.

    Blocking, with the receive timeout kept by the kernel (``SO_RCVTIMEO``) rather than by Python: Python's own
    timeout polls before every receive, even one with ``MSG_DONTWAIT``, so draining after an overflow would wait
    the whole timeout. Answers are received into one preallocated buffer (no allocation per datagram).
    ``send`` raises NetlinkError for socket errors; ``recv`` raises ETIMEDOUT as NetlinkError and leaves other
    socket errors (``OSError``) to ``NetlinkSocket``, which maps them for every transport.
    """

    def __init__(self, protocol=NETLINK_GENERIC, rcvbuf=DEFAULT_RCVBUF, sndbuf=DEFAULT_SNDBUF,
                 timeout=DEFAULT_TIMEOUT):
        self.timeout = timeout
        self._buffer = memoryview(bytearray(RECV_SIZE))
        self.sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, protocol)
        try:
            self.rcvbuf = self._set_buffer(socket.SO_RCVBUF, getattr(socket, "SO_RCVBUFFORCE", 33), rcvbuf)
            self.sndbuf = self._set_buffer(socket.SO_SNDBUF, getattr(socket, "SO_SNDBUFFORCE", 32), sndbuf)
            for option in (NETLINK_EXT_ACK, NETLINK_CAP_ACK):
                try:
                    self.sock.setsockopt(SOL_NETLINK, option, 1)
                except OSError:
                    pass  # older kernels: plain ACKs, still correct
            self.sock.bind((0, 0))
            self.port_id = self.sock.getsockname()[0]
            seconds = int(timeout)
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVTIMEO,
                                 struct.pack("@ll", seconds, int((timeout - seconds) * 1000000)))
        except Exception:
            self.sock.close()
            raise

    def _set_buffer(self, option, force_option, size):
        # SO_*BUF is silently capped at net.core.[rw]mem_max (often 208 KiB); the FORCE variant is not, but
        # needs CAP_NET_ADMIN, which IPVS needs anyway. Report what the kernel actually granted (it doubles).
        try:
            self.sock.setsockopt(socket.SOL_SOCKET, force_option, size)
        except OSError:
            try:
                self.sock.setsockopt(socket.SOL_SOCKET, option, size)
            except OSError:
                pass
        return self.sock.getsockopt(socket.SOL_SOCKET, option)

    def send(self, data):
        try:
            sent = self.sock.send(data)
        except OSError as exc:
            raise NetlinkError(exc.errno or errno.EIO, "netlink send failed: %s" % (exc.strerror or exc))
        if sent != len(data):
            raise NetlinkError(errno.EMSGSIZE, "short netlink send (%d of %d bytes)" % (sent, len(data)))

    def recv(self, block=True):
        """One datagram (bytes); None when ``block`` is false and nothing is queued."""
        try:
            size, _ancdata, msg_flags, _address = self.sock.recvmsg_into(
                [self._buffer], 0, 0 if block else _MSG_DONTWAIT)
        except BlockingIOError:  # EAGAIN: nothing queued, or SO_RCVTIMEO expired
            if block:
                raise NetlinkError(errno.ETIMEDOUT, "no answer from the kernel within %g s" % self.timeout)
            return None
        if msg_flags & _MSG_TRUNC:
            raise NetlinkDecodeError("netlink datagram larger than %d bytes was truncated" % RECV_SIZE)
        return self._buffer[:size].tobytes()

    def close(self):
        self.sock.close()


# ---------------------------------------------------------------------------------------------------------------
# Requests, dumps, batches
# ---------------------------------------------------------------------------------------------------------------


class Outcome:
    """What became of one request of a batch.

    ``status`` is ``"ok"`` (acknowledged), ``"error"`` (``error`` holds the NetlinkError), ``"unknown"``
    (sent, but its acknowledgement was lost to a receive-buffer overflow: the kernel did process it) or
    ``"not_sent"`` (an earlier chunk failed). ``replies`` are the non-ACK messages answered to it.
    """

    __slots__ = ("index", "status", "error", "replies")

    def __init__(self, index, status="not_sent", error=None):
        self.index = index
        self.status = status
        self.error = error
        self.replies = []

    def __repr__(self):
        return "Outcome(%d, %s%s)" % (self.index, self.status, ", %s" % self.error if self.error else "")


class NetlinkSocket:
    """Requests over one netlink socket, with sequence numbers tracked per request.

    ``transport`` defaults to a real :class:`SocketTransport`; pass a fake to test without a kernel.
    """

    def __init__(self, transport=None, protocol=NETLINK_GENERIC, rcvbuf=DEFAULT_RCVBUF):
        self.transport = transport if transport is not None else SocketTransport(protocol, rcvbuf=rcvbuf)
        self._seq = int.from_bytes(os.urandom(2), "big") + 1

    # Context manager ---------------------------------------------------------------------------------------
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False

    def close(self):
        if self.transport is not None:
            self.transport.close()
            self.transport = None

    @property
    def port_id(self):
        return getattr(self.transport, "port_id", 0)

    def next_seq(self):
        self._seq = (self._seq % 0xFFFFFFFF) + 1
        return self._seq

    # Single request -----------------------------------------------------------------------------------------
    def request(self, msg_type, payload, flags=0):
        """Send one request with NLM_F_REQUEST|NLM_F_ACK; return its reply messages; raise NetlinkError."""
        outcome = self.batch([(msg_type, payload, flags)], chunk=1)[0]
        if outcome.status == "error":
            raise outcome.error
        if outcome.status != "ok":
            raise NetlinkError(errno.ENOBUFS, "the kernel's answer was lost (receive buffer overflow)")
        return outcome.replies

    # Dump ----------------------------------------------------------------------------------------------------
    def dump(self, msg_type, payload, retries=3):
        """Send one NLM_F_DUMP request; return every multipart message up to NLMSG_DONE.

        A dump the kernel marks inconsistent (NLM_F_DUMP_INTR: the table changed underneath) is retried.
        """
        for _attempt in range(max(1, retries)):
            messages, interrupted = self._dump_once(msg_type, payload)
            if not interrupted:
                return messages
        raise NetlinkError(errno.EINTR, "the dump kept changing underneath (NLM_F_DUMP_INTR)")

    def _dump_once(self, msg_type, payload):
        seq = self.next_seq()
        self.transport.send(encode_message(msg_type, NLM_F_REQUEST | NLM_F_DUMP, seq, self.port_id, payload))
        messages = []
        interrupted = False
        while True:
            try:
                received = self._recv_messages(block=True)
            except OSError:  # only ENOBUFS gets here (see _recv_messages)
                raise NetlinkError(errno.ENOBUFS, "the dump lost messages (netlink receive buffer overflow)")
            for message in received:
                if message.seq != seq:
                    continue  # stale answer to an earlier request
                if message.flags & NLM_F_DUMP_INTR:
                    interrupted = True
                if message.type == NLMSG_DONE:
                    if len(message.payload) >= 4:
                        (code,) = struct.unpack_from("=i", message.payload, 0)
                        if code < 0:
                            raise NetlinkError(-code, "dump failed")
                    return messages, interrupted
                if message.type == NLMSG_ERROR:
                    code, text, _orig = message.error()
                    if code:
                        raise NetlinkError(code, text)
                    continue
                if message.type == NLMSG_OVERRUN:
                    raise NetlinkError(errno.ENOBUFS, "netlink overrun during dump")
                if message.type == NLMSG_NOOP:
                    continue
                messages.append(message)
                if not message.flags & NLM_F_MULTI:
                    return messages, interrupted  # a single-part answer ends the dump

    # Batch ---------------------------------------------------------------------------------------------------
    def batch(self, requests, chunk=DEFAULT_BATCH, stop_on_error=True):
        """Send ``requests`` (``(msg_type, payload, extra_flags)``) packed ``chunk`` per sendmsg.

        Every request has its own sequence number; only the last request of each sendmsg asks for an ACK
        (NLM_F_ACK). The kernel processes the messages of a sendmsg in order and answers a failed one with an
        error whether or not it asked for an ACK, so once the last request is acknowledged every earlier one
        without an error succeeded - one answer per sendmsg instead of one per request. The kernel processes
        *every* message of a sendmsg even when one fails (netlink_rcv_skb() continues), so within a failing chunk
        later requests may well have been applied; their outcomes say so. With ``stop_on_error`` no further chunk
        is sent.

        A receive-buffer overflow (ENOBUFS) loses answers, not requests: what could still be read is reported,
        the rest of the chunk is marked ``"unknown"`` and no further chunk is sent. A socket failure ends the
        batch with NetlinkBatchError, which carries the outcomes so far.
        Returns one :class:`Outcome` per request, in order.
        """
        requests = list(requests)
        outcomes = [Outcome(index) for index in range(len(requests))]
        chunk = max(1, int(chunk))
        start = 0
        while start < len(requests):
            end = start
            size = 0
            frames = []
            by_seq = {}
            last = None
            while end < len(requests) and end - start < chunk:
                msg_type, payload, flags = _request_tuple(requests[end])
                seq = self.next_seq()
                frame = encode_message(msg_type, NLM_F_REQUEST | flags, seq, self.port_id, payload)
                if frames and size + len(frame) > MAX_BATCH_BYTES:
                    break
                frames.append(frame)
                size += len(frame)
                by_seq[seq] = outcomes[end]
                last = (msg_type, payload, flags, seq)
                end += 1
            msg_type, payload, flags, last_seq = last
            frames[-1] = encode_message(msg_type, NLM_F_REQUEST | NLM_F_ACK | flags, last_seq, self.port_id, payload)
            try:
                self.transport.send(b"".join(frames))
            except NetlinkError as exc:
                raise NetlinkBatchError(exc, outcomes)
            for outcome in by_seq.values():
                outcome.status = "unknown"
            try:
                lost = self._collect_acks(by_seq, last_seq)
            except NetlinkError as exc:
                raise NetlinkBatchError(exc, outcomes)
            failed = any(outcome.status == "error" for outcome in by_seq.values())
            if lost or (failed and stop_on_error):
                break
            start = end
        return outcomes

    def _collect_acks(self, by_seq, last_seq):
        """Read the answers to one sendmsg until ``last_seq`` is answered; return True if answers were lost."""
        block = True
        overflow = False
        done = False
        while not done:
            try:
                messages = self._recv_messages(block=block)
            except OSError:  # only ENOBUFS gets here (see _recv_messages)
                # Some answers were dropped. Everything the kernel will ever send is queued already (it ran the
                # requests inside our sendmsg), so drain without blocking and leave the rest "unknown".
                overflow = True
                block = False
                continue
            if messages is None:
                break  # drained after an overflow
            for message in messages:
                outcome = by_seq.get(message.seq)
                if outcome is None or outcome.status != "unknown":
                    continue
                if message.type == NLMSG_ERROR:
                    code, text, _orig = message.error()
                    if code:
                        outcome.status = "error"
                        outcome.error = NetlinkError(code, text, outcome.index)
                    else:
                        outcome.status = "ok"
                    done = done or message.seq == last_seq
                elif message.type in (NLMSG_NOOP, NLMSG_DONE, NLMSG_OVERRUN):
                    continue
                else:
                    outcome.replies.append(message)
        if done and not overflow:
            # The last request is answered: every earlier one without an error succeeded.
            for outcome in by_seq.values():
                if outcome.status == "unknown":
                    outcome.status = "ok"
        return overflow or not done

    def _recv_messages(self, block=True):
        """The messages of one datagram (None: nothing queued and ``block`` false). A receive-buffer overflow stays
        ``OSError(ENOBUFS)`` (the caller accounts for the lost answers); any other socket error, whatever the
        transport, becomes NetlinkError."""
        try:
            data = self.transport.recv(block=block)
        except OSError as exc:
            if exc.errno == errno.ENOBUFS:
                raise
            raise NetlinkError(exc.errno or errno.EIO, "netlink receive failed: %s" % (exc.strerror or exc))
        if data is None:
            return None
        return parse_messages(data)

    # Generic netlink controller -------------------------------------------------------------------------------
    def resolve_family(self, name):
        """Ask the controller for a generic netlink family; return ``{"id", "version", "hdrsize", "maxattr"}``.

        Raises NetlinkError(ENOENT) when the family does not exist (the kernel first tries to load the module
        aliased ``net-pf-16-proto-16-family-<name>``).
        """
        payload = genl_payload(CTRL_CMD_GETFAMILY, 1, [nla_nulstring(CTRL_ATTR_FAMILY_NAME, name)])
        for message in self.request(GENL_ID_CTRL, payload):
            _cmd, _version, attrs = message.genl()
            family_id = attrs.u16(CTRL_ATTR_FAMILY_ID)
            if family_id is None:
                continue
            return {
                "id": family_id,
                "name": attrs.string(CTRL_ATTR_FAMILY_NAME, name),
                "version": attrs.u32(CTRL_ATTR_VERSION, 0),
                "hdrsize": attrs.u32(CTRL_ATTR_HDRSIZE, 0),
                "maxattr": attrs.u32(CTRL_ATTR_MAXATTR, 0),
            }
        raise NetlinkError(errno.ENOENT, "controller answered without a family id for %r" % name)


def _request_tuple(request):
    if len(request) == 2:
        return request[0], request[1], 0
    msg_type, payload, flags = request
    return msg_type, payload, flags or 0
