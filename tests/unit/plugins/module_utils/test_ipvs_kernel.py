# -*- coding: utf-8 -*-
# Copyright (c) 2026, lvs.cluster contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Unit tests of _ipvs_kernel against a fake transport that answers like ip_vs_ctl.c."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import errno
import struct
from dataclasses import replace

import pytest

from ansible_collections.lvs.cluster.plugins.module_utils import _ipvs_wire as wire
from ansible_collections.lvs.cluster.plugins.module_utils import _netlink as nl
from ansible_collections.lvs.cluster.plugins.module_utils._ipvs_kernel import (
    IpvsKernel, IpvsKernelError, IpvsOperationError, IpvsPermissionError, IpvsUnavailable, missing_kernel_modules,
)
from ansible_collections.lvs.cluster.plugins.module_utils import _ipvs_plan as plan
from ansible_collections.lvs.cluster.plugins.module_utils._ipvs_model import (
    Daemon, Real, Service, ServiceKey, Table, Timeouts,
)


class Operation:
    """Stand-in for _ipvs_plan.Operation (the kernel layer duck-types: .action, .service, .real)."""

    def __init__(self, action, service, real=None, previous=None):
        self.action = action
        self.service = service.without_reals()
        self.real = real
        self.previous = previous

    def __str__(self):
        return "%s %s %s" % (self.action, self.service, self.real or "")


FAMILY_ID = 0x24
TCP80 = ServiceKey(family="ipv4", protocol="tcp", address="192.0.2.10", port=80)
UDP53_V6 = ServiceKey(family="ipv6", protocol="udp", address="2001:db8::10", port=53)
FWM1 = ServiceKey(family="ipv4", fwmark=1)
TCP81 = ServiceKey(family="ipv4", protocol="tcp", address="192.0.2.10", port=81)


def real(address, **kwargs):
    kwargs.setdefault("port", 80)
    return Real(address=address, family="ipv6" if ":" in address else "ipv4", **kwargs)


