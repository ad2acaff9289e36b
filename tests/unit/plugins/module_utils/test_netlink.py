# -*- coding: utf-8 -*-
# Copyright (c) 2026, lvs.cluster contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Unit tests of _netlink: attribute codec, message codec, requests, dumps, batches, hostile input."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import errno
import struct
import sys

import pytest
from hypothesis import given, settings, strategies as st, HealthCheck

from ansible_collections.lvs.cluster.plugins.module_utils import _netlink as nl

little_endian = pytest.mark.skipif(sys.byteorder != "little", reason="expected bytes are written little-endian")


# ---------------------------------------------------------------------------------------------------------------
# A scripted transport: answers each request the way netlink_rcv_skb() does
# ---------------------------------------------------------------------------------------------------------------


class ScriptedTransport:
    """Process every message of a send like the kernel: call ``handler(message)`` -> (replies, errno).

    ``replies`` are (type, flags, payload) tuples sent before the ACK; an ACK (or error) follows when the
    request asked for one or failed. Each answer is its own datagram unless ``coalesce``.
    ``capacity`` simulates the receive buffer: datagrams beyond it are dropped and the next recv raises
    ENOBUFS (as the kernel sets sk_err on overrun).
    """

    port_id = 4242

    def __init__(self, handler, capacity=None):
        self.handler = handler
        self.capacity = capacity
        self.queue = []
        self.sent = []
        self.overflowed = False
        self.closed = False
        self.answers = 0

    def send(self, data):
        self.sent.append(bytes(data))
        for message in nl.parse_messages(data):
            replies, code = self.handler(message)
            for msg_type, flags, payload in replies:
                self._queue(nl.encode_message(msg_type, flags, message.seq, self.port_id, payload))
            if message.flags & nl.NLM_F_ACK or code:
                self._queue(ack(message, code))

    def _queue(self, datagram):
        self.answers += 1
        if self.capacity is not None and len(self.queue) >= self.capacity:
            self.overflowed = True
            return
        self.queue.append(datagram)

    def recv(self, block=True):
        if self.overflowed:
            self.overflowed = False
            raise OSError(errno.ENOBUFS, "No buffer space available")
        if not self.queue:
            if block:
                raise AssertionError("recv would block forever")
            return None
        return self.queue.pop(0)

    def close(self):
        self.closed = True


def ack(request, code=0, text=None, capped=True):
    """An NLMSG_ERROR answering ``request`` (capped: only its header, as with NETLINK_CAP_ACK)."""
    original = nl.NLMSG_HDR.pack(nl.NLMSG_HDRLEN + len(request.payload), request.type, request.flags,
                                 request.seq, request.pid)
    flags = nl.NLM_F_CAPPED if capped else 0
    if not capped:
        original += request.payload
    payload = struct.pack("=i", -code) + original
    if text:
        flags |= nl.NLM_F_ACK_TLVS
        padding = b"\0" * (nl.align(len(payload)) - len(payload))
        payload = payload + padding + nl.nla_nulstring(nl.NLMSGERR_ATTR_MSG, text)
    return nl.encode_message(nl.NLMSG_ERROR, flags, request.seq, ScriptedTransport.port_id, payload)


# ---------------------------------------------------------------------------------------------------------------
# Attribute encoding: byte layouts from struct nlattr
# ---------------------------------------------------------------------------------------------------------------


@little_endian
def test_attribute_layouts():
    assert nl.nla_u8(1, 0x7F) == b"\x05\x00\x01\x00\x7f\x00\x00\x00"
    assert nl.nla_u16(2, 0x1234) == b"\x06\x00\x02\x00\x34\x12\x00\x00"
    assert nl.nla_u32(3, 0x01020304) == b"\x08\x00\x03\x00\x04\x03\x02\x01"
    assert nl.nla_u64(4, 1) == b"\x0c\x00\x04\x00\x01\x00\x00\x00\x00\x00\x00\x00"
    assert nl.nla_be16(5, 80) == b"\x06\x00\x05\x00\x00\x50\x00\x00"
    assert nl.nla_be32(6, 0xFFFFFF00) == b"\x08\x00\x06\x00\xff\xff\xff\x00"
    assert nl.nla_nulstring(7, "wlc") == b"\x08\x00\x07\x00wlc\x00"
    assert nl.nla_string(7, "wlc") == b"\x07\x00\x07\x00wlc\x00"
    assert nl.nla_binary(8, b"") == b"\x04\x00\x08\x00"
    assert nl.nla_nested(1, [nl.nla_u8(1, 1)]) == b"\x0c\x00\x01\x80" + nl.nla_u8(1, 1)
    assert nl.nla_nested(1, [nl.nla_u8(1, 1)], flag=False) == b"\x0c\x00\x01\x00" + nl.nla_u8(1, 1)


