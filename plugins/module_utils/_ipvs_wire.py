# -*- coding: utf-8 -*-
# Copyright (c) 2026, lvs.cluster contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""IPVS generic netlink: constants of ``include/uapi/linux/ip_vs.h`` and model <-> attribute conversion.

Private to the lvs.cluster collection: no stability promise.

Byte order, as the kernel reads and writes each attribute (``net/netfilter/ipvs/ip_vs_ctl.c``):

* ports (service, real, tunnel) are ``__be16`` (network order);
* ``IPVS_SVC_ATTR_NETMASK`` is copied raw into ``svc->netmask``: for IPv4 a network-order mask
  (255.255.255.0 is ``ff ff ff 00``), for IPv6 the prefix length as a *host-order* u32 (the kernel checks
  1..128 on that value);
* addresses are ``union nf_inet_addr`` (16 bytes; IPv4 in the first 4); the multicast group of a sync daemon
  is a 4-byte IPv4 address or a 16-byte IPv6 address;
* ``IPVS_SVC_ATTR_FLAGS`` is ``struct ip_vs_flags {u32 flags; u32 mask;}`` in host order;
* everything else is a host-order integer of the width named by the policy.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import ipaddress
import socket
from functools import lru_cache
import struct

from ansible_collections.lvs.cluster.plugins.module_utils._netlink import (
    NetlinkDecodeError,
    genl_payload,
    nla_be16,
    nla_be32,
    nla_binary,
    nla_nested,
    nla_nulstring,
    nla_u8,
    nla_u16,
    nla_u32,
)
from ansible_collections.lvs.cluster.plugins.module_utils._ipvs_model import (
    FULL_PREFIX,
    Daemon,
    Real,
    Service,
    ServiceKey,
    Stats,
    Timeouts,
)

IPVS_GENL_NAME = "IPVS"
IPVS_GENL_VERSION = 0x1
IP_VS_VERSION_CODE = 0x010201

# Virtual service flags
IP_VS_SVC_F_PERSISTENT = 0x0001
IP_VS_SVC_F_HASHED = 0x0002
IP_VS_SVC_F_ONEPACKET = 0x0004
IP_VS_SVC_F_SCHED1 = 0x0008
IP_VS_SVC_F_SCHED2 = 0x0010
IP_VS_SVC_F_SCHED3 = 0x0020
IP_VS_SVC_F_SCHED_SH_FALLBACK = IP_VS_SVC_F_SCHED1
IP_VS_SVC_F_SCHED_SH_PORT = IP_VS_SVC_F_SCHED2
IP_VS_SVC_F_SCHED_MH_FALLBACK = IP_VS_SVC_F_SCHED1  # include/net/ip_vs.h
IP_VS_SVC_F_SCHED_MH_PORT = IP_VS_SVC_F_SCHED2

# Destination flags
IP_VS_DEST_F_AVAILABLE = 0x0001
IP_VS_DEST_F_OVERLOAD = 0x0002

# Sync daemon states
IP_VS_STATE_NONE = 0x0000
IP_VS_STATE_MASTER = 0x0001
IP_VS_STATE_BACKUP = 0x0002

# Connection flags: forwarding methods
IP_VS_CONN_F_FWD_MASK = 0x0007
IP_VS_CONN_F_MASQ = 0x0000
IP_VS_CONN_F_LOCALNODE = 0x0001
IP_VS_CONN_F_TUNNEL = 0x0002
IP_VS_CONN_F_DROUTE = 0x0003
IP_VS_CONN_F_BYPASS = 0x0004
IP_VS_CONN_F_ONE_PACKET = 0x2000

IP_VS_SCHEDNAME_MAXLEN = 16
IP_VS_PENAME_MAXLEN = 16
IP_VS_IFNAME_MAXLEN = 16
IP_VS_PEDATA_MAXLEN = 255

# Tunnel types and encapsulation flags
IP_VS_CONN_F_TUNNEL_TYPE_IPIP = 0
IP_VS_CONN_F_TUNNEL_TYPE_GUE = 1
IP_VS_CONN_F_TUNNEL_TYPE_GRE = 2
IP_VS_TUNNEL_ENCAP_FLAG_NOCSUM = 0
IP_VS_TUNNEL_ENCAP_FLAG_CSUM = 1 << 0
IP_VS_TUNNEL_ENCAP_FLAG_REMCSUM = 1 << 1

# Commands
IPVS_CMD_UNSPEC = 0
IPVS_CMD_NEW_SERVICE = 1
IPVS_CMD_SET_SERVICE = 2
IPVS_CMD_DEL_SERVICE = 3
IPVS_CMD_GET_SERVICE = 4
IPVS_CMD_NEW_DEST = 5
IPVS_CMD_SET_DEST = 6
IPVS_CMD_DEL_DEST = 7
IPVS_CMD_GET_DEST = 8
IPVS_CMD_NEW_DAEMON = 9
IPVS_CMD_DEL_DAEMON = 10
IPVS_CMD_GET_DAEMON = 11
IPVS_CMD_SET_CONFIG = 12
IPVS_CMD_GET_CONFIG = 13
IPVS_CMD_SET_INFO = 14
IPVS_CMD_GET_INFO = 15
IPVS_CMD_ZERO = 16
IPVS_CMD_FLUSH = 17