class FakeIpvsTransport:
    """A small in-memory IPVS: answers controller lookups, doit commands (ACK/errno) and dumps (multipart).

    Like netlink_rcv_skb() it processes every message of a send, errors included, and acks each one.
    """

    port_id = 777

    def __init__(self, family=True, schedulers=("rr", "wrr", "wlc", "sh", "mh"), per_datagram=2, perm=True,
                 capacity=None):
        self.family = family
        self.schedulers = set(schedulers)
        self.per_datagram = per_datagram
        self.perm = perm
        self.capacity = capacity
        self.services = {}
        self.reals = {}
        self.timeouts = Timeouts(900, 120, 300)
        self.daemons = {}
        self.queue = []
        self.sends = []
        self.commands = []
        self.overflowed = False

    # transport API
    def send(self, data):
        self.sends.append(bytes(data))
        for message in nl.parse_messages(data):
            self._handle(message)

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
        pass

    # kernel side
    def _put(self, datagram):
        if self.capacity is not None and len(self.queue) >= self.capacity:
            self.overflowed = True
            return
        self.queue.append(datagram)

    def _ack(self, message, code):
        header = nl.NLMSG_HDR.pack(nl.NLMSG_HDRLEN + len(message.payload), message.type, message.flags,
                                   message.seq, message.pid)
        self._put(nl.encode_message(nl.NLMSG_ERROR, nl.NLM_F_CAPPED, message.seq, self.port_id,
                                    struct.pack("=i", -code) + header))

    def _reply(self, message, cmd, attrs, flags=0):
        return nl.encode_message(message.type, flags, message.seq, self.port_id, nl.genl_payload(cmd, 1, attrs))

    def _handle(self, message):
        if message.type == nl.GENL_ID_CTRL:
            name = message.genl()[2].string(nl.CTRL_ATTR_FAMILY_NAME)
            if name == "IPVS" and self.family:
                self._put(nl.encode_message(nl.GENL_ID_CTRL, 0, message.seq, self.port_id, nl.genl_payload(
                    nl.CTRL_CMD_NEWFAMILY, 2, [nl.nla_nulstring(nl.CTRL_ATTR_FAMILY_NAME, "IPVS"),
                                               nl.nla_u16(nl.CTRL_ATTR_FAMILY_ID, FAMILY_ID),
                                               nl.nla_u32(nl.CTRL_ATTR_VERSION, 1)])))
                code = 0
            else:
                code = errno.ENOENT
            if code or message.flags & nl.NLM_F_ACK:
                self._ack(message, code)
            return
        assert message.type == FAMILY_ID
        cmd, _version, attrs = message.genl()
        self.commands.append(cmd)
        if not self.perm:
            self._ack(message, errno.EPERM)
            return
        if message.flags & nl.NLM_F_DUMP == nl.NLM_F_DUMP:
            frames = [self._reply(message, reply_cmd, reply_attrs, nl.NLM_F_MULTI)
                      for reply_cmd, reply_attrs in self._dump(cmd, attrs)]
            for start in range(0, len(frames), self.per_datagram):
                self._put(b"".join(frames[start:start + self.per_datagram]))
            self._put(nl.encode_message(nl.NLMSG_DONE, nl.NLM_F_MULTI, message.seq, self.port_id,
                                        struct.pack("=i", 0)))
            return
        try:
            replies = self._doit(cmd, attrs)
            code = 0
        except OSError as exc:
            replies, code = [], exc.errno
        for reply_cmd, reply_attrs in replies:
            self._put(self._reply(message, reply_cmd, reply_attrs))
        if code or message.flags & nl.NLM_F_ACK:
            self._ack(message, code)

    @staticmethod
    def _kernel_service(service):
        children = wire.service_key_attrs(service.key)
        children.append(nl.nla_nulstring(wire.IPVS_SVC_ATTR_SCHED_NAME, service.scheduler))
        if service.pe_name:
            children.append(nl.nla_nulstring(wire.IPVS_SVC_ATTR_PE_NAME, service.pe_name))
        flags = wire.service_flags(service) | wire.IP_VS_SVC_F_HASHED
        children += [nl.nla_binary(wire.IPVS_SVC_ATTR_FLAGS, struct.pack("=II", flags, 0xFFFFFFFF)),
                     nl.nla_u32(wire.IPVS_SVC_ATTR_TIMEOUT, service.persistent or 0),
                     wire.service_netmask_attr(service)]
        return nl.nla_nested(wire.IPVS_CMD_ATTR_SERVICE, children, flag=False)

    @staticmethod
    def _kernel_dest(real):
        """A destination as ip_vs_genl_fill_dest() dumps it: configuration, counters, family, statistics."""
        tunnel = real.forwarding == "tun"
        children = [
            nl.nla_binary(wire.IPVS_DEST_ATTR_ADDR, wire.pack_address(real.address)),
            nl.nla_be16(wire.IPVS_DEST_ATTR_PORT, real.port),
            nl.nla_u32(wire.IPVS_DEST_ATTR_FWD_METHOD, wire.FORWARDING_TO_FLAG[real.forwarding]),
            nl.nla_u32(wire.IPVS_DEST_ATTR_WEIGHT, real.weight),
            nl.nla_u8(wire.IPVS_DEST_ATTR_TUN_TYPE, wire.TUNNEL_TYPE_TO_NUMBER[real.tun_type] if tunnel else 0),
            nl.nla_be16(wire.IPVS_DEST_ATTR_TUN_PORT, (real.tun_port or 0) if tunnel else 0),
            nl.nla_u16(wire.IPVS_DEST_ATTR_TUN_FLAGS, wire.tunnel_flags_value(real.tun_flags) if tunnel else 0),
            nl.nla_u32(wire.IPVS_DEST_ATTR_U_THRESH, real.u_threshold),
            nl.nla_u32(wire.IPVS_DEST_ATTR_L_THRESH, real.l_threshold),
            nl.nla_u32(wire.IPVS_DEST_ATTR_ACTIVE_CONNS, 7),
            nl.nla_u32(wire.IPVS_DEST_ATTR_INACT_CONNS, 3),
            nl.nla_u32(wire.IPVS_DEST_ATTR_PERSIST_CONNS, 1),
            nl.nla_u16(wire.IPVS_DEST_ATTR_ADDR_FAMILY, wire.family_number(real.family)),
            nl.nla_nested(wire.IPVS_DEST_ATTR_STATS, [nl.nla_u32(wire.IPVS_STATS_ATTR_CONNS, 11)], flag=False),
        ]
        return nl.nla_nested(wire.IPVS_CMD_ATTR_DEST, children, flag=False)

    def _key(self, attrs):
        if wire.IPVS_CMD_ATTR_SERVICE not in attrs:
            raise OSError(errno.EINVAL, "")
        return wire.decode_service_key(attrs)

    def _doit(self, cmd, attrs):
        if cmd == wire.IPVS_CMD_GET_INFO:
            return [(wire.IPVS_CMD_SET_INFO, [nl.nla_u32(1, 0x010201), nl.nla_u32(2, 4096)])]
        if cmd == wire.IPVS_CMD_GET_CONFIG:
            return [(wire.IPVS_CMD_SET_CONFIG, wire.encode_timeouts(self.timeouts))]
        if cmd == wire.IPVS_CMD_SET_CONFIG:
            new = wire.decode_timeouts(attrs)
            self.timeouts = Timeouts(new.tcp or self.timeouts.tcp, new.tcp_fin or self.timeouts.tcp_fin,
                                     new.udp or self.timeouts.udp)
            return []
        if cmd == wire.IPVS_CMD_FLUSH:
            self.services.clear()
            self.reals.clear()
            return []
        if cmd == wire.IPVS_CMD_NEW_DAEMON:
            daemon = wire.decode_daemon(attrs)
            if daemon.state in self.daemons:
                raise OSError(errno.EEXIST, "")
            self.daemons[daemon.state] = daemon
            return []
        if cmd == wire.IPVS_CMD_DEL_DAEMON:
            state = wire.NUMBER_TO_STATE[attrs.nested(wire.IPVS_CMD_ATTR_DAEMON).u32(wire.IPVS_DAEMON_ATTR_STATE)]
            if state not in self.daemons:
                raise OSError(errno.ESRCH, "")
            del self.daemons[state]
            return []
        if cmd == wire.IPVS_CMD_ZERO and wire.IPVS_CMD_ATTR_SERVICE not in attrs:
            return []
        key = self._key(attrs)
        if cmd == wire.IPVS_CMD_NEW_SERVICE:
            service = wire.decode_service(attrs)
            if key in self.services:
                raise OSError(errno.EEXIST, "")
            if service.scheduler not in self.schedulers:
                raise OSError(errno.ENOENT, "")
            self.services[key] = service
            self.reals[key] = {}
            return []
        if key not in self.services:
            raise OSError(errno.ESRCH, "")
        if cmd == wire.IPVS_CMD_GET_SERVICE:
            return [(wire.IPVS_CMD_NEW_SERVICE, [self._kernel_service(self.services[key])])]
        if cmd == wire.IPVS_CMD_SET_SERVICE:
            service = wire.decode_service(attrs)
            if service.scheduler not in self.schedulers:
                raise OSError(errno.ENOENT, "")
            self.services[key] = service
            return []
        if cmd == wire.IPVS_CMD_DEL_SERVICE:
            del self.services[key]
            del self.reals[key]
            return []
        if cmd == wire.IPVS_CMD_ZERO:
            return []
        new = wire.decode_real(attrs, key.family)
        table = self.reals[key]
        if cmd == wire.IPVS_CMD_NEW_DEST:
            if new.key in table:
                raise OSError(errno.EEXIST, "")
            if new.family != key.family and new.forwarding != "tun":
                raise OSError(errno.EINVAL, "")
            table[new.key] = new
        elif cmd == wire.IPVS_CMD_SET_DEST:
            if new.key not in table:
                raise OSError(errno.ENOENT, "")
            table[new.key] = new
        elif cmd == wire.IPVS_CMD_DEL_DEST:
            if new.key not in table:
                raise OSError(errno.ENOENT, "")
            del table[new.key]
        else:
            raise OSError(errno.EOPNOTSUPP, "")
        return []

    def _dump(self, cmd, attrs):
        if cmd == wire.IPVS_CMD_GET_SERVICE:
            return [(wire.IPVS_CMD_NEW_SERVICE, [self._kernel_service(s)]) for s in self.services.values()]
        if cmd == wire.IPVS_CMD_GET_DEST:
            key = self._key(attrs)
            return [(wire.IPVS_CMD_NEW_DEST, [self._kernel_dest(r)]) for r in self.reals.get(key, {}).values()]
        if cmd == wire.IPVS_CMD_GET_DAEMON:
            return [(wire.IPVS_CMD_NEW_DAEMON, [wire.encode_daemon(d)]) for d in self.daemons.values()]
        return []