@little_endian
def test_message_and_genl_layout():
    payload = nl.genl_payload(nl.CTRL_CMD_GETFAMILY, 1, [nl.nla_nulstring(nl.CTRL_ATTR_FAMILY_NAME, "IPVS")])
    assert payload == b"\x03\x01\x00\x00" + b"\x09\x00\x02\x00IPVS\x00\x00\x00\x00"
    frame = nl.encode_message(nl.GENL_ID_CTRL, nl.NLM_F_REQUEST | nl.NLM_F_ACK, 7, 99, payload)
    assert frame[:16] == struct.pack("<IHHII", 32, 0x10, 5, 7, 99)
    assert len(frame) == 32


def test_attrs_accessors_roundtrip():
    data = b"".join([
        nl.nla_u8(1, 200), nl.nla_u16(2, 65535), nl.nla_u32(3, 0xDEADBEEF), nl.nla_u64(4, 2 ** 64 - 1),
        nl.nla_be16(5, 8080), nl.nla_be32(6, 0xC0000201), nl.nla_nulstring(7, "eth0"), nl.nla_binary(8, b"\x01\x02\x03"),
        nl.nla_nested(9, [nl.nla_u32(1, 5), nl.nla_nested(2, [nl.nla_u16(1, 6)])]),
    ])
    attrs = nl.Attrs(data)
    assert attrs.u8(1) == 200 and attrs.u16(2) == 65535 and attrs.u32(3) == 0xDEADBEEF
    assert attrs.u64(4) == 2 ** 64 - 1 and attrs.be16(5) == 8080 and attrs.be32(6) == 0xC0000201
    assert attrs.string(7) == "eth0" and attrs.binary(8) == b"\x01\x02\x03"
    assert attrs.nested(9).u32(1) == 5 and attrs.nested(9).nested(2).u16(1) == 6
    assert attrs.uint(1) == 200 and attrs.uint(4) == 2 ** 64 - 1
    assert attrs.u32(99) is None and attrs.u32(99, 7) == 7
    assert 9 in attrs and len(attrs) == 9
    assert nl.walk(data)[8] == (9, [(1, struct.pack("=I", 5)), (2, [(1, struct.pack("=H", 6))])])


def test_wrong_width_is_a_decode_error():
    attrs = nl.Attrs(nl.nla_u16(1, 5))
    with pytest.raises(nl.NetlinkDecodeError):
        attrs.u32(1)
    with pytest.raises(nl.NetlinkDecodeError):
        nl.Attrs(nl.nla_binary(1, b"\x01\x02\x03")).uint(1)
    with pytest.raises(nl.NetlinkDecodeError):
        nl.Attrs(nl.nla_binary(1, b"\xff\xfe")).string(1)


def test_last_attribute_without_padding_is_accepted():
    data = nl.nla_u8(1, 9)[:5]  # 5-byte attribute, padding missing at the end of the buffer
    assert nl.Attrs(data).u8(1) == 9


@pytest.mark.parametrize("data", [
    b"\x03\x00\x01\x00",  # length shorter than the header
    b"\x00\x00\x01\x00",  # zero length: would loop forever if trusted
    b"\x10\x00\x01\x00\x00\x00",  # length beyond the buffer
    b"\x08\x00\x01\x00\x00\x00\x00\x00\x01",  # stray byte
])
def test_malformed_attributes(data):
    with pytest.raises(nl.NetlinkDecodeError):
        nl.Attrs(data)


@pytest.mark.parametrize("data", [
    b"\x00" * 15,
    struct.pack("=IHHII", 8, 1, 0, 0, 0),
    struct.pack("=IHHII", 64, 1, 0, 0, 0),
])
def test_malformed_messages(data):
    with pytest.raises(nl.NetlinkDecodeError):
        nl.parse_messages(data)


def test_deep_nesting_is_bounded():
    data = nl.nla_u8(1, 1)
    for _unused in range(4000):
        data = nl.nla_nested(1, [data])
    with pytest.raises(nl.NetlinkDecodeError):
        nl.walk(data, max_depth=64)
    assert len(nl.Attrs(data)) == 1  # one level only


def test_netlink_error_str():
    error = nl.NetlinkError(errno.EEXIST, None, 3)
    assert error.errno == errno.EEXIST and error.request_index == 3
    assert str(error) == "request #3: File exists (EEXIST, errno 17)"
    error = nl.NetlinkError(-errno.EINVAL, "bad attribute")
    assert str(error) == "Invalid argument: bad attribute (EINVAL, errno 22)"


