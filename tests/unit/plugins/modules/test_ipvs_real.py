# -*- coding: utf-8 -*-
# Copyright (c) 2026, lvs.cluster contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import pytest

from ansible_collections.lvs.cluster.plugins.module_utils import _ipvs_module
from ansible_collections.lvs.cluster.plugins.module_utils._ipvs_model import ServiceKey
from ansible_collections.lvs.cluster.plugins.modules import ipvs_real

from test_ipvs_fakes import FakeKernel, real, run_module, svc, tcp

WEB = dict(address="192.0.2.10", port=80)
R1 = ("192.0.2.21", 80)


def run(args, kernel, monkeypatch, **kwargs):
    return run_module(ipvs_real, args, kernel, monkeypatch, **kwargs)


class FakeClock:
    def __init__(self):
        self.now = 1000.0
        self.sleeps = []

    def monotonic(self):
        return self.now

    def sleep(self, seconds):
        self.sleeps.append(seconds)
        self.now += seconds


@pytest.fixture
def clock(monkeypatch):
    fake = FakeClock()
    monkeypatch.setattr(_ipvs_module.time, "monotonic", fake.monotonic)
    monkeypatch.setattr(_ipvs_module.time, "sleep", fake.sleep)
    return fake


class TestPresent:
    def test_check_mode_then_add_then_idempotent(self, monkeypatch):
        kernel = FakeKernel(services=[svc()])
        args = dict(WEB, real_address="192.0.2.21", weight=5)
        check = run(args, kernel, monkeypatch, check_mode=True, diff=True)
        assert check["changed"] is True and kernel.writes == 0
        assert check["operations"] == ["add real 192.0.2.21:80 to TCP 192.0.2.10:80 (dr, weight 5)"]
        assert check["diff"]["before"] == ""
        assert check["diff"]["after"] == "-a -t 192.0.2.10:80 -r 192.0.2.21:80 -g -w 5\n"
        result = run(args, kernel, monkeypatch)
        assert result["changed"] is True
        assert kernel.table.services[0].reals == (real(weight=5),)
        assert result["real"]["weight"] == 5 and result["service"]["reals"][0]["address"] == "192.0.2.21"
        assert run(args, kernel, monkeypatch)["changed"] is False
        assert run(args, kernel, monkeypatch, check_mode=True)["changed"] is False
        assert len(kernel.batches) == 1

    def test_edit_in_place_forwarding_and_thresholds(self, monkeypatch):
        kernel = FakeKernel(services=[svc(reals=[real(weight=5)])])
        result = run(dict(WEB, real_address="192.0.2.21", forwarding="tun", u_threshold=100, l_threshold=50,
                          weight=5), kernel, monkeypatch)
        assert result["changed"] is True
        assert [op.action for op in kernel.applied] == ["edit_real"]
        changed = kernel.table.services[0].reals[0]
        assert (changed.forwarding, changed.tun_type, changed.u_threshold, changed.l_threshold) == \
            ("tun", "ipip", 100, 50)

    def test_left_out_weight_is_one(self, monkeypatch):
        kernel = FakeKernel(services=[svc(reals=[real(weight=5)])])
        result = run(dict(WEB, real_address="192.0.2.21"), kernel, monkeypatch)
        assert result["operations"] == ["edit real 192.0.2.21:80 of TCP 192.0.2.10:80 (weight 5 -> 1)"]

    def test_nat_other_port_is_another_real(self, monkeypatch):
        kernel = FakeKernel(services=[svc(reals=[real()])])
        run(dict(WEB, real_address="192.0.2.21", real_port=8080, forwarding="nat"), kernel, monkeypatch)
        assert [r.key for r in kernel.table.services[0].reals] == [R1, ("192.0.2.21", 8080)]

    def test_gue_tunnel_behind_fwmark(self, monkeypatch):
        key = ServiceKey(family="ipv4", fwmark=10)
        kernel = FakeKernel(services=[svc(key)])
        args = dict(fwmark=10, real_address="2001:db8::7", forwarding="tun", tun_type="gue", tun_port=6080,
                    tun_flags=["csum"])
        assert run(args, kernel, monkeypatch)["changed"] is True
        added = kernel.table.services[0].reals[0]
        assert (added.family, added.port, added.tun_type, added.tun_port, added.tun_flags) == \
            ("ipv6", 0, "gue", 6080, ("csum",))
        assert run(args, kernel, monkeypatch)["changed"] is False

    def test_missing_service_is_named(self, monkeypatch):
        kernel = FakeKernel()
        result = run(dict(WEB, real_address="192.0.2.21"), kernel, monkeypatch)
        assert result["failed"] is True
        assert "service TCP 192.0.2.10:80 does not exist" in result["msg"]
        assert kernel.writes == 0

    def test_check_mode_predicts_a_real_of_a_service_an_earlier_task_would_create(self, monkeypatch):
        # A dry run of a play that creates the service and then adds its reals must not fail at the reals.
        kernel = FakeKernel()
        result = run(dict(WEB, real_address="192.0.2.21"), kernel, monkeypatch, check_mode=True, diff=True)
        assert result.get("failed") is not True
        assert result["changed"] is True
        assert result["operations"] == ["add real 192.0.2.21:80 to TCP 192.0.2.10:80 (dr, weight 1)"]
        assert any("does not exist yet" in warning for warning in result["warnings"])
        assert (result["diff"]["before"], result["diff"]["after"]) == (
            "", "-a -t 192.0.2.10:80 -r 192.0.2.21:80 -g -w 1\n")
        assert kernel.writes == 0

    @pytest.mark.parametrize("state", ["absent", "drained"])
    def test_check_mode_still_fails_other_states_of_a_missing_service(self, monkeypatch, state):
        result = run(dict(WEB, real_address="192.0.2.21", state=state), FakeKernel(), monkeypatch, check_mode=True)
        assert result["failed"] is True
        assert "service TCP 192.0.2.10:80 does not exist" in result["msg"]