def kernel(**kwargs):
    transport = FakeIpvsTransport(**kwargs)
    return IpvsKernel(socket=nl.NetlinkSocket(transport)), transport


WEB = Service(key=TCP80, scheduler="wlc", persistent=300, persistence_prefix=24)
DNS6 = Service(key=UDP53_V6, scheduler="rr", one_packet=True)
MARK = Service(key=FWM1, scheduler="sh", scheduler_flags=("sh-port",))
R1 = real("198.51.100.1")
R2 = real("198.51.100.2", forwarding="nat", port=8080, weight=3)
R3 = real("2001:db8::21", forwarding="tun", tun_type="gue", tun_port=6080, tun_flags=("csum",))


def build(k):
    ops = [Operation("add_service", WEB), Operation("add_service", DNS6), Operation("add_service", MARK),
           Operation("add_real", WEB, R1), Operation("add_real", WEB, R2), Operation("add_real", WEB, R3),
           Operation("add_real", DNS6, real("2001:db8::53", port=53))]
    return k.apply(ops)


# ---------------------------------------------------------------------------------------------------------------


def test_unavailable():
    k, _transport = kernel(family=False)
    with pytest.raises(IpvsUnavailable) as info:
        k.open()
    assert str(info.value) == ("IPVS is not available in this kernel (module ip_vs not loaded and could not be "
                               "auto-loaded)")
    assert info.value.errno == errno.ENOENT


