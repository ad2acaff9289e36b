#!/usr/bin/env python3
# -*- coding: utf-8 -*-
# Copyright (c) 2026, lvs.cluster contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Record real IPVS generic netlink traffic into a JSON fixture for the unit tests to replay.

Run as root INSIDE the lab director (a kernel with IPVS), from a checkout of the collection:

    sudo python3 tests/tools/capture_ipvs_netlink.py [--output FILE] [--daemon-interface IFACE] [--keep]

It FLUSHES the IPVS table of the current network namespace first and at the end (unless --keep): run it in a
throw-away VM or namespace (``ip netns exec lab python3 ...``). Standard library only; it drives the
collection's own ``_netlink`` / ``_ipvs_wire`` code through a transport that records every datagram sent and
received as hex. Failures that are part of the script (expected errnos) are recorded, not fatal.
"""

from __future__ import absolute_import, division, print_function

import argparse
import datetime
import json
import os
import platform
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
REPO_ROOT = os.path.dirname(os.path.dirname(HERE))
DEFAULT_OUTPUT = os.path.join(REPO_ROOT, "tests", "unit", "plugins", "module_utils", "fixtures", "netlink",
                              "ipvs_capture.json")


def _make_importable():
    """Expose this checkout as ``ansible_collections.lvs.cluster`` (like tests/unit/conftest.py)."""
    try:
        import ansible_collections.lvs.cluster  # noqa: F401  pylint: disable=unused-import
        return
    except ImportError:
        pass
    base = tempfile.mkdtemp(prefix="lvs-capture-")
    os.makedirs(os.path.join(base, "ansible_collections", "lvs"))
    os.symlink(REPO_ROOT, os.path.join(base, "ansible_collections", "lvs", "cluster"))
    sys.path.insert(0, base)


_make_importable()

from ansible_collections.lvs.cluster.plugins.module_utils import _netlink as nl  # noqa: E402
from ansible_collections.lvs.cluster.plugins.module_utils import _ipvs_wire as wire  # noqa: E402
from ansible_collections.lvs.cluster.plugins.module_utils._ipvs_model import (  # noqa: E402
    Daemon, Real, Service, ServiceKey, Timeouts,
)


class RecordingTransport(nl.SocketTransport):
    """A real netlink socket that appends every datagram to the current exchange."""

    def __init__(self, *args, **kwargs):
        super(RecordingTransport, self).__init__(*args, **kwargs)
        self.exchange = None

    def send(self, data):
        if self.exchange is not None:
            self.exchange["sent"].append(bytes(data).hex())
        super(RecordingTransport, self).send(data)

    def recv(self, block=True):
        data = super(RecordingTransport, self).recv(block=block)
        if data is not None and self.exchange is not None:
            self.exchange["received"].append(bytes(data).hex())
        return data


# The scripted table -------------------------------------------------------------------------------------------
TCP = ServiceKey(family="ipv4", protocol="tcp", address="192.0.2.10", port=80)
UDP = ServiceKey(family="ipv4", protocol="udp", address="192.0.2.10", port=53)
PERSIST = ServiceKey(family="ipv4", protocol="tcp", address="192.0.2.11", port=443)
ALLPORTS = ServiceKey(family="ipv4", protocol="tcp", address="192.0.2.12", port=0)
SCTP = ServiceKey(family="ipv4", protocol="sctp", address="192.0.2.13", port=3868)
FWM4 = ServiceKey(family="ipv4", fwmark=1)
FWM6 = ServiceKey(family="ipv6", fwmark=2)
TCP6 = ServiceKey(family="ipv6", protocol="tcp", address="2001:db8::10", port=80)
UDP6 = ServiceKey(family="ipv6", protocol="udp", address="2001:db8::10", port=53)

SERVICES = [
    Service(key=TCP, scheduler="wlc"),
    Service(key=UDP, scheduler="rr", one_packet=True),
    Service(key=PERSIST, scheduler="sh", persistent=300, persistence_prefix=24,
            scheduler_flags=("sh-fallback", "sh-port")),
    Service(key=ALLPORTS, scheduler="wrr", persistent=60),
    Service(key=SCTP, scheduler="lc"),
    Service(key=FWM4, scheduler="mh", scheduler_flags=("mh-port",)),
    Service(key=FWM6, scheduler="wrr", persistent=120, persistence_prefix=64),
    Service(key=TCP6, scheduler="wlc", persistent=600, persistence_prefix=48),
    Service(key=UDP6, scheduler="rr", persistent=30, pe_name="sip"),
]


def r(address, port=80, **kwargs):
    return Real(address=address, port=port, family="ipv6" if ":" in address else "ipv4", **kwargs)


REALS = [
    (TCP, r("198.51.100.1", weight=1)),
    (TCP, r("198.51.100.2", forwarding="nat", port=8080, weight=5, u_threshold=1000, l_threshold=100)),
    (TCP, r("198.51.100.3", forwarding="tun", tun_type="ipip", tun_port=0)),
    (TCP, r("198.51.100.4", forwarding="tun", tun_type="gue", tun_port=6080, tun_flags=("csum",))),
    (TCP, r("198.51.100.5", forwarding="tun", tun_type="gue", tun_port=6081, tun_flags=("remcsum",))),
    (TCP, r("198.51.100.6", forwarding="tun", tun_type="gre", tun_port=0, tun_flags=("csum",))),
    (TCP, r("2001:db8::99", forwarding="tun", tun_type="ipip", tun_port=0)),  # mixed family: tunnel only
    (UDP, r("198.51.100.1", port=53, weight=0)),
    (PERSIST, r("198.51.100.7", port=443)),
    (ALLPORTS, r("198.51.100.8", port=0)),
    (SCTP, r("198.51.100.9", port=3868, forwarding="nat")),
    (FWM4, r("198.51.100.10", port=0)),
    (FWM6, r("2001:db8::21", port=0)),
    (TCP6, r("2001:db8::22", weight=2)),
    (TCP6, r("2001:db8::23", forwarding="nat", port=8080)),
    (UDP6, r("2001:db8::24", port=53)),
]


class Capture:
    def __init__(self, sock, transport, family_id):
        self.sock = sock
        self.transport = transport
        self.family_id = family_id
        self.exchanges = []

    def _begin(self, step, kind, expect=None):
        exchange = {"step": step, "kind": kind, "sent": [], "received": [], "errno": None}
        if expect is not None:
            exchange["expect"] = expect
        self.exchanges.append(exchange)
        self.transport.exchange = exchange
        return exchange

    def request(self, step, payload, expect=None):
        exchange = self._begin(step, "request", expect)
        try:
            self.sock.request(self.family_id, payload)
        except nl.NetlinkError as exc:
            exchange["errno"] = exc.errno
            print("  %-40s -> %s" % (step, exc))
        self.transport.exchange = None

    def dump(self, step, payload, expect=None):
        exchange = self._begin(step, "dump", expect)
        try:
            self.sock.dump(self.family_id, payload)
        except nl.NetlinkError as exc:
            exchange["errno"] = exc.errno
            print("  %-40s -> %s" % (step, exc))
        self.transport.exchange = None

    def batch(self, step, payloads, chunk):
        exchange = self._begin(step, "batch")
        outcomes = self.sock.batch([(self.family_id, payload, 0) for payload in payloads], chunk=chunk,
                                   stop_on_error=False)
        exchange["outcomes"] = [[o.status, o.error.errno if o.error else None] for o in outcomes]
        self.transport.exchange = None


def run(args):
    transport = RecordingTransport()
    sock = nl.NetlinkSocket(transport)
    lookup = {"step": "resolve family IPVS", "kind": "resolve", "sent": [], "received": [], "errno": None}
    transport.exchange = lookup
    family = sock.resolve_family(wire.IPVS_GENL_NAME)
    transport.exchange = None
    capture = Capture(sock, transport, family["id"])
    capture.exchanges.append(lookup)
    print("IPVS family id %d, version %d" % (family["id"], family["version"]))

    capture.request("flush", wire.flush())
    capture.request("get info", wire.get_info())
    capture.request("get config", wire.get_config())
    capture.request("set config 900/120/300", wire.set_config(Timeouts(900, 120, 300)))
    capture.request("get config after set", wire.get_config(), expect={"tcp": 900, "tcp_fin": 120, "udp": 300})
    for service in SERVICES:
        capture.request("new service %s" % service.key, wire.new_service(service))
    for key, real in REALS:
        capture.request("new dest %s -> %s" % (key, real), wire.new_dest(key, real))
    # Expected errors
    capture.request("new service again (EEXIST)", wire.new_service(SERVICES[0]))
    capture.request("new service bad scheduler (ENOENT)",
                    wire.new_service(Service(key=ServiceKey(family="ipv4", protocol="tcp", address="192.0.2.99",
                                                            port=1), scheduler="nosuchsched")))
    capture.request("new dest again (EEXIST)", wire.new_dest(*REALS[0]))
    capture.request("set dest missing (ENOENT)", wire.set_dest(TCP, r("198.51.100.250")))
    capture.request("del dest missing (ENOENT)", wire.del_dest(TCP, r("198.51.100.250")))
    capture.request("dest for missing service (ESRCH)",
                    wire.new_dest(ServiceKey(family="ipv4", fwmark=4242), r("198.51.100.1", port=0)))
    capture.request("mixed family dr dest (EINVAL)", wire.new_dest(TCP, r("2001:db8::98")))
    capture.request("get missing service (ESRCH)", wire.get_service(ServiceKey(family="ipv4", fwmark=4242)))
    # Edits
    edited = Service(key=TCP, scheduler="rr")
    capture.request("set service %s scheduler rr" % TCP, wire.set_service(edited))
    capture.request("set dest weight 7", wire.set_dest(TCP, r("198.51.100.1", weight=7)))
    capture.request("zero one", wire.zero(TCP))
    capture.request("zero all", wire.zero())
    # Reads: expected model, as the unit test will compare it
    reals_by_key = {}
    for key, real in REALS:
        reals_by_key.setdefault(key, []).append(real)
    reals_by_key[TCP] = [r("198.51.100.1", weight=7) if real.address == "198.51.100.1" else real
                         for real in reals_by_key[TCP]]
    expected = []
    for service in SERVICES:
        service = edited if service.key == TCP else service
        expected.append(service.with_reals(reals_by_key.get(service.key, [])).to_dict())
    capture.request("get service %s" % PERSIST, wire.get_service(PERSIST),
                    expect=[s for s in expected if _same(s, PERSIST)])
    capture.dump("dump services", wire.get_service(), expect=expected)
    for service in SERVICES:
        capture.dump("dump dests %s" % service.key, wire.get_dest(service.key),
                     expect=[real.to_dict() for real in sorted(reals_by_key.get(service.key, []), key=Real.sort_key)])
    capture.dump("dump dests of missing service (empty)", wire.get_dest(ServiceKey(family="ipv4", fwmark=4242)),
                 expect=[])
    # Batches: 250 services in chunks of 100, then a batch with errors in the middle
    many = [Service(key=ServiceKey(family="ipv4", fwmark=10000 + n), scheduler="rr") for n in range(250)]
    capture.batch("batch 250 new services, 100 per sendmsg", [wire.new_service(s) for s in many], chunk=100)
    mixed = [wire.new_service(Service(key=ServiceKey(family="ipv4", fwmark=20001))), wire.new_service(many[0]),
             wire.new_service(Service(key=ServiceKey(family="ipv4", fwmark=20002))), wire.del_service(many[1].key)]
    capture.batch("batch with EEXIST in the middle", mixed, chunk=10)
    # Sync daemons
    if args.daemon_interface:
        master = Daemon(state="master", mcast_interface=args.daemon_interface, syncid=5, sync_maxlen=1400,
                        mcast_group="239.1.2.3", mcast_port=8848, mcast_ttl=2)
        backup = Daemon(state="backup", mcast_interface=args.daemon_interface, syncid=5)
        capture.request("new daemon master", wire.new_daemon(master))
        capture.request("new daemon backup", wire.new_daemon(backup))
        capture.dump("dump daemons", wire.get_daemon())
        capture.request("del daemon master", wire.del_daemon("master"))
        capture.request("del daemon backup", wire.del_daemon("backup"))
        capture.request("del daemon master again (ESRCH)", wire.del_daemon("master"))
    if not args.keep:
        capture.request("flush at the end", wire.flush())
    sock.close()
    return {
        "format": 1,
        "captured_at": datetime.datetime.utcnow().replace(microsecond=0).isoformat() + "Z",
        "kernel": platform.release(),
        "machine": platform.machine(),
        "byteorder": sys.byteorder,
        "family": family,
        "exchanges": capture.exchanges,
    }


def _same(service_dict, key):
    return all(service_dict.get(name) == value for name, value in key.to_dict().items())


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", maxsplit=1)[0])
    parser.add_argument("--output", default=DEFAULT_OUTPUT)
    parser.add_argument("--daemon-interface", default="lo",
                        help="interface for the sync daemon steps ('' to skip them)")
    parser.add_argument("--keep", action="store_true", help="leave the scripted table in place")
    args = parser.parse_args()
    if os.geteuid() != 0:
        parser.error("needs root (CAP_NET_ADMIN)")
    result = run(args)
    directory = os.path.dirname(os.path.abspath(args.output))
    if not os.path.isdir(directory):
        os.makedirs(directory)
    with open(args.output, "w") as handle:
        json.dump(result, handle, indent=1, sort_keys=True)
        handle.write("\n")
    print("wrote %d exchanges to %s" % (len(result["exchanges"]), args.output))


if __name__ == "__main__":
    main()
