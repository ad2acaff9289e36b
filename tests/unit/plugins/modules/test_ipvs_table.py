# -*- coding: utf-8 -*-
# Copyright (c) 2026, lvs.cluster contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import pytest

from ansible_collections.lvs.cluster.plugins.module_utils._ipvs_model import ServiceKey, Timeouts
from ansible_collections.lvs.cluster.plugins.modules import ipvs_table

from test_ipvs_fakes import FakeKernel, real, run_module, svc, tcp

DESCRIPTION = [
    dict(address="192.0.2.10", port=80, reals=[dict(address="192.0.2.21"), dict(address="192.0.2.22", weight=2)]),
    dict(address="192.0.2.10", port=443, persistent=600, reals=[dict(address="192.0.2.21")]),
    dict(protocol="udp", address="2001:db8::53", port=53, scheduler="rr", one_packet=True,
         reals=[dict(address="2001:db8::153"), dict(address="10.0.0.53", forwarding="tun")]),
    dict(fwmark=10, reals=[dict(address="198.51.100.7", forwarding="tun", tun_type="gue", tun_port=6080)]),
]


def run(args, kernel, monkeypatch, **kwargs):
    return run_module(ipvs_table, args, kernel, monkeypatch, **kwargs)


class TestBuild:
    def test_check_mode_from_empty(self, monkeypatch):
        kernel = FakeKernel()
        result = run(dict(services=DESCRIPTION, return_table=True), kernel, monkeypatch, check_mode=True, diff=True)
        assert result["changed"] is True
        assert kernel.writes == 0 and kernel.table.services == ()
        assert result["counts"] == dict(add_service=4, edit_service=0, add_real=6, edit_real=0, delete_real=0,
                                        delete_service=0, set_timeouts=0)
        assert result["operations"][:4] == [
            "add service TCP 192.0.2.10:80 (wlc)",
            "add service TCP 192.0.2.10:443 (wlc, persistent 600)",
            "add service UDP [2001:db8::53]:53 (rr, one-packet on)",
            "add service FWM 10 IPv4 (wlc)",
        ]
        assert result["diff"]["before"] == ""
        after = result["diff"]["after"].splitlines()
        assert len(after) == 10 and len([line for line in after if line.startswith("-A ")]) == 4
        assert len(result["table"]["services"]) == 4

    def test_apply_then_idempotent(self, monkeypatch):
        kernel = FakeKernel()
        result = run(dict(services=DESCRIPTION, return_table=True), kernel, monkeypatch)
        assert result["changed"] is True
        assert len(kernel.table.services) == 4
        web = kernel.table.get(tcp(port=80))
        assert web.reals == (real("192.0.2.21"), real("192.0.2.22", weight=2))
        fwm = kernel.table.get(ServiceKey(family="ipv4", fwmark=10))
        assert (fwm.reals[0].tun_type, fwm.reals[0].tun_port) == ("gue", 6080)
        assert result["table"] == kernel.read_table().to_dict()
        again = run(dict(services=DESCRIPTION), kernel, monkeypatch)
        assert again["changed"] is False and again["operations"] == []
        assert "table" not in again  # only when asked for
        assert run(dict(services=DESCRIPTION, purge=True), kernel, monkeypatch, check_mode=True)["changed"] is False
        assert len(kernel.batches) == 1

    def test_batches_are_passed_on(self, monkeypatch):
        kernel = FakeKernel()
        run(dict(services=DESCRIPTION, batch_size=3), kernel, monkeypatch)
        assert kernel.batches[0][1] == 3
        assert len(kernel.batches[0][0]) == 10