def test_permission():
    k, _transport = kernel(perm=False)
    with k, pytest.raises(IpvsPermissionError) as info:
        k.read_table()
    assert "CAP_NET_ADMIN" in str(info.value)


def test_apply_and_read_table():
    k, transport = kernel()
    with k:
        assert len(build(k)) == 7
        assert len(transport.sends) == 2  # family lookup + one batch of 7
        table = k.read_table()
    assert [s.key for s in table.services] == [TCP80, UDP53_V6, FWM1]
    web = table.get(TCP80)
    assert web.attributes_equal(WEB) and web.reals == (R1, R2, R3)
    assert table.get(FWM1) == MARK
    assert transport.commands.count(wire.IPVS_CMD_GET_DEST) == 3  # one dest dump per service


def test_read_service():
    k, _transport = kernel()
    with k:
        build(k)
        assert k.read_service(TCP80) == WEB.with_reals([R1, R2, R3])
        assert k.read_service(ServiceKey(family="ipv4", fwmark=99)) is None


def test_edit_and_delete():
    k, transport = kernel()
    with k:
        build(k)
        k.apply([Operation("edit_service", WEB, previous=WEB), Operation("edit_real", WEB, real("198.51.100.1", weight=9)),
                 Operation("delete_real", WEB, R2), Operation("delete_service", DNS6)])
        table = k.read_table()
    assert {r.address: r.weight for r in table.get(TCP80).reals} == {"198.51.100.1": 9, "2001:db8::21": 1}
    assert table.get(UDP53_V6) is None


def test_error_in_the_middle_of_a_batch():
    k, transport = kernel()
    with k:
        build(k)
        ops = [Operation("add_real", MARK, real("192.0.2.50", port=0)),  # ok
               Operation("add_real", WEB, R1),  # EEXIST
               Operation("add_real", MARK, real("192.0.2.51", port=0)),  # same batch: the kernel applies it
               Operation("add_real", MARK, real("192.0.2.52", port=0))]  # next batch: never sent
        sends_before = len(transport.sends)
        with pytest.raises(IpvsOperationError) as info:
            k.apply(ops, batch_size=3)
    error = info.value
    assert str(error) == "real server 198.51.100.1:80 of service TCP 192.0.2.10:80 already exists"
    assert error.operation is ops[1] and error.errno == errno.EEXIST
    assert error.applied == [ops[0], ops[2]] and error.not_applied == [ops[3]] and error.unknown == []
    assert len(transport.sends) == sends_before + 1
    assert set(transport.reals[FWM1]) == {("192.0.2.50", 0), ("192.0.2.51", 0)}