def test_error_message_with_extended_ack():
    request = nl.Message(0x20, nl.NLM_F_REQUEST | nl.NLM_F_ACK, 5, 4242, b"\x01\x01\x00\x00")
    for capped in (True, False):
        message = nl.parse_messages(ack(request, errno.EINVAL, "Attribute failed policy validation", capped))[0]
        assert message.error() == (errno.EINVAL, "Attribute failed policy validation", 5)


# ---------------------------------------------------------------------------------------------------------------
# Requests and family lookup
# ---------------------------------------------------------------------------------------------------------------


def controller(families):
    def handler(message):
        if message.type != nl.GENL_ID_CTRL:
            return [], errno.ENOENT
        _cmd, _version, attrs = message.genl()
        name = attrs.string(nl.CTRL_ATTR_FAMILY_NAME)
        if name not in families:
            return [], errno.ENOENT
        payload = nl.genl_payload(nl.CTRL_CMD_NEWFAMILY, 2, [
            nl.nla_nulstring(nl.CTRL_ATTR_FAMILY_NAME, name), nl.nla_u16(nl.CTRL_ATTR_FAMILY_ID, families[name]),
            nl.nla_u32(nl.CTRL_ATTR_VERSION, 1), nl.nla_u32(nl.CTRL_ATTR_HDRSIZE, 0),
            nl.nla_u32(nl.CTRL_ATTR_MAXATTR, 6)])
        return [(nl.GENL_ID_CTRL, 0, payload)], 0
    return handler


def test_resolve_family():
    transport = ScriptedTransport(controller({"IPVS": 0x23}))
    with nl.NetlinkSocket(transport) as sock:
        family = sock.resolve_family("IPVS")
        assert family == {"id": 0x23, "name": "IPVS", "version": 1, "hdrsize": 0, "maxattr": 6}
        with pytest.raises(nl.NetlinkError) as info:
            sock.resolve_family("NOPE")
        assert info.value.errno == errno.ENOENT
    assert transport.closed
    request = nl.parse_messages(transport.sent[0])[0]
    assert request.flags == nl.NLM_F_REQUEST | nl.NLM_F_ACK and request.pid == 4242


def test_stale_answers_are_ignored():
    transport = ScriptedTransport(controller({"IPVS": 0x23}))
    sock = nl.NetlinkSocket(transport)
    stale = nl.Message(nl.GENL_ID_CTRL, nl.NLM_F_REQUEST, 1, 0, b"")
    transport.queue.append(ack(stale, errno.EPERM))
    assert sock.resolve_family("IPVS")["id"] == 0x23


# ---------------------------------------------------------------------------------------------------------------
# Dumps
# ---------------------------------------------------------------------------------------------------------------


class DumpTransport(ScriptedTransport):
    """Answer a dump with ``count`` multipart messages, ``per_datagram`` per datagram, then NLMSG_DONE."""

    def __init__(self, count, per_datagram=3, done_error=0, interrupted_times=0):
        super(DumpTransport, self).__init__(None)
        self.count = count
        self.per_datagram = per_datagram
        self.done_error = done_error
        self.interrupted_times = interrupted_times

    def send(self, data):
        self.sent.append(bytes(data))
        (request,) = nl.parse_messages(data)
        assert request.flags & nl.NLM_F_DUMP == nl.NLM_F_DUMP
        flags = nl.NLM_F_MULTI
        if self.interrupted_times:
            self.interrupted_times -= 1
            flags |= nl.NLM_F_DUMP_INTR
        frames = [nl.encode_message(0x23, flags, request.seq, self.port_id,
                                    nl.genl_payload(1, 1, [nl.nla_u32(1, index)])) for index in range(self.count)]
        for start in range(0, len(frames), self.per_datagram):
            self.queue.append(b"".join(frames[start:start + self.per_datagram]))
        self.queue.append(nl.encode_message(nl.NLMSG_DONE, nl.NLM_F_MULTI, request.seq, self.port_id,
                                            struct.pack("=i", -self.done_error)))


def test_dump_multipart_until_done():
    sock = nl.NetlinkSocket(DumpTransport(10, per_datagram=4))
    messages = sock.dump(0x23, nl.genl_payload(4, 1))
    assert [message.genl()[2].u32(1) for message in messages] == list(range(10))


def test_dump_error_in_done():
    sock = nl.NetlinkSocket(DumpTransport(2, done_error=errno.EMSGSIZE))
    with pytest.raises(nl.NetlinkError) as info:
        sock.dump(0x23, nl.genl_payload(4, 1))
    assert info.value.errno == errno.EMSGSIZE