COMMAND_NAMES = {
    IPVS_CMD_NEW_SERVICE: "NEW_SERVICE", IPVS_CMD_SET_SERVICE: "SET_SERVICE", IPVS_CMD_DEL_SERVICE: "DEL_SERVICE",
    IPVS_CMD_GET_SERVICE: "GET_SERVICE", IPVS_CMD_NEW_DEST: "NEW_DEST", IPVS_CMD_SET_DEST: "SET_DEST",
    IPVS_CMD_DEL_DEST: "DEL_DEST", IPVS_CMD_GET_DEST: "GET_DEST", IPVS_CMD_NEW_DAEMON: "NEW_DAEMON",
    IPVS_CMD_DEL_DAEMON: "DEL_DAEMON", IPVS_CMD_GET_DAEMON: "GET_DAEMON", IPVS_CMD_SET_CONFIG: "SET_CONFIG",
    IPVS_CMD_GET_CONFIG: "GET_CONFIG", IPVS_CMD_SET_INFO: "SET_INFO", IPVS_CMD_GET_INFO: "GET_INFO",
    IPVS_CMD_ZERO: "ZERO", IPVS_CMD_FLUSH: "FLUSH",
}

# First-level attributes
IPVS_CMD_ATTR_SERVICE = 1
IPVS_CMD_ATTR_DEST = 2
IPVS_CMD_ATTR_DAEMON = 3
IPVS_CMD_ATTR_TIMEOUT_TCP = 4
IPVS_CMD_ATTR_TIMEOUT_TCP_FIN = 5
IPVS_CMD_ATTR_TIMEOUT_UDP = 6

# Service attributes (nested in IPVS_CMD_ATTR_SERVICE)
IPVS_SVC_ATTR_AF = 1
IPVS_SVC_ATTR_PROTOCOL = 2
IPVS_SVC_ATTR_ADDR = 3
IPVS_SVC_ATTR_PORT = 4
IPVS_SVC_ATTR_FWMARK = 5
IPVS_SVC_ATTR_SCHED_NAME = 6
IPVS_SVC_ATTR_FLAGS = 7
IPVS_SVC_ATTR_TIMEOUT = 8
IPVS_SVC_ATTR_NETMASK = 9
IPVS_SVC_ATTR_STATS = 10
IPVS_SVC_ATTR_PE_NAME = 11
IPVS_SVC_ATTR_STATS64 = 12

# Destination attributes (nested in IPVS_CMD_ATTR_DEST)
IPVS_DEST_ATTR_ADDR = 1
IPVS_DEST_ATTR_PORT = 2
IPVS_DEST_ATTR_FWD_METHOD = 3
IPVS_DEST_ATTR_WEIGHT = 4
IPVS_DEST_ATTR_U_THRESH = 5
IPVS_DEST_ATTR_L_THRESH = 6
IPVS_DEST_ATTR_ACTIVE_CONNS = 7
IPVS_DEST_ATTR_INACT_CONNS = 8
IPVS_DEST_ATTR_PERSIST_CONNS = 9
IPVS_DEST_ATTR_STATS = 10
IPVS_DEST_ATTR_ADDR_FAMILY = 11
IPVS_DEST_ATTR_STATS64 = 12
IPVS_DEST_ATTR_TUN_TYPE = 13
IPVS_DEST_ATTR_TUN_PORT = 14
IPVS_DEST_ATTR_TUN_FLAGS = 15

# Sync daemon attributes (nested in IPVS_CMD_ATTR_DAEMON)
IPVS_DAEMON_ATTR_STATE = 1
IPVS_DAEMON_ATTR_MCAST_IFN = 2
IPVS_DAEMON_ATTR_SYNC_ID = 3
IPVS_DAEMON_ATTR_SYNC_MAXLEN = 4
IPVS_DAEMON_ATTR_MCAST_GROUP = 5
IPVS_DAEMON_ATTR_MCAST_GROUP6 = 6
IPVS_DAEMON_ATTR_MCAST_PORT = 7
IPVS_DAEMON_ATTR_MCAST_TTL = 8

# Statistics attributes (nested in *_ATTR_STATS and *_ATTR_STATS64)
IPVS_STATS_ATTR_CONNS = 1
IPVS_STATS_ATTR_INPKTS = 2
IPVS_STATS_ATTR_OUTPKTS = 3
IPVS_STATS_ATTR_INBYTES = 4
IPVS_STATS_ATTR_OUTBYTES = 5
IPVS_STATS_ATTR_CPS = 6
IPVS_STATS_ATTR_INPPS = 7
IPVS_STATS_ATTR_OUTPPS = 8
IPVS_STATS_ATTR_INBPS = 9
IPVS_STATS_ATTR_OUTBPS = 10
IPVS_STATS_ATTR_PAD = 11