@pytest.mark.parametrize("operation, message", [
    (Operation("add_service", Service(key=TCP81, scheduler="lblc")),
     "scheduler 'lblc' (or persistence engine) is not available: kernel module ip_vs_lblc could not be loaded"),
    (Operation("add_service", Service(key=TCP81, scheduler="lblc", persistent=5, pe_name="sip")),
     "scheduler 'lblc' or persistence engine 'sip' is not available: kernel module ip_vs_lblc or ip_vs_pe_sip "
     "could not be loaded"),
    (Operation("add_service", WEB), "service TCP 192.0.2.10:80 already exists"),
    (Operation("delete_service", Service(key=ServiceKey(family="ipv6", protocol="udp", address="2001:db8::99",
                                                        port=53))), "no such service UDP [2001:db8::99]:53"),
    (Operation("add_real", Service(key=ServiceKey(family="ipv4", fwmark=7)), R1), "no such service FWM 7 IPv4"),
    (Operation("edit_real", WEB, real("198.51.100.99")),
     "no such real server 198.51.100.99:80 in service TCP 192.0.2.10:80"),
    (Operation("delete_real", WEB, real("198.51.100.99")),
     "no such real server 198.51.100.99:80 in service TCP 192.0.2.10:80"),
])
def test_error_messages(operation, message):
    k, _transport = kernel()
    with k:
        build(k)
        with pytest.raises(IpvsOperationError) as info:
            k.apply([operation])
    assert str(info.value) == message
    assert info.value.applied == [] and info.value.failed == [(operation, message)]


def test_einval_names_the_object():
    k, _transport = kernel()
    with k:
        build(k)
        with pytest.raises(IpvsOperationError) as info:
            k.apply([Operation("add_real", WEB, real("2001:db8::77", forwarding="dr"))])
    assert str(info.value).startswith("real server [2001:db8::77]:80 of service TCP 192.0.2.10:80: the kernel "
                                      "refused the attribute set (EINVAL)")


def test_lost_acknowledgements_are_reported_unknown():
    k, transport = kernel()
    with k:
        ops = [Operation("add_service", Service(key=ServiceKey(family="ipv4", fwmark=n))) for n in range(1, 11)]
        k.apply(ops[:6], batch_size=6)
        transport.capacity = 0  # the one acknowledgement of the next sendmsg is lost
        with pytest.raises(IpvsOperationError) as info:
            k.apply(ops[6:], batch_size=2)
    error = info.value
    assert error.errno == errno.ENOBUFS and "outcome is unknown" in str(error)
    assert error.applied == [] and error.unknown == ops[6:8] and error.not_applied == ops[8:]
    assert len(transport.services) == 8  # the kernel did apply the whole sendmsg


def test_a_socket_failure_part_way_names_what_was_applied_and_what_was_not():
    k, transport = kernel()
    with k:
        k.info()  # the family is resolved before the failure
        ops = [Operation("add_service", Service(key=ServiceKey(family="ipv4", fwmark=n))) for n in range(1, 7)]
        send = transport.send
        sends = []

        def send_then_fail(data):
            sends.append(data)
            if len(sends) > 1:
                raise nl.NetlinkError(errno.ECONNREFUSED, "netlink send failed")
            send(data)

        transport.send = send_then_fail
        with pytest.raises(IpvsOperationError) as info:
            k.apply(ops, batch_size=2)
    error = info.value
    assert error.errno == errno.ECONNREFUSED and "not sent" in str(error)
    assert error.applied == ops[:2] and error.unknown == [] and error.not_applied == ops[2:]
    assert len(transport.services) == 2


def test_info_timeouts_daemons_zero_flush():
    k, transport = kernel()
    with k:
        assert k.info() == {"version": "1.2.1", "version_code": 0x010201, "conn_tab_size": 4096}
        assert k.timeouts() == Timeouts(900, 120, 300)
        k.set_timeouts(Timeouts(tcp=600))
        assert k.timeouts() == Timeouts(600, 120, 300)
        assert k.read_table(with_timeouts=True).timeouts == Timeouts(600, 120, 300)
        daemon = Daemon(state="master", mcast_interface="eth0", syncid=3)
        k.start_daemon(daemon)
        with pytest.raises(IpvsKernelError, match="already running"):
            k.start_daemon(daemon)
        assert k.daemons() == [daemon]
        k.stop_daemon("master")
        with pytest.raises(IpvsKernelError, match="no master sync daemon"):
            k.stop_daemon(daemon)
        assert k.daemons() == []
        build(k)
        k.zero()
        k.zero(TCP80)
        with pytest.raises(IpvsKernelError, match="no such service FWM 9 IPv4"):
            k.zero(ServiceKey(family="ipv4", fwmark=9))
        k.flush()
        assert k.read_table().services == ()