def test_dump_interrupted_is_retried():
    transport = DumpTransport(3, interrupted_times=1)
    messages = nl.NetlinkSocket(transport).dump(0x23, nl.genl_payload(4, 1))
    assert len(messages) == 3 and len(transport.sent) == 2
    with pytest.raises(nl.NetlinkError):
        nl.NetlinkSocket(DumpTransport(3, interrupted_times=5)).dump(0x23, nl.genl_payload(4, 1), retries=2)


def test_dump_refused_at_start():
    transport = ScriptedTransport(lambda message: ([], errno.EPERM))
    with pytest.raises(nl.NetlinkError) as info:
        nl.NetlinkSocket(transport).dump(0x23, nl.genl_payload(4, 1))
    assert info.value.errno == errno.EPERM


# ---------------------------------------------------------------------------------------------------------------
# Batches
# ---------------------------------------------------------------------------------------------------------------


def failing_at(*indexes, code=errno.EEXIST):
    """A handler failing the requests whose first u32 attribute is in ``indexes``."""
    def handler(message):
        index = message.genl()[2].u32(1)
        return [], (code if index in indexes else 0)
    return handler


def requests(count):
    return [(0x23, nl.genl_payload(1, 1, [nl.nla_u32(1, index)]), 0) for index in range(count)]


def test_batch_packs_chunks_and_tracks_sequence_numbers():
    transport = ScriptedTransport(failing_at())
    outcomes = nl.NetlinkSocket(transport).batch(requests(250), chunk=100)
    assert [outcome.status for outcome in outcomes] == ["ok"] * 250
    assert [len(nl.parse_messages(data)) for data in transport.sent] == [100, 100, 50]
    seqs = [message.seq for data in transport.sent for message in nl.parse_messages(data)]
    assert len(set(seqs)) == 250
    # Only the last request of each sendmsg asks for an ACK: one answer per sendmsg when all succeed.
    for data in transport.sent:
        flags = [message.flags for message in nl.parse_messages(data)]
        assert flags == [nl.NLM_F_REQUEST] * (len(flags) - 1) + [nl.NLM_F_REQUEST | nl.NLM_F_ACK]
    assert transport.answers == 3


def test_batch_error_in_the_middle():
    transport = ScriptedTransport(failing_at(5))
    outcomes = nl.NetlinkSocket(transport).batch(requests(12), chunk=4)
    statuses = [outcome.status for outcome in outcomes]
    # chunk [0..3] ok; chunk [4..7]: the kernel processes all four, #5 fails; chunk [8..11] is never sent
    assert statuses == ["ok"] * 5 + ["error"] + ["ok"] * 2 + ["not_sent"] * 4
    assert outcomes[5].error.errno == errno.EEXIST and outcomes[5].error.request_index == 5
    assert len(transport.sent) == 2


def test_batch_continue_on_error():
    outcomes = nl.NetlinkSocket(ScriptedTransport(failing_at(1, 6))).batch(requests(8), chunk=3, stop_on_error=False)
    assert [outcome.status for outcome in outcomes] == ["ok", "error", "ok", "ok", "ok", "ok", "error", "ok"]


def test_batch_receive_buffer_overflow():
    # Every request fails: room for 30 error answers, the other 20 of a 50-request sendmsg (and the last one's
    # answer) are lost although the kernel ran them all; nothing after that sendmsg is sent.
    transport = ScriptedTransport(failing_at(*range(120)), capacity=30)
    outcomes = nl.NetlinkSocket(transport).batch(requests(120), chunk=50, stop_on_error=False)
    statuses = [outcome.status for outcome in outcomes]
    assert statuses == ["error"] * 30 + ["unknown"] * 20 + ["not_sent"] * 70
    assert len(transport.sent) == 1


def test_batch_lost_final_ack_leaves_the_whole_chunk_unknown():
    # The only answer of a successful sendmsg is lost: none of its requests can be called applied.
    transport = ScriptedTransport(failing_at(), capacity=0)
    outcomes = nl.NetlinkSocket(transport).batch(requests(10), chunk=4)
    assert [outcome.status for outcome in outcomes] == ["unknown"] * 4 + ["not_sent"] * 6


def test_batch_socket_failure_carries_the_outcomes_so_far():
    class FailingSecondSend(ScriptedTransport):
        def send(self, data):
            if self.sent:
                raise nl.NetlinkError(errno.EPERM, "netlink send failed")
            ScriptedTransport.send(self, data)

    with pytest.raises(nl.NetlinkBatchError) as info:
        nl.NetlinkSocket(FailingSecondSend(failing_at())).batch(requests(8), chunk=4)
    assert info.value.error.errno == errno.EPERM
    assert [outcome.status for outcome in info.value.outcomes] == ["ok"] * 4 + ["not_sent"] * 4