# GET_INFO reply attributes (top level of the SET_INFO reply)
IPVS_INFO_ATTR_VERSION = 1
IPVS_INFO_ATTR_CONN_TAB_SIZE = 2

STATS_FIELDS = (
    (IPVS_STATS_ATTR_CONNS, "conns"), (IPVS_STATS_ATTR_INPKTS, "inpkts"), (IPVS_STATS_ATTR_OUTPKTS, "outpkts"),
    (IPVS_STATS_ATTR_INBYTES, "inbytes"), (IPVS_STATS_ATTR_OUTBYTES, "outbytes"), (IPVS_STATS_ATTR_CPS, "cps"),
    (IPVS_STATS_ATTR_INPPS, "inpps"), (IPVS_STATS_ATTR_OUTPPS, "outpps"), (IPVS_STATS_ATTR_INBPS, "inbps"),
    (IPVS_STATS_ATTR_OUTBPS, "outbps"),
)

# Model names <-> kernel numbers
AF_INET = 2
AF_INET6 = 10  # Linux values; do not take them from the socket module of another OS
FAMILY_TO_AF = {"ipv4": AF_INET, "ipv6": AF_INET6}
AF_TO_FAMILY = {AF_INET: "ipv4", AF_INET6: "ipv6"}
PROTOCOL_TO_NUMBER = {"tcp": 6, "udp": 17, "sctp": 132}
NUMBER_TO_PROTOCOL = dict((number, name) for name, number in PROTOCOL_TO_NUMBER.items())
FORWARDING_TO_FLAG = {
    "nat": IP_VS_CONN_F_MASQ, "local": IP_VS_CONN_F_LOCALNODE, "tun": IP_VS_CONN_F_TUNNEL,
    "dr": IP_VS_CONN_F_DROUTE, "bypass": IP_VS_CONN_F_BYPASS,
}
FLAG_TO_FORWARDING = dict((flag, name) for name, flag in FORWARDING_TO_FLAG.items())
TUNNEL_TYPE_TO_NUMBER = {"ipip": IP_VS_CONN_F_TUNNEL_TYPE_IPIP, "gue": IP_VS_CONN_F_TUNNEL_TYPE_GUE,
                         "gre": IP_VS_CONN_F_TUNNEL_TYPE_GRE}
NUMBER_TO_TUNNEL_TYPE = dict((number, name) for name, number in TUNNEL_TYPE_TO_NUMBER.items())
TUNNEL_FLAG_BITS = {"nocsum": IP_VS_TUNNEL_ENCAP_FLAG_NOCSUM, "csum": IP_VS_TUNNEL_ENCAP_FLAG_CSUM,
                    "remcsum": IP_VS_TUNNEL_ENCAP_FLAG_REMCSUM}
SCHEDULER_FLAG_BITS = {
    "sh-fallback": IP_VS_SVC_F_SCHED_SH_FALLBACK, "sh-port": IP_VS_SVC_F_SCHED_SH_PORT,
    "mh-fallback": IP_VS_SVC_F_SCHED_MH_FALLBACK, "mh-port": IP_VS_SVC_F_SCHED_MH_PORT,
}
STATE_TO_NUMBER = {"master": IP_VS_STATE_MASTER, "backup": IP_VS_STATE_BACKUP}
NUMBER_TO_STATE = dict((number, name) for name, number in STATE_TO_NUMBER.items())
ALL_FLAGS_MASK = 0xFFFFFFFF
FLAGS_STRUCT = struct.Struct("=II")


# ---------------------------------------------------------------------------------------------------------------
# Small conversions
# ---------------------------------------------------------------------------------------------------------------


def family_number(family):
    try:
        return FAMILY_TO_AF[family]
    except KeyError:
        raise ValueError("unknown address family %r" % (family,))


def protocol_number(protocol):
    if protocol in PROTOCOL_TO_NUMBER:
        return PROTOCOL_TO_NUMBER[protocol]
    try:
        return int(protocol)  # a protocol the model has no name for, as decoded from the kernel
    except (TypeError, ValueError):
        raise ValueError("unknown protocol %r" % (protocol,))


def protocol_name(number):
    return NUMBER_TO_PROTOCOL.get(number, str(number))


@lru_cache(maxsize=8192)
def pack_address(address, size=16):
    """``union nf_inet_addr``: the address in network order, zero-padded to ``size`` bytes.

    Cached: a bulk table names the same few real servers thousands of times, and parsing dominates encoding.
    """
    packed = ipaddress.ip_address(address).packed
    return packed + b"\0" * (size - len(packed))


def unpack_address(data, family, what="address"):
    if family == "ipv4":
        if len(data) < 4:
            raise NetlinkDecodeError("%s: %d bytes is no IPv4 address" % (what, len(data)))
        return socket.inet_ntop(socket.AF_INET, bytes(data[:4]))  # same text as ipaddress, 10x cheaper
    if family == "ipv6":
        if len(data) < 16:
            raise NetlinkDecodeError("%s: %d bytes is no IPv6 address" % (what, len(data)))
        return str(ipaddress.IPv6Address(bytes(data[:16])))
    raise NetlinkDecodeError("%s: unknown address family %r" % (what, family))