class TestChange:
    def current(self):
        return [svc(tcp(port=80), reals=[real("192.0.2.21"), real("192.0.2.22"), real("192.0.2.23")]),
                svc(tcp(port=8080), reals=[real("192.0.2.21", 8080)])]

    def test_described_service_is_complete_and_purge_false_keeps_others(self, monkeypatch):
        kernel = FakeKernel(services=self.current())
        services = [dict(address="192.0.2.10", port=80, scheduler="rr",
                         reals=[dict(address="192.0.2.21", weight=3), dict(address="192.0.2.24")])]
        result = run(dict(services=services), kernel, monkeypatch)
        assert result["operations"] == [
            "edit service TCP 192.0.2.10:80 (scheduler wlc -> rr)",
            "add real 192.0.2.24:80 to TCP 192.0.2.10:80 (dr, weight 1)",
            "edit real 192.0.2.21:80 of TCP 192.0.2.10:80 (weight 1 -> 3)",
            "delete real 192.0.2.22:80 from TCP 192.0.2.10:80",
            "delete real 192.0.2.23:80 from TCP 192.0.2.10:80",
        ]
        assert kernel.table.get(tcp(port=8080)) is not None
        assert [r.address for r in kernel.table.get(tcp(port=80)).reals] == ["192.0.2.21", "192.0.2.24"]
        assert result["counts"]["delete_real"] == 2 and result["counts"]["edit_service"] == 1

    def test_without_purge_only_described_and_removed_services_are_read(self, monkeypatch):
        kernel = FakeKernel(services=self.current() + [svc(tcp(port=8443))])
        services = [dict(address="192.0.2.10", port=80, reals=[dict(address="192.0.2.21")])]
        remove = [dict(address="192.0.2.10", port=8080)]
        run(dict(services=services, remove_services=remove), kernel, monkeypatch, check_mode=True)
        assert kernel.reads_only[-1] == {tcp(port=80), tcp(port=8080)}
        result = run(dict(services=services, return_table=True), kernel, monkeypatch, check_mode=True)
        assert kernel.reads_only[-1] is None and len(result["table"]["services"]) == 3
        run(dict(services=services, purge=True), kernel, monkeypatch, check_mode=True)
        assert kernel.reads_only[-1] is None

    def test_a_big_description_is_not_echoed_back(self, monkeypatch):
        services = [dict(address="192.0.2.10", port=port, reals=[dict(address="192.0.2.21")])
                    for port in range(1000, 1101)]
        result = run(dict(services=services), FakeKernel(), monkeypatch, check_mode=True)
        assert result["invocation"]["module_args"]["services"] == (
            "101 services with 101 real servers (not echoed back: more than 100)")
        assert result["invocation"]["module_args"]["purge"] is False
        small = run(dict(services=services[:100]), FakeKernel(), monkeypatch, check_mode=True)
        assert "invocation" not in small  # Ansible's own echo then

    def test_purge_deletes_unmentioned(self, monkeypatch):
        kernel = FakeKernel(services=self.current())
        services = [dict(address="192.0.2.10", port=80,
                         reals=[dict(address="192.0.2.21"), dict(address="192.0.2.22"), dict(address="192.0.2.23")])]
        result = run(dict(services=services, purge=True), kernel, monkeypatch, diff=True)
        assert result["operations"] == ["delete service TCP 192.0.2.10:8080"]
        assert [s.key.port for s in kernel.table.services] == [80]
        assert result["diff"]["before"] == "-A -t 192.0.2.10:8080 -s wlc\n-a -t 192.0.2.10:8080 -r 192.0.2.21:8080 -g -w 1\n"
        assert result["diff"]["after"] == ""

    def test_remove_services_deletes_those_only(self, monkeypatch):
        kernel = FakeKernel(services=self.current() + [svc(tcp(port=8443))])
        services = [dict(address="192.0.2.10", port=80,
                         reals=[dict(address="192.0.2.21"), dict(address="192.0.2.22"), dict(address="192.0.2.23")])]
        remove = [dict(address="192.0.2.10", port=8080), dict(fwmark=7)]
        result = run(dict(services=services, remove_services=remove), kernel, monkeypatch, check_mode=True)
        assert result["changed"] is True and kernel.writes == 0
        result = run(dict(services=services, remove_services=remove), kernel, monkeypatch)
        assert result["operations"] == ["delete service TCP 192.0.2.10:8080"]
        assert [s.key.port for s in kernel.table.services] == [80, 8443]
        again = run(dict(services=services, remove_services=remove), kernel, monkeypatch)
        assert again["changed"] is False

    def test_a_service_both_wanted_and_removed_is_refused_before_any_change(self, monkeypatch):
        kernel = FakeKernel(services=self.current())
        services = [dict(address="192.0.2.10", port=80)]
        remove = [dict(address="192.0.2.10", port=8080), dict(address="192.0.2.10", port=80)]
        result = run(dict(services=services, remove_services=remove), kernel, monkeypatch)
        assert result["failed"] is True
        assert "remove_services[1]" in result["msg"] and "TCP 192.0.2.10:80" in result["msg"]
        assert kernel.writes == 0

    def test_purge_with_no_services_empties_the_table(self, monkeypatch):
        kernel = FakeKernel(services=self.current())
        result = run(dict(purge=True), kernel, monkeypatch)
        assert result["counts"]["delete_service"] == 2 and kernel.table.services == ()

    def test_partial_failure_reports_what_was_applied(self, monkeypatch):
        kernel = FakeKernel(fail_on=lambda op: "scheduler 'twos' is not available"
                            if op.service.scheduler == "twos" else None)
        services = [dict(address="192.0.2.10", port=80, reals=[dict(address="192.0.2.21")]),
                    dict(address="192.0.2.10", port=81, scheduler="twos")]
        result = run(dict(services=services), kernel, monkeypatch)
        assert result["failed"] is True and result["changed"] is True
        assert result["operations"] == ["add service TCP 192.0.2.10:80 (wlc)"]
        assert result["failed_operation"] == "add service TCP 192.0.2.10:81 (twos)"
        assert "scheduler 'twos' is not available" in result["msg"]
        assert "applied before the failure: add service TCP 192.0.2.10:80 (wlc)" in result["msg"]

    @pytest.mark.parametrize("check_mode", [False, True])
    def test_a_scheduler_the_kernel_lacks_fails_before_any_change(self, monkeypatch, check_mode):
        kernel = FakeKernel(missing=["ip_vs_twos", "ip_vs_pe_sip"])
        services = [dict(address="192.0.2.10", port=80, reals=[dict(address="192.0.2.21")]),
                    dict(address="192.0.2.10", port=81, scheduler="twos"),
                    dict(protocol="udp", address="192.0.2.10", port=5060, persistent=60, pe_name="sip")]
        result = run(dict(services=services), kernel, monkeypatch, check_mode=check_mode)
        assert result["failed"] is True and result["changed"] is False and result["operations"] == []
        assert kernel.writes == 0 and kernel.table.services == ()
        assert kernel.module_queries == [["ip_vs_pe_sip", "ip_vs_twos", "ip_vs_wlc"]]
        assert result["missing_kernel_modules"] == ["ip_vs_pe_sip", "ip_vs_twos"]
        assert result["msg"] == (
            "persistence engine 'sip' of service UDP 192.0.2.10:5060 is not available: kernel 6.1.0-fake has no "
            "module ip_vs_pe_sip (not loaded, not built in, not in /lib/modules/6.1.0-fake); scheduler 'twos' of "
            "service TCP 192.0.2.10:81 is not available: kernel 6.1.0-fake has no module ip_vs_twos (not loaded, "
            "not built in, not in /lib/modules/6.1.0-fake); nothing was changed")

    def test_only_new_schedulers_are_looked_up_and_an_unknown_answer_lets_the_kernel_decide(self, monkeypatch):
        kernel = FakeKernel(services=[svc(tcp("192.0.2.10", 80), scheduler="rr")], missing=None)
        services = [dict(address="192.0.2.10", port=80, scheduler="rr", reals=[dict(address="192.0.2.21")]),
                    dict(address="192.0.2.10", port=81, scheduler="twos")]
        result = run(dict(services=services), kernel, monkeypatch)
        assert result["changed"] is True and not result.get("failed")
        assert kernel.module_queries == [["ip_vs_twos"]]
        assert kernel.table.get(tcp("192.0.2.10", 81)).scheduler == "twos"


