# -*- coding: utf-8 -*-
# Copyright (c) 2026, lvs.cluster contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""roles/netstate/files/lvs-netstate against a simulated host: validate, make before break, restore, host lock.

The script is loaded from its file; its ``run`` is replaced by ``FakeHost.run``, which keeps devices, addresses,
routes, FOU ports, the IPVS table and nft files in memory (sysctls are files under a tmp /proc/sys) and logs every
command, so the tests can check both the host that results and the order in which it was changed.
"""
import fcntl
import importlib.machinery
import importlib.util
import json
import os
import re
import subprocess
import time

import pytest

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
SCRIPT = os.path.join(REPO_ROOT, "roles", "netstate", "files", "lvs-netstate")
VIP = "192.0.2.100"


def load_script():
    loader = importlib.machinery.SourceFileLoader("lvs_netstate_under_test", SCRIPT)
    spec = importlib.util.spec_from_loader(loader.name, loader)
    module = importlib.util.module_from_spec(spec)
    loader.exec_module(module)
    return module


# Kernel modules that create a fallback device in every namespace when they load.
FALLBACK = {"ipip": "tunl0", "gre": "gre0", "ip6tnl": "ip6tnl0", "ip6gre": "ip6gre0"}
SYSCTLS = {
    "net.ipv4.ip_forward": "0",
    "net.ipv4.conf.all.arp_ignore": "0",
    "net.ipv4.conf.all.arp_announce": "0",
    "net.ipv4.conf.all.rp_filter": "1",
    "net.ipv4.conf.lo.arp_ignore": "0",
    "net.ipv4.conf.lo.arp_announce": "0",
    "net.ipv4.vs.expire_nodest_conn": "0",
}


def result(args, returncode=0, stdout="", stderr=""):
    return subprocess.CompletedProcess(list(args), returncode, stdout, stderr)


class FakeHost(object):
    """A tiny Linux host: what `ip`, `nft`, `ipvsadm` and `modprobe` see and change."""

    def __init__(self, module, tmp_path, devices=("lo", "eth0", "eth1", "eth2")):
        self.module = module
        self.proc = tmp_path / "proc" / "sys"
        self.devices = {}
        for name in devices:
            self.devices[name] = {"up": True, "deletable": False, "addresses": set()}
        self.routes = {"-4": {"default": "198.51.100.1 dev eth0 proto static"}, "-6": {}}
        self.fou = set()
        self.ipvs = ""
        self.ipvs_timeouts = [900, 120, 300]  # the kernel's defaults
        self.nft_tables = []
        self.nft_bad = set()
        self.ipvs_sysctls_on_first_use = {}
        self.fail = {}  # command prefix -> stderr: the command fails
        self.log = []
        self.watch = None  # called after every command (invariants)
        for name, value in SYSCTLS.items():
            self.set_sysctl(name, value)
        for name in devices:
            self.add_device_sysctls(name)

    # -- sysctls as files -------------------------------------------------------------------------------------
    def sysctl_file(self, name):
        return self.proc.joinpath(*name.split("."))

    def set_sysctl(self, name, value):
        path = self.sysctl_file(name)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(str(value))

    def sysctl(self, name):
        return self.sysctl_file(name).read_text().strip()

    def add_device_sysctls(self, name):
        for leaf, value in (("rp_filter", "1"), ("arp_ignore", "0"), ("arp_announce", "0")):
            path = self.sysctl_file("net.ipv4.conf.%s.%s" % (name, leaf))
            if not path.exists():
                self.set_sysctl("net.ipv4.conf.%s.%s" % (name, leaf), value)

    def sysctl_path(self, name):
        return str(self.sysctl_file(name))

    # -- what the tests look at -------------------------------------------------------------------------------
    def holders(self, cidr):
        return sorted(name for name, device in self.devices.items() if cidr in device["addresses"])

    def snapshot(self):
        sysctls = {}
        for path in sorted(self.proc.rglob("*")):
            if path.is_file():
                sysctls[".".join(path.relative_to(self.proc).parts)] = path.read_text()
        return json.dumps({
            "devices": dict((name, {"up": d["up"], "addresses": sorted(d["addresses"])})
                            for name, d in self.devices.items()),
            "routes": self.routes, "fou": sorted(self.fou), "ipvs": self.ipvs, "nft": self.nft_tables,
            "ipvs_timeouts": self.ipvs_timeouts,
            "sysctls": sysctls,
        }, sort_keys=True)

    def changes(self, since=0):
        """The commands from log[since:] that change the host (everything but show, nft -c, ipvsadm -Sn)."""
        return [cmd for cmd in self.log[since:]
                if "show" not in cmd and cmd[:2] != ("nft", "-c")
                and cmd not in (("ipvsadm", "-Sn"), ("ipvsadm", "-Ln"), ("ipvsadm", "-L", "--timeout"))]

    # -- the commands -----------------------------------------------------------------------------------------
    def run(self, *args, check=True, stdin=None):
        self.log.append(tuple(args))
        outcome = self.execute(tuple(args), stdin)
        if self.watch:
            self.watch(tuple(args))
        if check and outcome.returncode != 0:
            raise self.module.CommandFailed(args, outcome.stderr)
        return outcome

    def execute(self, args, stdin):
        for prefix, stderr in self.fail.items():
            if args[:len(prefix)] == prefix:
                return result(args, 2, stderr=stderr)
        if args[:3] == ("ip", "-batch", "-"):
            return self.ip_batch(args, stdin)
        if args[0] == "ip":
            return self.ip(args)
        if args[0] == "nft":
            path = args[-1]
            if path in self.nft_bad:
                return result(args, 1, stderr="%s:3:1-5: Error: syntax error, unexpected junk" % path)
            if args[1] != "-c":
                self.nft_tables.append(path)
            return result(args)
        if args == ("ipvsadm", "-Ln"):
            # IPVS used for the first time in this network namespace: its net.ipv4.vs.* sysctls appear.
            for name, value in self.ipvs_sysctls_on_first_use.items():
                self.set_sysctl(name, value)
            return result(args, stdout="IP Virtual Server version 1.2.1 (size=4096)\n")
        if args == ("ipvsadm", "-Sn"):
            return result(args, stdout=self.ipvs)
        if args == ("ipvsadm", "-R"):
            self.ipvs = stdin
            return result(args)
        if args == ("ipvsadm", "-C"):
            self.ipvs = ""
            return result(args)
        if args == ("ipvsadm", "-L", "--timeout"):
            return result(args, stdout="Timeout (tcp tcpfin udp): %d %d %d\n" % tuple(self.ipvs_timeouts))
        if args[:2] == ("ipvsadm", "--set"):
            self.ipvs_timeouts = [int(value) for value in args[2:]]
            return result(args)
        if args[0] == "modprobe":
            return result(args)
        raise AssertionError("unexpected command %r" % (args,))

    def ip_batch(self, args, stdin):
        """``ip -batch -``: each line runs (and is logged) as the ``ip`` command it stands for, up to the first
        that fails, as iproute2 does without ``-force``."""
        for number, line in enumerate(stdin.splitlines(), 1):
            words = line.split()
            assert words[:2] == ["address", "replace"], line
            command = ("ip", "-6" if ":" in words[2] else "-4", "addr", "replace") + tuple(words[2:])
            self.log.append(command)
            outcome = self.execute(command, None)
            if self.watch:
                self.watch(command)
            if outcome.returncode != 0:
                return result(args, 1, stderr="%s\nCommand failed -:%d\n" % (outcome.stderr, number))
        return result(args)

    def ip(self, args):
        words = list(args[1:])
        family = "-4"
        if words[0] in ("-4", "-6"):
            family = words.pop(0)
        if words[0] == "-o":
            words.pop(0)
        kind, verb, rest = words[0], words[1], words[2:]
        if kind == "link":
            return self.link(args, verb, rest)
        if kind == "addr":
            return self.addr(args, family, verb, rest)
        if kind == "route":
            return self.route(args, family, verb, rest)
        if kind == "fou":
            if verb == "show":
                return result(args, stdout="".join("port %d gue\n" % port for fam, port in sorted(self.fou)
                                                   if fam == family))
            port = int(rest[1])
            if verb == "add":
                if (family, port) in self.fou:
                    return result(args, 2, stderr="RTNETLINK answers: Address already in use")
                self.fou.add((family, port))
                return result(args)
            if (family, port) not in self.fou:
                return result(args, 2, stderr="RTNETLINK answers: No such file or directory")
            self.fou.discard((family, port))
            return result(args)
        raise AssertionError("unexpected command %r" % (args,))

    def missing(self, args, name):
        return result(args, 1, stderr='Cannot find device "%s"' % name)

    def link(self, args, verb, rest):
        if verb == "show":
            name = rest[1]
            if name not in self.devices:
                return result(args, 1, stderr='Device "%s" does not exist.' % name)
            flags = "NOARP,UP,LOWER_UP" if self.devices[name]["up"] else "NOARP"
            return result(args, stdout="7: %s@NONE: <%s> mtu 1480 qdisc noqueue state UNKNOWN\n" % (name, flags))
        if verb == "add":
            name, kind = rest[1], rest[3]
            fallback = FALLBACK[kind]
            if fallback not in self.devices:
                # Loading the module creates its fallback device, which cannot be deleted.
                self.devices[fallback] = {"up": False, "deletable": False, "addresses": set()}
                self.add_device_sysctls(fallback)
            if name in self.devices:
                return result(args, 2, stderr="RTNETLINK answers: File exists")
            self.devices[name] = {"up": False, "deletable": True, "addresses": set()}
            self.add_device_sysctls(name)
            return result(args)
        if verb == "set":
            name = rest[1]
            if name not in self.devices:
                return self.missing(args, name)
            self.devices[name]["up"] = rest[2] == "up"
            return result(args)
        if verb == "del":
            name = rest[1]
            if name not in self.devices:
                return self.missing(args, name)
            if not self.devices[name]["deletable"]:
                return result(args, 2, stderr="RTNETLINK answers: Operation not supported")
            del self.devices[name]
            return result(args)
        raise AssertionError("unexpected command %r" % (args,))

    def addr(self, args, family, verb, rest):
        if verb == "show" and not rest:  # every device, both families
            lines = ["3: %s    %s %s scope global %s\\       valid_lft forever preferred_lft forever"
                     % (name, "inet6" if ":" in cidr else "inet", cidr, name)
                     for name, device in sorted(self.devices.items()) for cidr in sorted(device["addresses"])]
            return result(args, stdout="".join(line + "\n" for line in lines))
        if verb == "show":
            name = rest[1]
            if name not in self.devices:
                return result(args, 1, stderr='Device "%s" does not exist.' % name)
            word = "inet6" if family == "-6" else "inet"
            lines = ["3: %s    %s %s scope global %s\\       valid_lft forever preferred_lft forever"
                     % (name, word, cidr, name) for cidr in sorted(self.devices[name]["addresses"])
                     if (":" in cidr) == (family == "-6")]
            return result(args, stdout="".join(line + "\n" for line in lines))
        cidr, name = rest[0], rest[2]
        if name not in self.devices:
            return self.missing(args, name)
        if verb == "replace":
            self.devices[name]["addresses"].add(cidr)
            return result(args)
        if verb == "del":
            if cidr not in self.devices[name]["addresses"]:
                return result(args, 2, stderr="RTNETLINK answers: Cannot assign requested address")
            self.devices[name]["addresses"].discard(cidr)
            return result(args)
        raise AssertionError("unexpected command %r" % (args,))

    def route(self, args, family, verb, rest):
        table = self.routes[family]
        if verb == "show":
            to = rest[2]
            return result(args, stdout="%s via %s\n" % (to, table[to]) if to in table else "")
        to = rest[0]
        via = " ".join(rest[2:])
        if verb == "replace":
            table[to] = via
            return result(args)
        if verb == "del":
            if table.get(to, "").split()[:1] != [rest[2]]:
                return result(args, 2, stderr="RTNETLINK answers: No such process")
            del table[to]
            return result(args)
        raise AssertionError("unexpected command %r" % (args,))


@pytest.fixture
def script(tmp_path, monkeypatch):
    module = load_script()
    monkeypatch.setattr(module, "STATE_DIR", str(tmp_path / "run" / "lvs-netstate"))
    monkeypatch.setattr(module, "LOCK_PATH", str(tmp_path / "run" / "lock" / "lvs-cluster.lock"))
    monkeypatch.delenv("LVS_NETSTATE_LOCK_TIMEOUT", raising=False)
    return module


@pytest.fixture
def host(script, tmp_path, monkeypatch):
    fake = FakeHost(script, tmp_path)
    monkeypatch.setattr(script, "run", fake.run)
    monkeypatch.setattr(script, "sysctl_path", fake.sysctl_path)
    return fake


class Node(object):
    """The state file of one lvs-netstate instance, and its commands."""

    def __init__(self, script, tmp_path, name="director"):
        self.script = script
        self.path = tmp_path / "etc" / "lvs-cluster" / ("%s.json" % name)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.state_dir = tmp_path / "run" / "lvs-netstate"
        self.applied_path = self.state_dir / ("%s.applied.json" % name)
        self.saved_path = self.state_dir / ("%s.sysctls.json" % name)

    def write(self, config):
        self.path.write_text(json.dumps(config))

    def applied(self):
        return json.loads(self.applied_path.read_text()) if self.applied_path.exists() else None

    def __call__(self, command, capsys):
        status = self.script.main(["lvs-netstate", command, str(self.path)])
        return status, capsys.readouterr().err


@pytest.fixture
def node(script, tmp_path):
    return Node(script, tmp_path)


def director(device="eth1", **extra):
    config = {
        "addresses": [{"address": VIP, "prefix": 32, "family": "ipv4", "device": device}],
        "sysctls": {"net.ipv4.vs.expire_nodest_conn": "1"},
        "nft_files": [],
        "ipvs_rules": "",
    }
    config.update(extra)
    return config


def assert_vip_always_held(host, cidr=VIP + "/32"):
    """After every command from now on, some device holds the VIP."""
    def watch(args):
        assert host.holders(cidr), "after %s the VIP %s is on no device" % (" ".join(args), cidr)
    host.watch = watch


# -- make before break ------------------------------------------------------------------------------------------
def test_a_reload_adds_the_vip_to_the_new_device_before_removing_it_from_the_old_one(host, node, capsys):
    node.write(director("eth1"))
    assert node("start", capsys) == (0, "")
    assert host.holders(VIP + "/32") == ["eth1"]

    node.write(director("eth2"))
    since = len(host.log)
    assert_vip_always_held(host)
    assert node("reload", capsys) == (0, "")

    changes = host.changes(since)
    added = changes.index(("ip", "-4", "addr", "replace", VIP + "/32", "dev", "eth2"))
    removed = changes.index(("ip", "-4", "addr", "del", VIP + "/32", "dev", "eth1"))
    assert added < removed
    assert host.holders(VIP + "/32") == ["eth2"]
    assert node.applied() == director("eth2")


def test_a_reload_replaces_a_route_before_removing_the_stale_one(host, node, capsys):
    node.write(director(routes=[{"to": "203.0.113.0/24", "via": "198.51.100.1"}]))
    assert node("start", capsys) == (0, "")
    node.write(director(routes=[{"to": "203.0.113.0/24", "via": "198.51.100.2"}]))
    since = len(host.log)
    assert node("reload", capsys) == (0, "")
    changes = host.changes(since)
    assert changes.index(("ip", "-4", "route", "replace", "203.0.113.0/24", "via", "198.51.100.2")) < \
        changes.index(("ip", "-4", "route", "del", "203.0.113.0/24", "via", "198.51.100.1"))
    assert host.routes["-4"]["203.0.113.0/24"] == "198.51.100.2"


# -- validation: a wrong state file changes nothing ----------------------------------------------------------
def test_a_vip_device_that_does_not_exist_changes_nothing_and_names_the_device(host, node, capsys):
    node.write(director("eth1", sysctls={"net.ipv4.vs.expire_nodest_conn": "1", "net.ipv4.ip_forward": "1"}))
    assert node("start", capsys) == (0, "")
    before, applied, since = host.snapshot(), node.applied(), len(host.log)

    node.write(director("eth9"))
    status, err = node("reload", capsys)

    assert status != 0
    assert err == ("lvs-netstate: addresses[0].device 'eth9' does not exist (VIP 192.0.2.100/32); "
                   "nothing was changed, the previous state is kept\n")
    assert host.changes(since) == []
    assert host.snapshot() == before
    assert host.holders(VIP + "/32") == ["eth1"]
    assert node.applied() == applied


@pytest.mark.parametrize("change, message", [
    ({"routes": [{"to": "default", "via": "192.0.2.300"}]}, "routes[0].via '192.0.2.300' is not an IP address"),
    ({"routes": [{"to": "2001:db8::/64", "via": "192.0.2.1"}]}, "routes[0]: 2001:db8::/64 and its via 192.0.2.1"),
    ({"tunnels": [{"name": "tun9", "type": "vxlan"}]}, "tunnels[0].type 'vxlan' of tun9 is not a known tunnel type"),
    ({"nft_files": ["/nonexistent/marks.nft"]}, "nft_files[0] '/nonexistent/marks.nft' does not exist"),
    ({"nft_files": ["BAD"]}, "nft_files[0] 'BAD' does not pass nft -c -f: BAD:3:1-5: Error: syntax error"),
    ({"ipvs_rules": "/nonexistent/director.ipvsadm"}, "ipvs_rules '/nonexistent/director.ipvsadm' does not exist"),
    ({"addresses": [{"address": "192.0.2.100", "prefix": 33, "device": "eth1"}]},
     "addresses[0]: 192.0.2.100/33 is not an address and prefix"),
    ({"addresses": [{"address": "2001:db8::100", "prefix": 128, "family": "ipv4", "device": "eth1"}]},
     "addresses[0].family 'ipv4' does not match the address 2001:db8::100"),
    ({"gue_ports": [{"port": 0, "family": "ipv4"}]}, "gue_ports[0] needs a port (1-65535)"),
    ({"sysctls": {"net/../../etc/passwd": "1"}}, "sysctls: 'net/../../etc/passwd' is not a sysctl name"),
    ({"ipvs_timeouts": {"tcp_fin": -1}}, "ipvs_timeouts.tcp_fin: -1 is not a number of seconds"),
    ({"ipvs_timeouts": {"fin": 5}}, "ipvs_timeouts: 'fin' is not one of tcp, tcp_fin, udp"),
])
def test_an_invalid_state_is_refused_before_anything_changes(host, node, capsys, tmp_path, change, message):
    bad_nft = tmp_path / "bad.nft"
    bad_nft.write_text("table inet x\njunk\n")
    if change.get("nft_files") == ["BAD"]:
        change = {"nft_files": [str(bad_nft)]}
        message = message.replace("BAD", str(bad_nft))
        host.nft_bad.add(str(bad_nft))
    node.write(director("eth1"))
    assert node("start", capsys) == (0, "")
    before, since = host.snapshot(), len(host.log)

    node.write(director("eth1", **change))
    status, err = node("reload", capsys)

    assert status == 1
    assert err.startswith("lvs-netstate: " + message), err
    assert err.endswith("nothing was changed, the previous state is kept\n")
    assert host.changes(since) == []
    assert host.snapshot() == before
    assert node.applied() == director("eth1")


def test_an_address_on_a_tunnel_device_the_same_state_creates_is_valid(host, node, capsys):
    node.write({"addresses": [{"address": VIP, "prefix": 32, "device": "tunl0"}],
                "tunnels": [{"name": "tunl0", "type": "ipip"}]})
    assert node("start", capsys) == (0, "")
    assert host.holders(VIP + "/32") == ["tunl0"]


# -- restore on failure -----------------------------------------------------------------------------------------
def test_a_failure_while_applying_restores_the_previous_state(host, node, capsys):
    node.write(director("eth1"))
    assert node("start", capsys) == (0, "")
    before, since = host.snapshot(), len(host.log)

    node.write(director("eth2", sysctls={"net.ipv4.vs.expire_nodest_conn": "1", "net.ipv4.ip_forward": "1"},
                        routes=[{"to": "default", "via": "192.0.2.1"}]))
    host.fail[("ip", "-4", "route", "replace")] = "RTNETLINK answers: Network is unreachable"
    assert_vip_always_held(host)
    status, err = node("reload", capsys)

    assert status == 1
    assert err == ("lvs-netstate: reload of director failed at route default via 192.0.2.1: "
                   "ip -4 route replace default via 192.0.2.1 failed: RTNETLINK answers: Network is unreachable; "
                   "the previous state was restored: 192.0.2.100/32 on eth1, 1 sysctl\n")
    assert host.holders(VIP + "/32") == ["eth1"]
    assert host.sysctl("net.ipv4.ip_forward") == "0"
    assert host.routes["-4"]["default"] == "198.51.100.1 dev eth0 proto static"
    assert host.snapshot() == before
    assert node.applied() == director("eth1")
    # The new address was added (and taken back): the failure came after it, not before.
    assert ("ip", "-4", "addr", "replace", VIP + "/32", "dev", "eth2") in host.changes(since)
    # A later stop forgets ip_forward: it was never left changed.
    assert json.loads(node.saved_path.read_text()) == {"net.ipv4.vs.expire_nodest_conn": "0"}


def test_a_failed_reload_applies_the_previous_state_again_even_what_went_missing(host, node, capsys):
    node.write(director("eth1", routes=[{"to": "203.0.113.0/24", "via": "198.51.100.1"}]))
    assert node("start", capsys) == (0, "")
    # Someone removed the VIP by hand since: the previous state is applied again, not only this run undone.
    host.devices["eth1"]["addresses"].clear()
    node.write(director("eth2", routes=[{"to": "203.0.113.0/24", "via": "198.51.100.1"},
                                        {"to": "198.18.0.0/15", "via": "198.51.100.1"}]))
    host.fail[("ip", "-4", "route", "replace", "198.18.0.0/15")] = "RTNETLINK answers: Network is unreachable"
    status, err = node("reload", capsys)
    assert status == 1
    assert err.endswith("the previous state was restored: 192.0.2.100/32 on eth1, "
                        "route 203.0.113.0/24 via 198.51.100.1, 1 sysctl\n")
    assert host.holders(VIP + "/32") == ["eth1"]
    assert host.routes["-4"]["203.0.113.0/24"] == "198.51.100.1"
    assert node.applied() == director("eth1", routes=[{"to": "203.0.113.0/24", "via": "198.51.100.1"}])


def test_a_restore_that_cannot_put_something_back_says_so(host, node, capsys):
    node.write(director("eth1"))
    assert node("start", capsys) == (0, "")
    node.write(director("eth2", routes=[{"to": "default", "via": "192.0.2.1"}]))
    host.fail[("ip", "-4", "route", "replace")] = "RTNETLINK answers: Network is unreachable"

    def unplug(args):
        if args == ("ip", "-4", "addr", "replace", VIP + "/32", "dev", "eth2"):
            del host.devices["eth1"]  # the old device goes away while the reload runs
    host.watch = unplug
    status, err = node("reload", capsys)
    assert status == 1
    assert ("the previous state was restored except: 192.0.2.100/32 on eth1: ip -4 addr replace 192.0.2.100/32 "
            "dev eth1 failed: Cannot find device \"eth1\"; removing 192.0.2.100/32 from eth2 not done: it could "
            "not go back where it was; it was: 192.0.2.100/32 on eth1, 1 sysctl") in err
    # The VIP could not go back to eth1: it stays on eth2 rather than on no device at all.
    assert host.holders(VIP + "/32") == ["eth2"]
    assert node.applied() == director("eth1")


def test_a_failure_on_a_second_address_keeps_the_first_one(host, node, capsys):
    node.write({"addresses": [{"address": VIP, "prefix": 32, "device": "lo"}]})
    assert node("start", capsys) == (0, "")
    before = host.snapshot()
    node.write({"addresses": [{"address": VIP, "prefix": 32, "device": "lo"},
                              {"address": "192.0.2.101", "prefix": 32, "device": "lo"}],
                "routes": [{"to": "default", "via": "192.0.2.1"}]})
    host.fail[("ip", "-4", "addr", "replace", "192.0.2.101/32")] = "RTNETLINK answers: Permission denied"
    status, err = node("reload", capsys)
    assert status == 1
    assert "failed at address 192.0.2.101/32 on lo" in err
    assert "the previous state was restored: 192.0.2.100/32 on lo" in err
    assert host.snapshot() == before
    # Addresses come before routes: the route was never tried.
    assert not any(cmd[:4] == ("ip", "-4", "route", "replace") for cmd in host.log)


def test_the_host_default_route_replaced_then_undone_is_put_back(host, node, capsys):
    node.write({"addresses": [{"address": VIP, "prefix": 32, "device": "lo"}]})
    assert node("start", capsys) == (0, "")
    before = host.snapshot()
    node.write({"addresses": [{"address": VIP, "prefix": 32, "device": "lo"}],
                "routes": [{"to": "default", "via": "192.0.2.1"},
                           {"to": "203.0.113.0/24", "via": "192.0.2.1"}]})
    host.fail[("ip", "-4", "route", "replace", "203.0.113.0/24")] = "RTNETLINK answers: Network is unreachable"
    status, err = node("reload", capsys)
    assert status == 1
    assert "failed at route 203.0.113.0/24 via 192.0.2.1" in err
    # The default route the host had (via its router) was replaced by the first route, and is back.
    assert host.routes["-4"] == {"default": "198.51.100.1 dev eth0 proto static"}
    assert host.snapshot() == before


def test_a_tunnel_added_by_a_failed_reload_is_removed(host, node, capsys):
    node.write({"addresses": [{"address": VIP, "prefix": 32, "device": "lo"}]})
    assert node("start", capsys) == (0, "")
    node.write({"addresses": [{"address": VIP, "prefix": 32, "device": "tun1"}],
                "tunnels": [{"name": "tun1", "type": "gre"}], "gue_ports": [{"port": 6080, "family": "ipv4"}],
                "sysctls": {"net.ipv4.conf.tun1.rp_filter": "0"}})
    host.fail[("ip", "-4", "addr", "replace", VIP + "/32", "dev", "tun1")] = "RTNETLINK answers: No buffer space available"
    status, err = node("reload", capsys)
    assert status == 1
    assert "the previous state was restored: 192.0.2.100/32 on lo" in err
    assert "tun1" not in host.devices
    # gre0 came with the module and cannot be deleted: it is down, as it was created.
    assert host.devices["gre0"]["up"] is False
    assert host.fou == set()
    assert host.holders(VIP + "/32") == ["lo"]


def test_an_ipvs_restore_that_fails_part_way_is_cleared(host, node, capsys, tmp_path):
    rules = tmp_path / "director.ipvsadm"
    rules.write_text("-A -t 192.0.2.100:80 -s rr\n")
    node.write(director("eth1"))
    assert node("start", capsys) == (0, "")
    node.write(director("eth1", ipvs_rules=str(rules)))

    def half_restore(args, stdin=None, real=host.execute):
        if args == ("ipvsadm", "-R"):
            host.ipvs = stdin  # some lines went in before the failure
            return result(args, 2, stderr="Memory allocation problem")
        return real(args, stdin)
    host.execute = half_restore
    status, err = node("reload", capsys)
    assert status == 1
    assert "failed at the IPVS table from %s" % rules in err
    assert host.ipvs == ""
    assert host.holders(VIP + "/32") == ["eth1"]


def test_the_ipvs_table_is_only_restored_into_an_empty_table(host, node, capsys, tmp_path):
    rules = tmp_path / "director.ipvsadm"
    rules.write_text("-A -t 192.0.2.100:80 -s rr\n")
    node.write(director("eth1", ipvs_rules=str(rules)))
    host.ipvs = "-A -t 192.0.2.100:80 -s wrr\n"  # what the modules programmed
    assert node("start", capsys) == (0, "")
    assert host.ipvs == "-A -t 192.0.2.100:80 -s wrr\n"
    assert ("ipvsadm", "-R") not in host.log
    host.ipvs = ""
    assert node("reload", capsys) == (0, "")
    assert host.ipvs == "-A -t 192.0.2.100:80 -s rr\n"


def test_a_rollback_keeps_a_restored_table_when_the_previous_state_restores_one_too(host, node, capsys, tmp_path):
    rules = tmp_path / "director.ipvsadm"
    rules.write_text("-A -t 192.0.2.100:80 -s rr\n")
    node.write(director("eth1", ipvs_rules=str(rules)))
    assert node("start", capsys) == (0, "")
    host.ipvs = ""  # flushed by hand since
    node.write(director("eth1", ipvs_rules=str(rules), routes=[{"to": "default", "via": "192.0.2.1"}]))
    host.fail[("ip", "-4", "route", "replace")] = "RTNETLINK answers: Network is unreachable"
    status, err = node("reload", capsys)
    assert status == 1
    assert "the previous state was restored" in err
    assert host.ipvs == "-A -t 192.0.2.100:80 -s rr\n"
    assert ("ipvsadm", "-C") not in host.log


def test_the_ipvs_timeouts_come_back_with_the_table(host, node, capsys, tmp_path):
    # ipvsadm -S does not save the timeouts: a reboot would lose director_timeouts without this.
    rules = tmp_path / "director.ipvsadm"
    rules.write_text("-A -t 192.0.2.100:80 -s rr\n")
    node.write(director("eth1", ipvs_rules=str(rules), ipvs_timeouts={"tcp": 0, "tcp_fin": 5, "udp": 0}))
    assert node("start", capsys) == (0, "")
    assert host.ipvs_timeouts == [900, 5, 300]  # 0: left as it was
    assert node.applied()["ipvs_timeouts"] == {"tcp": 0, "tcp_fin": 5, "udp": 0}
    since = len(host.log)
    assert node("reload", capsys) == (0, "")
    assert [cmd for cmd in host.changes(since) if cmd[0] == "ipvsadm"] == []  # already as wanted


def test_a_failed_reload_puts_the_ipvs_timeouts_back(host, node, capsys):
    node.write(director("eth1"))
    assert node("start", capsys) == (0, "")
    node.write(director("eth1", ipvs_timeouts={"tcp": 600, "tcp_fin": 5, "udp": 60},
                        routes=[{"to": "default", "via": "192.0.2.1"}]))
    host.fail[("ip", "-4", "route", "replace")] = "RTNETLINK answers: Network is unreachable"
    status, err = node("reload", capsys)
    assert status == 1
    assert "the previous state was restored" in err
    assert host.ipvs_timeouts == [900, 120, 300]


# -- boot: no previous state ------------------------------------------------------------------------------------
def realserver():
    return {
        "addresses": [{"address": VIP, "prefix": 32, "device": "lo"},
                      {"address": "192.0.2.101", "prefix": 32, "device": "tunl0"}],
        "sysctls": {"net.ipv4.conf.all.arp_ignore": "1", "net.ipv4.conf.all.arp_announce": "2",
                    "net.ipv4.conf.lo.arp_ignore": "1", "net.ipv4.conf.lo.arp_announce": "2",
                    "net.ipv4.conf.all.rp_filter": "0", "net.ipv4.conf.tunl0.rp_filter": "0"},
        "tunnels": [{"name": "tunl0", "type": "ipip"}],
        "gue_ports": [{"port": 6080, "family": "ipv4"}],
        "routes": [{"to": "default", "via": "192.0.2.1"}],
    }


def test_boot_start_applies_everything_and_records_it(host, node, capsys):
    node.path = node.path.with_name("realserver.json")
    node.applied_path = node.state_dir / "realserver.applied.json"
    node.saved_path = node.state_dir / "realserver.sysctls.json"
    node.write(realserver())
    seen_at_vip = {}

    def watch(args):
        if args == ("ip", "-4", "addr", "replace", VIP + "/32", "dev", "lo"):
            seen_at_vip.update(arp_ignore=host.sysctl("net.ipv4.conf.all.arp_ignore"),
                               rp_filter=host.sysctl("net.ipv4.conf.tunl0.rp_filter"),
                               tunl0_up=host.devices["tunl0"]["up"], fou=set(host.fou))
    host.watch = watch
    assert node("start", capsys) == (0, "")
    # Sysctls, tunnel devices and ports come before the VIPs: a real server never holds a VIP with ARP answered.
    assert seen_at_vip == {"arp_ignore": "1", "rp_filter": "0", "tunl0_up": True, "fou": {("-4", 6080)}}
    assert host.holders(VIP + "/32") == ["lo"]
    assert host.holders("192.0.2.101/32") == ["tunl0"]
    # tunl0 came from loading ipip ("File exists" on add), and it is up; its rp_filter was only there after it.
    assert host.devices["tunl0"]["up"] is True
    assert host.sysctl("net.ipv4.conf.tunl0.rp_filter") == "0"
    assert host.sysctl("net.ipv4.conf.all.arp_ignore") == "1"
    assert host.fou == {("-4", 6080)}
    assert host.routes["-4"]["default"] == "192.0.2.1"
    assert node.applied() == realserver()
    saved = json.loads(node.saved_path.read_text())
    assert saved["net.ipv4.conf.all.arp_ignore"] == "0"
    assert saved["net.ipv4.conf.tunl0.rp_filter"] == "1"


def test_a_boot_start_that_fails_keeps_what_came_before_the_failed_item(host, node, capsys):
    node.write(realserver())
    host.fail[("ip", "-4", "route", "replace")] = "RTNETLINK answers: Network is unreachable"
    status, err = node("start", capsys)
    assert status == 1
    assert err.startswith("lvs-netstate: start of director failed at route default via 192.0.2.1: ")
    assert "there was no previous state to restore" in err
    assert host.holders(VIP + "/32") == ["lo"]
    assert host.routes["-4"]["default"] == "198.51.100.1 dev eth0 proto static"
    kept = node.applied()
    assert "routes" not in kept
    assert kept["addresses"] == realserver()["addresses"]
    # The next start completes it, and stop removes all of it.
    del host.fail[("ip", "-4", "route", "replace")]
    assert node("start", capsys) == (0, "")
    assert node.applied() == realserver()
    assert host.routes["-4"]["default"] == "192.0.2.1"


def test_a_boot_start_leaves_nothing_partial_of_the_failed_item(host, node, capsys):
    node.write({"addresses": [{"address": VIP, "prefix": 32, "device": "lo"}],
                "tunnels": [{"name": "tun1", "type": "gre"}]})
    host.fail[("ip", "link", "set", "dev", "tun1", "up")] = "RTNETLINK answers: Invalid argument"
    status, err = node("start", capsys)
    assert status == 1
    assert "failed at tunnel device tun1 (gre)" in err
    assert "tun1" not in host.devices
    assert host.holders(VIP + "/32") == []
    assert node.applied() is None


def test_a_boot_start_that_fails_in_the_sysctls_restores_the_ones_written(host, node, capsys):
    node.write({"sysctls": {"net.ipv4.conf.all.arp_ignore": "1", "net.ipv4.conf.lo.arp_ignore": "1"},
                "addresses": [{"address": VIP, "prefix": 32, "device": "lo"}]})
    real_write = host.module.write_sysctl

    def write(name, value):
        if name == "net.ipv4.conf.lo.arp_ignore":
            raise host.module.NetstateError("writing %s = %s failed: Invalid argument" % (name, value))
        real_write(name, value)
    host.module.write_sysctl = write
    status, err = node("start", capsys)
    assert status == 1
    assert "failed at sysctls: writing net.ipv4.conf.lo.arp_ignore = 1 failed" in err
    assert host.sysctl("net.ipv4.conf.all.arp_ignore") == "0"
    assert host.holders(VIP + "/32") == []


# -- stop -------------------------------------------------------------------------------------------------------
def test_stop_removes_what_start_added_and_restores_the_sysctls(host, node, capsys):
    before = host.snapshot()
    node.write(realserver())
    assert node("start", capsys) == (0, "")
    assert host.snapshot() != before
    assert node("stop", capsys) == (0, "")
    assert host.holders(VIP + "/32") == []
    assert host.holders("192.0.2.101/32") == []
    assert host.fou == set()
    # tunl0 cannot be deleted (its module is loaded): it is taken down.
    assert host.devices["tunl0"]["up"] is False
    for name, value in SYSCTLS.items():
        assert host.sysctl(name) == value
    assert host.sysctl("net.ipv4.conf.tunl0.rp_filter") == "1"
    assert not node.applied_path.exists()
    assert not node.saved_path.exists()


def test_status_reports_whether_the_state_is_applied(host, node, capsys):
    node.write(director("eth1"))
    assert node.script.main(["lvs-netstate", "status", str(node.path)]) == 3
    assert json.loads(capsys.readouterr().out) == {"applied": False, "config": director("eth1")}
    assert node("start", capsys)[0] == 0
    assert node.script.main(["lvs-netstate", "status", str(node.path)]) == 0


# -- the host lock ----------------------------------------------------------------------------------------------
def hold_lock(script, content):
    path = script.LOCK_PATH
    os.makedirs(os.path.dirname(path), exist_ok=True)
    handle = open(path, "a+")
    fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    handle.seek(0)
    handle.truncate()
    handle.write(content)
    handle.flush()
    return handle


def test_a_held_lock_times_out_naming_its_holder(script, host, node, capsys, monkeypatch):
    node.write(director("eth1"))
    monkeypatch.setenv("LVS_NETSTATE_LOCK_TIMEOUT", "0.3")
    record = {"pid": os.getpid(), "what": "lvs.cluster.ipvs_table", "since": int(time.time()) - 75}
    holder = hold_lock(script, json.dumps(record) + "\n")
    try:
        status, err = node("start", capsys)
    finally:
        holder.close()
    assert status == 1
    assert re.match(r"lvs-netstate: lvs-netstate start director: could not take the lvs\.cluster host lock \S+ "
                    r"within 0\.3 s: held by pid %d \(lvs\.cluster\.ipvs_table, for 7[56] s\)\n$" % os.getpid(), err), err
    assert host.log == []
    assert node.applied() is None


@pytest.mark.parametrize("content", ["", "{\"pid\": 4", "DEAD"])
def test_a_held_lock_with_no_live_holder_written_says_another_process(script, host, node, capsys, monkeypatch,
                                                                      content):
    if content == "DEAD":
        gone = subprocess.Popen(["true"])
        gone.wait()
        content = json.dumps({"pid": gone.pid, "what": "lvs-netstate reload director", "since": 1}) + "\n"
    node.write(director("eth1"))
    monkeypatch.setenv("LVS_NETSTATE_LOCK_TIMEOUT", "0.2")
    holder = hold_lock(script, content)
    try:
        status, err = node("stop", capsys)
    finally:
        holder.close()
    assert status == 1
    assert err.endswith("within 0.2 s: held by another process\n")
    assert host.log == []


def test_the_lock_is_held_with_a_json_line_while_applying_and_released_after(script, host, node, capsys):
    node.write(director("eth1"))
    seen = []

    def watch(args):
        if not seen:
            with open(script.LOCK_PATH) as handle:
                seen.append(handle.read())
            probe = open(script.LOCK_PATH)
            try:
                with pytest.raises(BlockingIOError):
                    fcntl.flock(probe.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            finally:
                probe.close()
    host.watch = watch
    assert node("start", capsys) == (0, "")
    assert seen[0].endswith("\n") and seen[0].count("\n") == 1
    line = json.loads(seen[0])
    assert line["pid"] == os.getpid()
    assert line["what"] == "lvs-netstate start director"
    assert isinstance(line["since"], int) and abs(line["since"] - time.time()) < 60
    assert oct(os.stat(script.LOCK_PATH).st_mode & 0o777) == oct(0o644)
    # Released: the file stays, emptied (its holder is gone), and it can be taken at once.
    with open(script.LOCK_PATH) as handle:
        assert handle.read() == ""
    probe = open(script.LOCK_PATH)
    try:
        fcntl.flock(probe.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    finally:
        probe.close()


def test_a_symbolic_link_in_place_of_the_lock_file_is_refused(script, host, node, capsys, tmp_path):
    node.write(director("eth1"))
    victim = tmp_path / "victim"
    victim.write_text("precious\n")
    os.makedirs(os.path.dirname(script.LOCK_PATH))
    os.symlink(str(victim), script.LOCK_PATH)
    status, err = node("start", capsys)
    assert status == 1
    assert err.startswith("lvs-netstate: cannot open the lvs.cluster host lock %s:" % script.LOCK_PATH)
    assert victim.read_text() == "precious\n"
    assert host.log == []


def test_a_waiting_run_gets_the_lock_once_it_is_released(script, host, node, capsys, monkeypatch):
    node.write(director("eth1"))
    monkeypatch.setenv("LVS_NETSTATE_LOCK_TIMEOUT", "5")
    holder = hold_lock(script, json.dumps({"pid": 1, "what": "x", "since": 1}) + "\n")
    sleeps = []

    def sleep(seconds):
        sleeps.append(seconds)
        if len(sleeps) == 3:
            holder.close()
    monkeypatch.setattr(script.time, "sleep", sleep)
    assert node("start", capsys) == (0, "")
    assert len(sleeps) == 3
    assert host.holders(VIP + "/32") == ["eth1"]


def test_family_of_uses_the_address_not_a_colon():
    module = load_script()
    assert module.family_of("192.0.2.1") == "ipv4"
    assert module.family_of("::ffff:192.0.2.1") == "ipv6"
    assert module.family_flag("2001:db8::1") == "-6"
    with pytest.raises(ValueError):
        module.family_of("eth0:1")


# -- many VIPs: one listing, one batch ---------------------------------------------------------------------------
def many_vips(count, device="lo"):
    return {"addresses": [{"address": "198.19.%d.%d" % (i // 250, 1 + i % 250), "prefix": 32, "device": device}
                          for i in range(count)]}


def test_a_thousand_vips_cost_one_listing_and_one_batch(host, node, capsys):
    node.write(many_vips(1000))
    since = len(host.log)
    assert node("start", capsys) == (0, "")
    processes = [cmd for cmd in host.log[since:] if cmd[:3] != ("ip", "-4", "addr")]  # the batch's lines
    assert processes.count(("ip", "-o", "addr", "show")) == 1
    assert processes.count(("ip", "-batch", "-")) == 1
    assert len(host.devices["lo"]["addresses"]) == 1000
    since = len(host.log)
    assert node("reload", capsys) == (0, "")
    # A reload that changes nothing: one check that the device exists, one listing.
    assert [cmd for cmd in host.log[since:] if cmd[0] == "ip"] == [("ip", "link", "show", "dev", "lo"),
                                                                   ("ip", "-o", "addr", "show")]


def test_a_batch_that_fails_part_way_at_boot_keeps_the_addresses_before_it(host, node, capsys):
    node.write(many_vips(3))
    host.fail[("ip", "-4", "addr", "replace", "198.19.0.2/32")] = "RTNETLINK answers: Permission denied"
    status, err = node("start", capsys)
    assert status == 1
    assert "failed at address 198.19.0.2/32 on lo: ip -batch - failed: RTNETLINK answers: Permission denied" in err
    assert host.devices["lo"]["addresses"] == {"198.19.0.1/32"}
    assert [entry["address"] for entry in node.applied()["addresses"]] == ["198.19.0.1"]


def test_the_ipvs_sysctls_of_a_namespace_where_ipvs_is_not_used_yet_are_applied(host, node, capsys):
    # A director whose engine (keepalived) starts after lvs-netstate: its namespace has no net.ipv4.vs.* yet.
    host.proc.joinpath("net", "ipv4", "vs", "expire_nodest_conn").unlink()
    host.ipvs_sysctls_on_first_use = {"net.ipv4.vs.expire_nodest_conn": "0", "net.ipv4.vs.sloppy_tcp": "0"}
    node.write(director("eth1", sysctls={"net.ipv4.vs.expire_nodest_conn": "1", "net.ipv4.vs.sloppy_tcp": "1"}))
    assert node("start", capsys) == (0, "")
    assert ("ipvsadm", "-Ln") in host.log
    assert host.sysctl("net.ipv4.vs.sloppy_tcp") == "1"
    assert host.sysctl("net.ipv4.vs.expire_nodest_conn") == "1"
    since = len(host.log)
    assert node("reload", capsys) == (0, "")
    assert ("ipvsadm", "-Ln") not in host.log[since:]  # they exist now: no listing