def prefix_to_netmask(prefix):
    prefix = max(0, min(32, int(prefix)))
    return (0xFFFFFFFF << (32 - prefix)) & 0xFFFFFFFF


def netmask_to_prefix(mask):
    """Leading one bits of an IPv4 mask (a non-contiguous mask counts up to its first zero bit)."""
    prefix = 0
    bit = 0x80000000
    while bit and mask & bit:
        prefix += 1
        bit >>= 1
    return prefix


def _require(value, what):
    if value is None:
        raise NetlinkDecodeError("%s is missing" % what)
    return value


# ---------------------------------------------------------------------------------------------------------------
# Encoding: model -> attributes
# ---------------------------------------------------------------------------------------------------------------


def service_key_attrs(key):
    """The identifying members of a service (all GET/DEL/ZERO and destination commands need only these)."""
    children = [nla_u16(IPVS_SVC_ATTR_AF, family_number(key.family))]
    if key.is_fwmark:
        children.append(nla_u32(IPVS_SVC_ATTR_FWMARK, key.fwmark))
    else:
        children.append(nla_u16(IPVS_SVC_ATTR_PROTOCOL, protocol_number(key.protocol)))
        children.append(nla_binary(IPVS_SVC_ATTR_ADDR, pack_address(key.address)))
        children.append(nla_be16(IPVS_SVC_ATTR_PORT, key.port))
    return children


def service_flags(service):
    flags = 0
    if service.persistent is not None:
        flags |= IP_VS_SVC_F_PERSISTENT
    if service.one_packet:
        flags |= IP_VS_SVC_F_ONEPACKET
    for name in service.scheduler_flags:
        try:
            flags |= SCHEDULER_FLAG_BITS[name]
        except KeyError:
            raise ValueError("unknown scheduler flag %r" % (name,))
    return flags


def service_netmask_attr(service):
    prefix = service.persistence_prefix
    if prefix is None or service.persistent is None:
        prefix = FULL_PREFIX[service.key.family]
    if service.key.family == "ipv4":
        return nla_be32(IPVS_SVC_ATTR_NETMASK, prefix_to_netmask(prefix))
    return nla_u32(IPVS_SVC_ATTR_NETMASK, prefix)


def encode_service(service, full=True):
    """``IPVS_CMD_ATTR_SERVICE``: key only, or (``full``) everything NEW/SET_SERVICE require."""
    children = service_key_attrs(service.key)
    if full:
        children.append(nla_nulstring(IPVS_SVC_ATTR_SCHED_NAME, service.scheduler))
        if service.pe_name:
            children.append(nla_nulstring(IPVS_SVC_ATTR_PE_NAME, service.pe_name))
        children.append(nla_binary(IPVS_SVC_ATTR_FLAGS, FLAGS_STRUCT.pack(service_flags(service), ALL_FLAGS_MASK)))
        children.append(nla_u32(IPVS_SVC_ATTR_TIMEOUT, service.persistent or 0))
        children.append(service_netmask_attr(service))
    return nla_nested(IPVS_CMD_ATTR_SERVICE, children)


def encode_service_key(key):
    return nla_nested(IPVS_CMD_ATTR_SERVICE, service_key_attrs(key))


def tunnel_flags_value(names):
    value = 0
    for name in names or ():
        try:
            value |= TUNNEL_FLAG_BITS[name]
        except KeyError:
            raise ValueError("unknown tunnel flag %r" % (name,))
    return value


def tunnel_attributes(real):
    """(tun_type number, tun_port, tun_flags bits) as the kernel holds them: zeros unless forwarding is tun."""
    if real.forwarding != "tun":
        return IP_VS_CONN_F_TUNNEL_TYPE_IPIP, 0, 0
    return TUNNEL_TYPE_TO_NUMBER[real.tun_type or "ipip"], real.tun_port or 0, tunnel_flags_value(real.tun_flags)


def encode_real(real, full=True):
    """``IPVS_CMD_ATTR_DEST``: address/port/family, or (``full``) everything NEW/SET_DEST require."""
    children = [
        nla_u16(IPVS_DEST_ATTR_ADDR_FAMILY, family_number(real.family)),
        nla_binary(IPVS_DEST_ATTR_ADDR, pack_address(real.address)),
        nla_be16(IPVS_DEST_ATTR_PORT, real.port),
    ]
    if full:
        try:
            forwarding = FORWARDING_TO_FLAG[real.forwarding]
        except KeyError:
            raise ValueError("unknown forwarding method %r" % (real.forwarding,))
        tun_type, tun_port, tun_flags = tunnel_attributes(real)
        children += [
            nla_u32(IPVS_DEST_ATTR_FWD_METHOD, forwarding),
            nla_u32(IPVS_DEST_ATTR_WEIGHT, real.weight),
            nla_u8(IPVS_DEST_ATTR_TUN_TYPE, tun_type),
            nla_be16(IPVS_DEST_ATTR_TUN_PORT, tun_port),
            nla_u16(IPVS_DEST_ATTR_TUN_FLAGS, tun_flags),
            nla_u32(IPVS_DEST_ATTR_U_THRESH, real.u_threshold),
            nla_u32(IPVS_DEST_ATTR_L_THRESH, real.l_threshold),
        ]
    return nla_nested(IPVS_CMD_ATTR_DEST, children)