@pytest.mark.parametrize("code", [errno.ENOBUFS, errno.ECONNRESET])
def test_socket_errors_of_any_transport_become_netlink_errors(code):
    class Broken(ScriptedTransport):
        def recv(self, block=True):
            raise OSError(code, "broken")

    with pytest.raises(nl.NetlinkError) as dumped:
        nl.NetlinkSocket(Broken(failing_at())).dump(0x23, requests(1)[0][1])
    assert dumped.value.errno == code
    if code != errno.ENOBUFS:  # an overflow in a batch is accounted for (unknown outcomes), not raised
        with pytest.raises(nl.NetlinkBatchError) as batched:
            nl.NetlinkSocket(Broken(failing_at())).batch(requests(3), chunk=3)
        assert batched.value.error.errno == code
        assert [outcome.status for outcome in batched.value.outcomes] == ["unknown"] * 3


def test_request_raises_the_mapped_error():
    transport = ScriptedTransport(failing_at(0, code=errno.ESRCH))
    with pytest.raises(nl.NetlinkError) as info:
        nl.NetlinkSocket(transport).request(0x23, requests(1)[0][1])
    assert info.value.errno == errno.ESRCH and info.value.request_index == 0


def test_batch_bounded_by_bytes():
    big = [(0x23, nl.genl_payload(1, 1, [nl.nla_u32(1, index), nl.nla_binary(2, b"x" * 4000)]), 0)
           for index in range(100)]
    transport = ScriptedTransport(failing_at())
    nl.NetlinkSocket(transport).batch(big, chunk=100)
    assert all(len(data) <= nl.MAX_BATCH_BYTES for data in transport.sent) and len(transport.sent) > 1


# ---------------------------------------------------------------------------------------------------------------
# Fuzzing: hostile bytes give NetlinkDecodeError, nothing else, in bounded time
# ---------------------------------------------------------------------------------------------------------------


def _decode_everything(data):
    for message in nl.parse_messages(data):
        if message.type == nl.NLMSG_ERROR:
            message.error()
        else:
            nl.walk(message.payload[4:], max_depth=32)
            _cmd, _version, attrs = message.genl()
            for attr_type, payload in attrs.items():
                for accessor in (attrs.u8, attrs.u16, attrs.u32, attrs.u64, attrs.uint, attrs.string):
                    try:
                        accessor(attr_type)
                    except nl.NetlinkDecodeError:
                        pass
                attrs.nested(attr_type)


@settings(deadline=500, max_examples=400, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=512))
def test_fuzz_random_bytes(data):
    try:
        _decode_everything(data)
    except nl.NetlinkDecodeError:
        pass


def _sample_datagram():
    inner = nl.nla_nested(1, [nl.nla_u16(1, 2), nl.nla_binary(3, b"\xc0\x00\x02\x0a" + b"\0" * 12),
                              nl.nla_nested(10, [nl.nla_u32(1, 5), nl.nla_u64(4, 7)], flag=False)])
    frame = nl.encode_message(0x23, nl.NLM_F_MULTI, 9, 4242, nl.genl_payload(1, 1, [inner]))
    request = nl.Message(0x23, nl.NLM_F_REQUEST | nl.NLM_F_ACK, 9, 4242, b"\x01\x01\x00\x00")
    return frame + ack(request, errno.EINVAL, "bad", capped=False)


@settings(deadline=500, max_examples=400)
@given(st.data())
def test_fuzz_mutated_real_messages(data):
    sample = bytearray(_sample_datagram())
    cut = data.draw(st.integers(0, len(sample)))
    sample = sample[:cut]
    for _unused in range(data.draw(st.integers(0, 6))):
        if not sample:
            break
        position = data.draw(st.integers(0, len(sample) - 1))
        sample[position] = data.draw(st.integers(0, 255))
    try:
        _decode_everything(bytes(sample))
    except nl.NetlinkDecodeError:
        pass


@settings(deadline=500, max_examples=200)
@given(st.lists(st.tuples(st.integers(0, 0xFFFF), st.integers(0, 0xFFFF)), max_size=40))
def test_fuzz_bogus_lengths(headers):
    data = b"".join(struct.pack("=HH", length, attr_type) for length, attr_type in headers)
    try:
        nl.walk(data, max_depth=8)
    except nl.NetlinkDecodeError:
        pass