def test_apply_nothing_sends_nothing():
    k, transport = kernel()
    with k:
        sends = len(transport.sends)
        assert k.apply([]) == []
        assert len(transport.sends) == sends


def test_thousand_services_in_batches_of_100():
    k, transport = kernel(per_datagram=50)
    with k:
        ops = [Operation("add_service", Service(key=ServiceKey(family="ipv4", fwmark=n))) for n in range(1, 1001)]
        assert len(k.apply(ops)) == 1000
        batches = [len(nl.parse_messages(data)) for data in transport.sends[1:]]
        assert batches == [100] * 10
        assert len(k.read_services()) == 1000


def test_with_the_plan_operation():
    k, _transport = kernel()
    with k:
        k.apply([plan.Operation("add_service", WEB), plan.Operation("add_real", WEB, R1)])
        assert k.read_service(TCP80) == WEB.with_reals([R1])


# Reading against the expected table: unchanged reals are recognised by their bytes, only the others decoded.

DESIRED = Table(services=(WEB.with_reals([R1, R2, R3]), DNS6.with_reals([real("2001:db8::53", port=53)]), MARK))


def test_reading_against_the_expected_table_returns_its_objects_and_plans_nothing():
    k, _transport = kernel()
    with k:
        build(k)
        current = k.read_table(expected=DESIRED)
        assert current == k.read_table()
    for service in DESIRED.services:
        assert current.get(service.key) is service
    assert plan.plan_table(current, DESIRED, purge=True) == []


@pytest.mark.parametrize("change", ["weight", "extra real", "missing real", "scheduler", "tunnel port",
                                    "foreign service"])
def test_reading_against_the_expected_table_plans_what_reading_it_all_plans(change):
    k, _transport = kernel()
    with k:
        build(k)
        if change == "weight":
            k.apply([Operation("edit_real", WEB, replace(R2, weight=9))])
        elif change == "extra real":
            k.apply([Operation("add_real", MARK, real("198.51.100.9", port=0))])
        elif change == "missing real":
            k.apply([Operation("delete_real", WEB, R1)])
        elif change == "scheduler":
            k.apply([Operation("edit_service", replace(WEB, scheduler="rr"))])
        elif change == "tunnel port":
            k.apply([Operation("edit_real", WEB, replace(R3, tun_port=6081))])
        else:
            k.apply([Operation("add_service", Service(key=TCP81))])
        fast = k.read_table(expected=DESIRED)
        full = k.read_table()
    assert fast == full
    for purge in (True, False):
        planned = plan.plan_table(fast, DESIRED, purge=purge)
        assert planned == plan.plan_table(full, DESIRED, purge=purge)
        assert planned or (change == "foreign service" and not purge)
    changed = [key for key in (TCP80, FWM1) if fast.get(key) is not DESIRED.get(key)]
    assert changed == ([] if change == "foreign service" else [FWM1] if change == "extra real" else [TCP80])


def test_reading_only_some_services():
    k, transport = kernel()
    with k:
        build(k)
        before = transport.commands.count(wire.IPVS_CMD_GET_DEST)
        table = k.read_table(expected=DESIRED, only={TCP80})
        assert transport.commands.count(wire.IPVS_CMD_GET_DEST) == before + 1
    assert [service.key for service in table.services] == [TCP80]


def test_statistics_turn_the_expected_shortcut_off():
    k, _transport = kernel()
    with k:
        build(k)
        table = k.read_table(stats=True, expected=DESIRED)
    assert table.get(TCP80) is not DESIRED.get(TCP80)
    assert table.get(TCP80).reals[0].active_conns == 7