def encode_daemon(daemon, full=True):
    """``IPVS_CMD_ATTR_DAEMON``; optional members are sent only when set (the kernel picks defaults)."""
    try:
        state = STATE_TO_NUMBER[daemon.state]
    except KeyError:
        raise ValueError("unknown sync daemon state %r" % (daemon.state,))
    children = [nla_u32(IPVS_DAEMON_ATTR_STATE, state)]
    if full:
        children.append(nla_nulstring(IPVS_DAEMON_ATTR_MCAST_IFN, daemon.mcast_interface))
        children.append(nla_u32(IPVS_DAEMON_ATTR_SYNC_ID, daemon.syncid or 0))
        if daemon.sync_maxlen:
            children.append(nla_u16(IPVS_DAEMON_ATTR_SYNC_MAXLEN, daemon.sync_maxlen))
        if daemon.mcast_group:
            group = ipaddress.ip_address(daemon.mcast_group)
            if group.version == 4:
                children.append(nla_binary(IPVS_DAEMON_ATTR_MCAST_GROUP, group.packed))
            else:
                children.append(nla_binary(IPVS_DAEMON_ATTR_MCAST_GROUP6, group.packed))
        if daemon.mcast_port:
            children.append(nla_u16(IPVS_DAEMON_ATTR_MCAST_PORT, daemon.mcast_port))
        if daemon.mcast_ttl:
            children.append(nla_u8(IPVS_DAEMON_ATTR_MCAST_TTL, daemon.mcast_ttl))
    return nla_nested(IPVS_CMD_ATTR_DAEMON, children)


def encode_timeouts(timeouts):
    """Top-level timeout attributes of SET_CONFIG; 0 leaves a timeout as it is (kernel semantics)."""
    return [
        nla_u32(IPVS_CMD_ATTR_TIMEOUT_TCP, timeouts.tcp),
        nla_u32(IPVS_CMD_ATTR_TIMEOUT_TCP_FIN, timeouts.tcp_fin),
        nla_u32(IPVS_CMD_ATTR_TIMEOUT_UDP, timeouts.udp),
    ]


def request_payload(cmd, attrs=()):
    """A whole IPVS generic netlink payload: genlmsghdr + attributes."""
    return genl_payload(cmd, IPVS_GENL_VERSION, list(attrs))


# Ready-made payloads for each command ---------------------------------------------------------------------------

def new_service(service):
    return request_payload(IPVS_CMD_NEW_SERVICE, [encode_service(service, full=True)])


def set_service(service):
    return request_payload(IPVS_CMD_SET_SERVICE, [encode_service(service, full=True)])


def del_service(key):
    return request_payload(IPVS_CMD_DEL_SERVICE, [encode_service_key(key)])


def get_service(key=None):
    return request_payload(IPVS_CMD_GET_SERVICE, [encode_service_key(key)] if key is not None else [])


def new_dest(key, real):
    return request_payload(IPVS_CMD_NEW_DEST, [encode_service_key(key), encode_real(real, full=True)])


def set_dest(key, real):
    return request_payload(IPVS_CMD_SET_DEST, [encode_service_key(key), encode_real(real, full=True)])


def del_dest(key, real):
    return request_payload(IPVS_CMD_DEL_DEST, [encode_service_key(key), encode_real(real, full=False)])


def get_dest(key):
    return request_payload(IPVS_CMD_GET_DEST, [encode_service_key(key)])


def new_daemon(daemon):
    return request_payload(IPVS_CMD_NEW_DAEMON, [encode_daemon(daemon, full=True)])


def del_daemon(state):
    return request_payload(IPVS_CMD_DEL_DAEMON,
                           [nla_nested(IPVS_CMD_ATTR_DAEMON, [nla_u32(IPVS_DAEMON_ATTR_STATE,
                                                                      STATE_TO_NUMBER[state])])])


def get_daemon():
    return request_payload(IPVS_CMD_GET_DAEMON)


def set_config(timeouts):
    return request_payload(IPVS_CMD_SET_CONFIG, encode_timeouts(timeouts))


def get_config():
    return request_payload(IPVS_CMD_GET_CONFIG)


def get_info():
    return request_payload(IPVS_CMD_GET_INFO)


def zero(key=None):
    return request_payload(IPVS_CMD_ZERO, [encode_service_key(key)] if key is not None else [])


def flush():
    return request_payload(IPVS_CMD_FLUSH)


# ---------------------------------------------------------------------------------------------------------------
# Decoding: attributes -> model
# ---------------------------------------------------------------------------------------------------------------