class TestAbsent:
    def test_remove_and_idempotent(self, monkeypatch):
        kernel = FakeKernel(services=[svc(reals=[real(), real("192.0.2.22")])])
        result = run(dict(WEB, real_address="192.0.2.21", state="absent"), kernel, monkeypatch, diff=True)
        assert result["changed"] is True
        assert result["operations"] == ["delete real 192.0.2.21:80 from TCP 192.0.2.10:80"]
        assert [r.address for r in kernel.table.services[0].reals] == ["192.0.2.22"]
        assert result["real"] is None
        assert (result["diff"]["before"], result["diff"]["after"]) == (
            "-a -t 192.0.2.10:80 -r 192.0.2.21:80 -g -w 1\n", "")
        assert run(dict(WEB, real_address="192.0.2.21", state="absent"), kernel, monkeypatch)["changed"] is False

    def test_found_by_address_alone(self, monkeypatch):
        kernel = FakeKernel(services=[svc(reals=[real("10.0.0.1", 8080, forwarding="nat")])])
        result = run(dict(WEB, real_address="10.0.0.1", state="absent"), kernel, monkeypatch)
        assert result["changed"] is True and kernel.table.services[0].reals == ()

    def test_ambiguous_address_needs_port(self, monkeypatch):
        reals = [real("10.0.0.1", 8080, forwarding="nat"), real("10.0.0.1", 8081, forwarding="nat")]
        kernel = FakeKernel(services=[svc(reals=reals)])
        result = run(dict(WEB, real_address="10.0.0.1", state="absent"), kernel, monkeypatch)
        assert result["failed"] is True and "real_port" in result["msg"] and "10.0.0.1:8081" in result["msg"]
        assert kernel.writes == 0

    def test_absent_mixed_family_real_without_forwarding(self, monkeypatch):
        kernel = FakeKernel(services=[svc(reals=[real("2001:db8::21", forwarding="tun", tun_type="ipip",
                                                      tun_port=0)])])
        result = run(dict(WEB, real_address="2001:db8::21", state="absent"), kernel, monkeypatch)
        assert result["changed"] is True and kernel.table.services[0].reals == ()