class TestTimeouts:
    def test_only_given_timeouts_are_set(self, monkeypatch):
        kernel = FakeKernel(timeouts=Timeouts(900, 120, 300))
        result = run(dict(timeouts=dict(udp=60)), kernel, monkeypatch, diff=True)
        assert result["changed"] is True
        assert result["operations"] == ["set timeouts udp 60"]
        assert kernel.timeout_sets == [Timeouts(udp=60)]
        assert kernel.current_timeouts == Timeouts(900, 120, 60)
        assert result["diff"]["before"] == "--set 900 120 300\n"
        assert result["diff"]["after"] == "--set 900 120 60\n"
        assert result["counts"]["set_timeouts"] == 1
        again = run(dict(timeouts=dict(udp=60, tcp=900)), kernel, monkeypatch)
        assert again["changed"] is False and len(kernel.timeout_sets) == 1

    def test_check_mode_sets_nothing(self, monkeypatch):
        kernel = FakeKernel(timeouts=Timeouts(900, 120, 300))
        result = run(dict(timeouts=dict(tcp=1800), return_table=True), kernel, monkeypatch, check_mode=True)
        assert result["changed"] is True and kernel.timeout_sets == []
        assert result["table"]["timeouts"]["tcp"] == 1800


class TestErrors:
    @pytest.mark.parametrize("services, words", [
        ([dict(address="192.0.2.10", port=80), dict(address="192.0.2.10", port=81),
          dict(address="192.0.2.10", port=80, scheduler="rr")], ["services[2]", "TCP 192.0.2.10:80", "services[0]"]),
        ([dict(fwmark=3), dict(fwmark=3, family="ipv4")], ["services[1]", "FWM 3 IPv4", "services[0]"]),
        ([dict(address="192.0.2.10", port=80, reals=[dict(address="192.0.2.21"), dict(address="192.0.2.21", port=80)])],
         ["services[0].reals[1]", "192.0.2.21:80", "services[0].reals[0]"]),
        ([dict(address="192.0.2.10", port=80), dict(address="192.0.2.10", port=81, reals=[dict(address="x")])],
         ["services[1].reals[0].address", "'x'"]),
        ([dict(address="192.0.2.10", port=80, reals=[dict(address="192.0.2.21", port=99)])],
         ["services[0].reals[0].port", "99"]),
        ([dict(fwmark=5, protocol="udp")], ["services[0].protocol", "udp", "fwmark"]),
        ([dict(fwmark=5, address="192.0.2.10")], ["services[0].fwmark", "5"]),
        ([dict(port=80)], ["services[0].address is required"]),
        ([dict(address="192.0.2.10", port=80, persistent=-1)], ["services[0].persistent", "-1"]),
        ([dict(address="192.0.2.10", port=80, reals=[dict(address="192.0.2.21", weight=-1)])],
         ["services[0].reals[0].weight", "-1"]),
    ])
    def test_description_errors_name_the_path(self, monkeypatch, services, words):
        kernel = FakeKernel()
        result = run(dict(services=services), kernel, monkeypatch)
        assert result["failed"] is True
        for word in words:
            assert word in result["msg"]
        assert kernel.opened == 0

    @pytest.mark.parametrize("args, words", [
        (dict(timeouts=dict(tcp=-1)), ["timeouts.tcp", "-1"]),
        (dict(timeouts=dict(udp=2147484)), ["timeouts.udp", "2147484"]),
        (dict(batch_size=0), ["batch_size", "0"]),
        (dict(services=[dict(address="192.0.2.10", port=80, scheduler="nope")]), ["scheduler", "nope"]),
    ])
    def test_option_errors(self, monkeypatch, args, words):
        kernel = FakeKernel()
        result = run(args, kernel, monkeypatch)
        assert result["failed"] is True
        for word in words:
            assert word in result["msg"]
        assert kernel.opened == 0