def decode_stats(attrs):
    """``Stats`` from a STATS or STATS64 nest (integers of whatever width the kernel sent)."""
    values = {}
    for attr_type, name in STATS_FIELDS:
        values[name] = attrs.uint(attr_type, 0)
    return Stats(**values)


def _stats_of(attrs, attr_stats64, attr_stats):
    nest = attrs.nested(attr_stats64)
    if nest is None:
        nest = attrs.nested(attr_stats)
    return decode_stats(nest) if nest is not None else None


def decode_service_attrs(svc, stats=False):
    """``Service`` (without reals) from the attributes inside IPVS_CMD_ATTR_SERVICE."""
    key = decode_service_key_attrs(svc)
    family = key.family

    scheduler = svc.string(IPVS_SVC_ATTR_SCHED_NAME, "none")
    flags_raw = svc.binary(IPVS_SVC_ATTR_FLAGS, size=FLAGS_STRUCT.size)
    flags = FLAGS_STRUCT.unpack(flags_raw)[0] & ~IP_VS_SVC_F_HASHED if flags_raw is not None else 0
    timeout = svc.u32(IPVS_SVC_ATTR_TIMEOUT, 0)
    persistent = timeout if flags & IP_VS_SVC_F_PERSISTENT else None
    prefix = None
    if persistent is not None and IPVS_SVC_ATTR_NETMASK in svc:
        if family == "ipv4":
            prefix = netmask_to_prefix(svc.be32(IPVS_SVC_ATTR_NETMASK))
        else:
            prefix = svc.u32(IPVS_SVC_ATTR_NETMASK)
        if not 0 <= prefix <= FULL_PREFIX[family]:
            raise NetlinkDecodeError("service %s: persistence prefix %d out of range" % (key, prefix))
    scheduler_flags = []
    if scheduler in ("sh", "mh"):
        if flags & IP_VS_SVC_F_SCHED1:
            scheduler_flags.append("%s-fallback" % scheduler)
        if flags & IP_VS_SVC_F_SCHED2:
            scheduler_flags.append("%s-port" % scheduler)
    pe_name = svc.string(IPVS_SVC_ATTR_PE_NAME) or None
    return Service(
        key=key,
        scheduler=scheduler,
        persistent=persistent,
        persistence_prefix=prefix,
        one_packet=bool(flags & IP_VS_SVC_F_ONEPACKET),
        scheduler_flags=tuple(scheduler_flags),
        pe_name=pe_name,
        stats=_stats_of(svc, IPVS_SVC_ATTR_STATS64, IPVS_SVC_ATTR_STATS) if stats else None,
    )


def decode_service(attrs, stats=False):
    """``Service`` from the top-level attributes of a NEW_SERVICE message (dump entry or GET reply)."""
    svc = attrs.nested(IPVS_CMD_ATTR_SERVICE)
    if svc is None:
        raise NetlinkDecodeError("message has no IPVS_CMD_ATTR_SERVICE")
    return decode_service_attrs(svc, stats=stats)


def decode_real_attrs(dest, service_family, stats=False):
    """``Real`` from the attributes inside IPVS_CMD_ATTR_DEST."""
    af = dest.u16(IPVS_DEST_ATTR_ADDR_FAMILY)
    family = AF_TO_FAMILY.get(af) if af is not None else service_family
    if family is None:
        raise NetlinkDecodeError("real server address family %d is neither AF_INET nor AF_INET6" % af)
    address = unpack_address(_require(dest.raw(IPVS_DEST_ATTR_ADDR), "real server address"), family,
                             "real server address")
    port = _require(dest.be16(IPVS_DEST_ATTR_PORT), "real server port")
    method = dest.u32(IPVS_DEST_ATTR_FWD_METHOD, IP_VS_CONN_F_MASQ) & IP_VS_CONN_F_FWD_MASK
    forwarding = FLAG_TO_FORWARDING.get(method)
    if forwarding is None:
        raise NetlinkDecodeError("real server %s: unknown forwarding method %d" % (address, method))
    tun_type = tun_port = None
    tun_flags = ()
    if forwarding == "tun":
        number = dest.u8(IPVS_DEST_ATTR_TUN_TYPE, IP_VS_CONN_F_TUNNEL_TYPE_IPIP)
        tun_type = NUMBER_TO_TUNNEL_TYPE.get(number, str(number))
        tun_port = dest.be16(IPVS_DEST_ATTR_TUN_PORT, 0)
        bits = dest.u16(IPVS_DEST_ATTR_TUN_FLAGS, 0)
        tun_flags = tuple(name for name in ("csum", "remcsum") if bits & TUNNEL_FLAG_BITS[name])
    return Real(
        address=address,
        port=port,
        family=family,
        forwarding=forwarding,
        weight=dest.u32(IPVS_DEST_ATTR_WEIGHT, 0),
        u_threshold=dest.u32(IPVS_DEST_ATTR_U_THRESH, 0),
        l_threshold=dest.u32(IPVS_DEST_ATTR_L_THRESH, 0),
        tun_type=tun_type,
        tun_port=tun_port,
        tun_flags=tun_flags,
        active_conns=dest.u32(IPVS_DEST_ATTR_ACTIVE_CONNS),
        inactive_conns=dest.u32(IPVS_DEST_ATTR_INACT_CONNS),
        persistent_conns=dest.u32(IPVS_DEST_ATTR_PERSIST_CONNS),
        stats=_stats_of(dest, IPVS_DEST_ATTR_STATS64, IPVS_DEST_ATTR_STATS) if stats else None,
    )