class TestDrained:
    def args(self, **extra):
        return dict(WEB, real_address="192.0.2.21", state="drained", **extra)

    def test_sets_weight_zero_keeping_attributes_and_waits(self, monkeypatch, clock):
        kernel = FakeKernel(services=[svc(reals=[real(forwarding="nat", weight=7, u_threshold=9)])])
        kernel.counters[(tcp(), R1)] = [(5, 2, 1), (3, 2, 1), (0, 4, 1)]
        result = run(self.args(drain_poll_interval=2), kernel, monkeypatch)
        assert result["changed"] is True
        assert result["operations"] == ["edit real 192.0.2.21:80 of TCP 192.0.2.10:80 (weight 7 -> 0)"]
        drained = kernel.table.services[0].reals[0]
        assert (drained.forwarding, drained.weight, drained.u_threshold) == ("nat", 0, 9)
        # the first read plans, the next ones (after the weight change) count
        assert result["drain"] == {"waited_seconds": 2.0, "timed_out": False,
                                   "remaining": {"active": 0, "inactive": 4, "persistent": 1}}
        assert clock.sleeps == [2]

    def test_waits_for_the_chosen_counters(self, monkeypatch, clock):
        kernel = FakeKernel(services=[svc(reals=[real(weight=0)])])
        kernel.counters[(tcp(), R1)] = [(0, 4, 1), (0, 3, 1), (0, 1, 1), (0, 0, 1), (0, 0, 0)]
        result = run(self.args(drain_wait_for=["inactive", "persistent"], drain_poll_interval=1), kernel,
                     monkeypatch)
        assert result["changed"] is False  # already weight 0: waiting changes nothing
        assert result["drain"]["remaining"] == {"active": 0, "inactive": 0, "persistent": 0}
        assert result["drain"]["waited_seconds"] == 3.0
        assert kernel.writes == 0

    def test_timeout_is_not_a_failure(self, monkeypatch, clock):
        kernel = FakeKernel(services=[svc(reals=[real()])])
        kernel.counters[(tcp(), R1)] = [(5, 0, 0)]
        result = run(self.args(drain_timeout=10, drain_poll_interval=3), kernel, monkeypatch)
        assert result["failed"] is False and result["changed"] is True
        assert result["drain"]["timed_out"] is True
        assert result["drain"]["waited_seconds"] == 10.0
        assert result["drain"]["remaining"]["active"] == 5
        assert clock.sleeps == [3, 3, 3, 1]

    def test_timeout_fails_when_asked(self, monkeypatch, clock):
        kernel = FakeKernel(services=[svc(reals=[real()])])
        kernel.counters[(tcp(), R1)] = [(5, 0, 0)]
        result = run(self.args(drain_timeout=4, drain_fail_on_timeout=True), kernel, monkeypatch)
        assert result["failed"] is True and result["changed"] is True
        assert "still has connections after 4 seconds: active 5" in result["msg"]
        assert kernel.table.services[0].reals[0].weight == 0

    def test_check_mode_does_not_wait_or_write(self, monkeypatch, clock):
        kernel = FakeKernel(services=[svc(reals=[real(weight=3)])])
        kernel.counters[(tcp(), R1)] = [(5, 0, 0)]
        result = run(self.args(), kernel, monkeypatch, check_mode=True)
        assert result["changed"] is True and kernel.writes == 0 and clock.sleeps == []
        assert result["drain"]["remaining"]["active"] == 5 and result["drain"]["timed_out"] is False

    def test_unknown_real_is_an_error(self, monkeypatch, clock):
        kernel = FakeKernel(services=[svc(reals=[real()])])
        result = run(dict(WEB, real_address="192.0.2.99", state="drained"), kernel, monkeypatch)
        assert result["failed"] is True
        assert "192.0.2.99:80 is not a real of TCP 192.0.2.10:80" in result["msg"]

    @pytest.mark.parametrize("extra, name", [(dict(weight=5), "weight"), (dict(forwarding="nat"), "forwarding"),
                                             (dict(tun_flags=["csum"]), "tun_flags")])
    def test_attributes_cannot_be_combined(self, monkeypatch, extra, name):
        kernel = FakeKernel(services=[svc(reals=[real()])])
        result = run(self.args(**extra), kernel, monkeypatch)
        assert result["failed"] is True and result["msg"].startswith(name + ":")
        assert kernel.opened == 0

    @pytest.mark.parametrize("extra, words", [(dict(drain_timeout=-1), ["drain_timeout", "-1"]),
                                              (dict(drain_poll_interval=0), ["drain_poll_interval", "0"])])
    def test_bad_drain_options(self, monkeypatch, clock, extra, words):
        kernel = FakeKernel(services=[svc(reals=[real()])])
        result = run(self.args(**extra), kernel, monkeypatch)
        assert result["failed"] is True
        assert all(word in result["msg"] for word in words)
        assert kernel.writes == 0


class TestErrors:
    @pytest.mark.parametrize("args, words", [
        (dict(real_address="192.0.2.300"), ["real_address", "192.0.2.300"]),
        (dict(real_address="2001:db8::21"), ["real_address", "2001:db8::21", "tun"]),
        (dict(real_address="192.0.2.21", real_port=8080), ["real_port", "8080"]),
        (dict(real_address="192.0.2.21", weight=-3), ["weight", "-3"]),
        (dict(real_address="192.0.2.21", u_threshold=5, l_threshold=9), ["l_threshold", "9"]),
        (dict(real_address="192.0.2.21", tun_type="gre"), ["tun_type", "gre"]),
        (dict(real_address="192.0.2.21", forwarding="tun", tun_type="gue"), ["tun_port is required with tun_type gue"]),
        (dict(real_address="192.0.2.21", forwarding="bypass"), ["forwarding", "bypass"]),
        (dict(real_address="192.0.2.21", state="absent", real_port=-1), ["real_port", "-1"]),
    ])
    def test_validation_fails_before_the_kernel_is_opened(self, monkeypatch, args, words):
        kernel = FakeKernel(services=[svc()])
        result = run(dict(WEB, **args), kernel, monkeypatch)
        assert result["failed"] is True
        for word in words:
            assert word in result["msg"]
        assert kernel.opened == 0

    def test_kernel_refusal_names_operation(self, monkeypatch):
        kernel = FakeKernel(services=[svc()], fail_on=lambda op: "address family ipv6 is not supported")
        result = run(dict(WEB, real_address="192.0.2.21"), kernel, monkeypatch)
        assert result["failed"] is True
        assert result["msg"].startswith("add real 192.0.2.21:80 to TCP 192.0.2.10:80 (dr, weight 1) failed: "
                                        "address family ipv6 is not supported")
        assert "applied before the failure: nothing" in result["msg"]