class TestRules:
    """rules: the same table as ipvsadm restore lines, read into the same model."""

    RULES = """
# a comment, then the DESCRIPTION above in ipvsadm -Sn notation
-A -t 192.0.2.10:80 -s wlc
-a -t 192.0.2.10:80 -r 192.0.2.21:80 -g -w 1
-a -t 192.0.2.10:80 -r 192.0.2.22:80 -g -w 2
--add-service --tcp-service 192.0.2.10:443 --scheduler wlc --persistent 600
-a -t 192.0.2.10:443 -r 192.0.2.21 -g
-A -u [2001:db8::53]:53 -s rr -o
-a -u [2001:db8::53]:53 -r [2001:db8::153]:53 -g -w 1
-a -u [2001:db8::53]:53 -r 10.0.0.53:53 -i -w 1
-A -f 10 -s wlc
-a -f 10 -r 198.51.100.7:0 -i -w 1 --tun-type gue --tun-port 6080
"""

    def test_rules_describe_the_same_table_as_services(self, monkeypatch):
        kernel = FakeKernel()
        built = run(dict(rules=self.RULES), kernel, monkeypatch)
        assert built["changed"] is True and built["counts"]["add_real"] == 6
        assert run(dict(services=DESCRIPTION, purge=True), kernel, monkeypatch)["changed"] is False
        other = FakeKernel()
        run(dict(services=DESCRIPTION), other, monkeypatch)
        assert run(dict(rules=self.RULES, purge=True), other, monkeypatch)["changed"] is False

    def test_the_table_as_rendered_reads_back_as_a_no_op(self, monkeypatch):
        from ansible_collections.lvs.cluster.plugins.module_utils._ipvs_rules import render_rules
        kernel = FakeKernel()
        run(dict(services=DESCRIPTION), kernel, monkeypatch)
        again = run(dict(rules=render_rules(kernel.table), purge=True), kernel, monkeypatch, check_mode=True)
        assert again["changed"] is False and again["operations"] == []

    def test_services_and_rules_are_mutually_exclusive(self, monkeypatch):
        result = run(dict(rules=self.RULES, services=DESCRIPTION), FakeKernel(), monkeypatch)
        assert result["failed"] is True and "mutually exclusive" in result["msg"]
        assert "rules" in result["msg"] and "services" in result["msg"]

    @pytest.mark.parametrize("rules, message", [
        ("-A -t 192.0.2.10:80 -s wlc\n-a -t 192.0.2.10:80 -r 192.0.2.x -g",
         "rules line 2: '-a -t 192.0.2.10:80 -r 192.0.2.x -g' - address: '192.0.2.x' is not an IPv4 or IPv6 "
         "address"),
        ("-A -t 192.0.2.10:80 -s fastest", "rules line 1: '-A -t 192.0.2.10:80 -s fastest' - scheduler: 'fastest' "
                                           "is not one of"),
        ("-E -t 192.0.2.10:80 -s rr", "rules line 1: '-E -t 192.0.2.10:80 -s rr' is not an -A (add service) or -a"),
        ("-A -t 192.0.2.10:80 --bogus", "rules line 1: '--bogus' is not an option of an ipvsadm -A line"),
        ("\n\n-a -t 192.0.2.10:80 -r 192.0.2.21 -g",
         "rules line 3: '-a -t 192.0.2.10:80 -r 192.0.2.21 -g' adds a real server to TCP 192.0.2.10:80, which no -A "
         "line before it"),
        ("-A -t 192.0.2.10:80\n-A -t 192.0.2.10:80 -s rr",
         "rules line 2: '-A -t 192.0.2.10:80 -s rr' describes TCP 192.0.2.10:80 again (line 1)"),
        ("-A -t 192.0.2.10:80\n-a -t 192.0.2.10:80 -r 192.0.2.21 -g\n-a -t 192.0.2.10:80 -r 192.0.2.21:80 -g -w 2",
         "rules line 3: '-a -t 192.0.2.10:80 -r 192.0.2.21:80 -g -w 2' lists real server 192.0.2.21:80 of TCP "
         "192.0.2.10:80 again (line 2)"),
        ("-A -s rr", "rules line 1: '-A -s rr' names no service"),
        ("-A -t 192.0.2.10:80 -s", "rules line 1: '-s' needs a value"),
    ])
    def test_a_bad_line_is_refused_naming_it_before_anything_is_read(self, monkeypatch, rules, message):
        kernel = FakeKernel(services=[svc()])
        result = run(dict(rules=rules, purge=True), kernel, monkeypatch)
        assert result["failed"] is True and result["msg"].startswith(message), result["msg"]
        assert kernel.writes == 0 and kernel.reads_only == []