def decode_real(attrs, service_family, stats=False):
    """``Real`` from the top-level attributes of a NEW_DEST dump entry."""
    dest = attrs.nested(IPVS_CMD_ATTR_DEST)
    if dest is None:
        raise NetlinkDecodeError("message has no IPVS_CMD_ATTR_DEST")
    return decode_real_attrs(dest, service_family, stats=stats)


def decode_info(attrs):
    """The GET_INFO reply (top-level INFO attributes): version as text and code, connection table size."""
    code = _require(attrs.u32(IPVS_INFO_ATTR_VERSION), "IPVS version")
    return {
        "version": "%d.%d.%d" % ((code >> 16) & 0xFF, (code >> 8) & 0xFF, code & 0xFF),
        "version_code": code,
        "conn_tab_size": attrs.u32(IPVS_INFO_ATTR_CONN_TAB_SIZE, 0),
    }


def decode_timeouts(attrs):
    """The GET_CONFIG reply (top-level TIMEOUT attributes; absent when the protocol is compiled out)."""
    return Timeouts(
        tcp=attrs.u32(IPVS_CMD_ATTR_TIMEOUT_TCP, 0),
        tcp_fin=attrs.u32(IPVS_CMD_ATTR_TIMEOUT_TCP_FIN, 0),
        udp=attrs.u32(IPVS_CMD_ATTR_TIMEOUT_UDP, 0),
    )


def decode_daemon_attrs(daemon):
    number = _require(daemon.u32(IPVS_DAEMON_ATTR_STATE), "sync daemon state")
    state = NUMBER_TO_STATE.get(number)
    if state is None:
        raise NetlinkDecodeError("sync daemon state %d is neither master nor backup" % number)
    group = None
    raw4 = daemon.binary(IPVS_DAEMON_ATTR_MCAST_GROUP)
    raw6 = daemon.binary(IPVS_DAEMON_ATTR_MCAST_GROUP6)
    if raw6 is not None:
        group = unpack_address(raw6, "ipv6", "sync daemon multicast group")
    elif raw4 is not None:
        group = unpack_address(raw4, "ipv4", "sync daemon multicast group")
    return Daemon(
        state=state,
        mcast_interface=daemon.string(IPVS_DAEMON_ATTR_MCAST_IFN, ""),
        syncid=daemon.u32(IPVS_DAEMON_ATTR_SYNC_ID, 0),
        sync_maxlen=daemon.u16(IPVS_DAEMON_ATTR_SYNC_MAXLEN),
        mcast_group=group,
        mcast_port=daemon.u16(IPVS_DAEMON_ATTR_MCAST_PORT),
        mcast_ttl=daemon.u8(IPVS_DAEMON_ATTR_MCAST_TTL),
    )


def decode_daemon(attrs):
    daemon = attrs.nested(IPVS_CMD_ATTR_DAEMON)
    if daemon is None:
        raise NetlinkDecodeError("message has no IPVS_CMD_ATTR_DAEMON")
    return decode_daemon_attrs(daemon)


def decode_message(cmd, attrs, service_family=None, stats=True):
    """Decode any IPVS message into model objects, by command (for replays and diagnostics)."""
    if cmd == IPVS_CMD_NEW_SERVICE or (cmd in (IPVS_CMD_SET_SERVICE, IPVS_CMD_DEL_SERVICE, IPVS_CMD_GET_SERVICE)
                                       and IPVS_CMD_ATTR_SERVICE in attrs):
        svc = attrs.nested(IPVS_CMD_ATTR_SERVICE)
        if svc is not None and IPVS_SVC_ATTR_SCHED_NAME not in svc:
            return decode_service_key_attrs(svc)
        return decode_service(attrs, stats=stats)
    if cmd in (IPVS_CMD_NEW_DEST, IPVS_CMD_SET_DEST, IPVS_CMD_DEL_DEST):
        family = service_family
        if IPVS_CMD_ATTR_SERVICE in attrs:
            family = decode_service_key_attrs(attrs.nested(IPVS_CMD_ATTR_SERVICE)).family
        return decode_real(attrs, family or "ipv4", stats=stats)
    if cmd in (IPVS_CMD_NEW_DAEMON,):
        return decode_daemon(attrs)
    if cmd == IPVS_CMD_SET_INFO:
        return decode_info(attrs)
    if cmd == IPVS_CMD_SET_CONFIG:
        return decode_timeouts(attrs)
    return None