def test_a_writer_racing_the_dumps_cannot_make_the_plan_touch_what_it_did_not_read():
    """IPVS dumps are no snapshot: another writer changes the table between the dumps of one read. What it added
    after the part of the read that would have shown it is not in the plan, even with purge."""
    k, transport = kernel()
    with k:
        build(k)
        handle = transport._dump
        racing = {"done": False}

        def dump_then_race(cmd, attrs):
            replies = handle(cmd, attrs)
            if cmd == wire.IPVS_CMD_GET_DEST and not racing["done"]:
                racing["done"] = True  # right after the first destination dump: a real and a service appear
                first = wire.decode_service_key(attrs)
                transport.reals[first][("198.51.100.99", 80)] = real("198.51.100.99")
                transport.services[TCP81] = Service(key=TCP81)
                transport.reals[TCP81] = {}
            return replies

        transport._dump = dump_then_race
        current = k.read_table(expected=DESIRED)
    operations = plan.plan_table(current, DESIRED, purge=True)
    touched = set((op.service.key, op.real.address if op.real is not None else None) for op in operations)
    assert (TCP81, None) not in touched
    assert not any(address == "198.51.100.99" for _key, address in touched)
    assert TCP81 not in [service.key for service in current.services]


# ---------------------------------------------------------------------------------------------------------------
# Kernel modules: what the kernel can load, read from kmod's index files
# ---------------------------------------------------------------------------------------------------------------


def _module_tree(tmp_path, release="6.1.0-50-amd64", dep=None, builtin=None, loaded=None):
    module_dir = tmp_path / "lib" / "modules" / release
    module_dir.mkdir(parents=True)
    if dep is not None:
        (module_dir / "modules.dep").write_text(dep)
    if builtin is not None:
        (module_dir / "modules.builtin").write_text(builtin)
    if loaded is not None:
        (tmp_path / "proc").mkdir()
        (tmp_path / "proc" / "modules").write_text(loaded)
    return str(tmp_path)


def test_missing_kernel_modules_reads_installed_builtin_and_loaded_modules(tmp_path):
    root = _module_tree(
        tmp_path,
        dep="kernel/net/netfilter/ipvs/ip_vs.ko.xz: kernel/net/netfilter/nf_conntrack.ko.xz\n"
            "kernel/net/netfilter/ipvs/ip_vs_rr.ko.xz: kernel/net/netfilter/ipvs/ip_vs.ko.xz\n"
            "kernel/net/netfilter/ipvs/ip_vs_pe_sip.ko: kernel/net/netfilter/ipvs/ip_vs.ko.xz\n\n",
        builtin="kernel/net/netfilter/ipvs/ip_vs_wlc.ko\n",
        loaded="ip_vs_mh 16384 1 - Live 0x0000000000000000\n")
    release, missing = missing_kernel_modules(
        ["ip_vs_rr", "ip_vs_wlc", "ip_vs_mh", "ip_vs_pe_sip", "ip_vs_twos", "ip_vs-ovf"], root=root,
        release="6.1.0-50-amd64")
    assert release == "6.1.0-50-amd64"
    assert missing == ["ip_vs_ovf", "ip_vs_twos"]


def test_missing_kernel_modules_is_unknown_without_a_module_index(tmp_path):
    root = _module_tree(tmp_path, loaded="ip_vs 1 0 - Live 0x0\n")
    assert missing_kernel_modules(["ip_vs_twos"], root=root, release="6.1.0-50-amd64") == ("6.1.0-50-amd64", None)
    assert missing_kernel_modules(["ip_vs_twos"], root=root, release="6.12.0-1-amd64") == ("6.12.0-1-amd64", None)


def test_kernel_modules_needed_names_new_and_changed_schedulers_and_engines_only():
    key = ServiceKey(family="ipv4", protocol="udp", address="192.0.2.10", port=5060)
    current = Service(key=key, scheduler="rr", persistent=60, pe_name="sip")
    edited = replace(current, scheduler="twos")
    added = Service(key=replace(key, port=5061), scheduler="rr", persistent=60, pe_name="sip")
    needed = plan.kernel_modules_needed(
        plan.plan_service(current, edited, manage_reals=False) + plan.plan_service(None, added, manage_reals=False)
        + plan.plan_service(current, replace(current, persistent=120), manage_reals=False))
    assert needed == {"ip_vs_twos": ("scheduler 'twos'", edited), "ip_vs_rr": ("scheduler 'rr'", added),
                      "ip_vs_pe_sip": ("persistence engine 'sip'", added)}