def decode_service_key(attrs):
    """The ``ServiceKey`` of the IPVS_CMD_ATTR_SERVICE in a message's top-level attributes."""
    svc = attrs.nested(IPVS_CMD_ATTR_SERVICE)
    if svc is None:
        raise NetlinkDecodeError("message has no IPVS_CMD_ATTR_SERVICE")
    return decode_service_key_attrs(svc)


def decode_service_key_attrs(svc):
    """The ``ServiceKey`` from the attributes inside IPVS_CMD_ATTR_SERVICE (identifying members only)."""
    af = _require(svc.u16(IPVS_SVC_ATTR_AF), "service address family")
    family = AF_TO_FAMILY.get(af)
    if family is None:
        raise NetlinkDecodeError("service address family %d is neither AF_INET nor AF_INET6" % af)
    fwmark = svc.u32(IPVS_SVC_ATTR_FWMARK)
    if fwmark:
        return ServiceKey(family=family, fwmark=fwmark)
    return ServiceKey(
        family=family,
        protocol=protocol_name(_require(svc.u16(IPVS_SVC_ATTR_PROTOCOL), "service protocol")),
        address=unpack_address(_require(svc.raw(IPVS_SVC_ATTR_ADDR), "service address"), family,
                               "service address"),
        port=_require(svc.be16(IPVS_SVC_ATTR_PORT), "service port"),
    )


# ---------------------------------------------------------------------------------------------------------------
# Recognising an unchanged real in a dump without decoding it (the fast read path of a reconcile)
# ---------------------------------------------------------------------------------------------------------------
# ip_vs_genl_fill_dest() (Linux 5.2 and later) dumps a destination as: ADDR (16 bytes, IPv4 zero-padded), PORT,
# FWD_METHOD, WEIGHT, TUN_TYPE, TUN_PORT, TUN_FLAGS, U_THRESH, L_THRESH, then three connection counters
# (ACTIVE_CONNS, INACT_CONNS, PERSIST_CONNS), then ADDR_FAMILY, then the statistics. The configuration is the
# 84 bytes before the counters plus the 8 bytes after them: a real whose dumped bytes there equal the encoding
# of a model Real has exactly that Real's configuration (the attribute headers are part of the comparison, so a
# kernel with another layout never matches and its reals are simply decoded).
_DEST_CONFIG = struct.Struct("=HH16s HH2s2x HHI HHI HHB3x HH2s2x HHH2x HHI HHI HHH2x")
_PORT_BYTES = {}  # port -> its 2 bytes in network order (a table uses few ports; to_bytes per real adds up)
_DEST_REPLY_PREFIX = struct.pack("=BH", IPVS_CMD_NEW_DEST, IPVS_CMD_ATTR_DEST)
_GENL_AND_NEST_HDR = 8  # genlmsghdr, then the IPVS_CMD_ATTR_DEST header
_DEST_HEAD_END = _GENL_AND_NEST_HDR + 84
_DEST_TAIL_START = _DEST_HEAD_END + 24  # after the three 8-byte counter attributes
_DEST_TAIL_END = _DEST_TAIL_START + 8


def dest_dump_signature(real):
    """The bytes :func:`dest_reply_signature` returns for a dump of ``real`` (counters and statistics left out)."""
    tun_type, tun_port, tun_flags = tunnel_attributes(real)
    port_bytes = _PORT_BYTES.get(real.port)
    if port_bytes is None:
        port_bytes = _PORT_BYTES[real.port] = real.port.to_bytes(2, "big")
    return _DEST_REPLY_PREFIX + _DEST_CONFIG.pack(
        20, IPVS_DEST_ATTR_ADDR, pack_address(real.address),
        6, IPVS_DEST_ATTR_PORT, port_bytes,
        8, IPVS_DEST_ATTR_FWD_METHOD, FORWARDING_TO_FLAG[real.forwarding],
        8, IPVS_DEST_ATTR_WEIGHT, real.weight,
        5, IPVS_DEST_ATTR_TUN_TYPE, tun_type,
        6, IPVS_DEST_ATTR_TUN_PORT, tun_port.to_bytes(2, "big") if tun_port else b"\0\0",
        6, IPVS_DEST_ATTR_TUN_FLAGS, tun_flags,
        8, IPVS_DEST_ATTR_U_THRESH, real.u_threshold,
        8, IPVS_DEST_ATTR_L_THRESH, real.l_threshold,
        6, IPVS_DEST_ATTR_ADDR_FAMILY, family_number(real.family))


def dest_reply_signature(payload):
    """The configuration bytes of a GET_DEST dump message's payload (genlmsghdr onwards), in the layout of
    :func:`dest_dump_signature`; any other message, or another layout, gives bytes no signature equals."""
    return (payload[0:1] + payload[6:8] + payload[_GENL_AND_NEST_HDR:_DEST_HEAD_END]
            + payload[_DEST_TAIL_START:_DEST_TAIL_END])


def parse_reply(message):
    """``(cmd, Attrs)`` of an IPVS reply message."""
    cmd, _version, attrs = message.genl()
    return cmd, attrs
