# -*- coding: utf-8 -*-
# Copyright (c) 2026, lvs.cluster contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import pytest

from ansible_collections.lvs.cluster.plugins.module_utils._ipvs_model import ServiceKey
from ansible_collections.lvs.cluster.plugins.modules import ipvs_service

from test_ipvs_fakes import FakeKernel, real, run_module, svc, tcp

WEB = dict(address="192.0.2.10", port=80)


def run(args, kernel, monkeypatch, **kwargs):
    return run_module(ipvs_service, args, kernel, monkeypatch, **kwargs)


class TestCreate:
    def test_check_mode_reports_change_and_applies_nothing(self, monkeypatch):
        kernel = FakeKernel()
        result = run(dict(WEB, scheduler="rr"), kernel, monkeypatch, check_mode=True)
        assert result["changed"] is True
        assert result["operations"] == ["add service TCP 192.0.2.10:80 (rr)"]
        assert result["service"]["scheduler"] == "rr"
        assert kernel.writes == 0
        assert kernel.table.services == ()

    def test_creates_then_idempotent(self, monkeypatch):
        kernel = FakeKernel()
        result = run(dict(WEB, scheduler="rr"), kernel, monkeypatch)
        assert result["changed"] is True
        assert kernel.table.services == (svc(scheduler="rr"),)
        again = run(dict(WEB, scheduler="rr"), kernel, monkeypatch)
        assert again["changed"] is False
        assert again["operations"] == []
        assert len(kernel.batches) == 1
        check = run(dict(WEB, scheduler="rr"), kernel, monkeypatch, check_mode=True)
        assert check["changed"] is False

    def test_fwmark_ipv6(self, monkeypatch):
        kernel = FakeKernel()
        result = run(dict(fwmark=7, family="ipv6", scheduler="lc"), kernel, monkeypatch)
        assert result["changed"] is True
        assert kernel.table.services[0].key == ServiceKey(family="ipv6", fwmark=7)
        assert result["service"]["fwmark"] == 7 and "address" not in result["service"]

    def test_persistent_all_ports_with_netmask(self, monkeypatch):
        kernel = FakeKernel()
        run(dict(address="192.0.2.10", port=0, persistent=600, persistence_netmask="255.255.255.0"), kernel,
            monkeypatch)
        created = kernel.table.services[0]
        assert (created.key.port, created.persistent, created.persistence_prefix) == (0, 600, 24)
        # the same mask spelt as a prefix length is no change
        assert run(dict(address="192.0.2.10", port=0, persistent=600, persistence_netmask="24"), kernel,
                   monkeypatch)["changed"] is False

    def test_udp_one_packet_and_sh_flags(self, monkeypatch):
        kernel = FakeKernel()
        run(dict(protocol="udp", address="2001:db8::53", port=53, one_packet=True, scheduler="sh",
                 scheduler_flags=["sh-port", "sh-fallback"]), kernel, monkeypatch)
        created = kernel.table.services[0]
        assert created.key == ServiceKey(family="ipv6", protocol="udp", address="2001:db8::53", port=53)
        assert created.one_packet and created.scheduler_flags == ("sh-fallback", "sh-port")


class TestEdit:
    def test_changes_attributes_in_place_keeping_reals(self, monkeypatch):
        kernel = FakeKernel(services=[svc(reals=[real(), real("192.0.2.22")])])
        result = run(dict(WEB, scheduler="sh", persistent=60), kernel, monkeypatch, diff=True)
        assert result["changed"] is True
        assert result["operations"] == ["edit service TCP 192.0.2.10:80 (scheduler wlc -> sh, persistent none -> 60)"]
        assert [op.action for op in kernel.applied] == ["edit_service"]
        after = kernel.table.services[0]
        assert (after.scheduler, after.persistent) == ("sh", 60)
        assert len(after.reals) == 2
        # The diff shows the service line only: its reals do not change.
        assert result["diff"]["before"] == "-A -t 192.0.2.10:80 -s wlc\n"
        assert result["diff"]["after"] == "-A -t 192.0.2.10:80 -s sh -p 60\n"
        assert "ipvsadm -Sn notation" in result["diff"]["before_header"]
        assert len(result["service"]["reals"]) == 2

    def test_left_out_options_take_their_defaults(self, monkeypatch):
        kernel = FakeKernel(services=[svc(scheduler="rr", persistent=300)])
        result = run(dict(WEB), kernel, monkeypatch)
        assert result["changed"] is True
        assert (kernel.table.services[0].scheduler, kernel.table.services[0].persistent) == ("wlc", None)

    def test_check_mode_edit_applies_nothing(self, monkeypatch):
        kernel = FakeKernel(services=[svc()])
        result = run(dict(WEB, scheduler="rr"), kernel, monkeypatch, check_mode=True, diff=True)
        assert result["changed"] is True and kernel.writes == 0
        assert kernel.table.services[0].scheduler == "wlc"
        assert result["diff"]["after"] == "-A -t 192.0.2.10:80 -s rr\n"


class TestAbsent:
    def test_deletes_with_reals(self, monkeypatch):
        kernel = FakeKernel(services=[svc(reals=[real()]), svc(tcp(port=443))])
        result = run(dict(WEB, state="absent"), kernel, monkeypatch, diff=True)
        assert result["changed"] is True
        assert result["operations"] == ["delete service TCP 192.0.2.10:80"]
        assert [s.key.port for s in kernel.table.services] == [443]
        assert result["service"] is None
        assert result["diff"]["after"] == ""
        assert result["diff"]["before"] == "-A -t 192.0.2.10:80 -s wlc\n-a -t 192.0.2.10:80 -r 192.0.2.21:80 -g -w 1\n"

    def test_absent_is_idempotent(self, monkeypatch):
        kernel = FakeKernel()
        assert run(dict(WEB, state="absent"), kernel, monkeypatch)["changed"] is False
        assert kernel.writes == 0


class TestErrors:
    @pytest.mark.parametrize("args, words", [
        (dict(address="192.0.2.300", port=80), ["address", "192.0.2.300"]),
        (dict(address="192.0.2.10", port=70000), ["port", "70000"]),
        (dict(address="192.0.2.10", port=0), ["port", "0", "persistent"]),
        (dict(WEB, persistent=0), ["persistent", "0"]),
        (dict(WEB, persistence_netmask="255.255.0.0"), ["persistence_netmask", "255.255.0.0"]),
        (dict(WEB, one_packet=True), ["one_packet", "TCP"]),
        (dict(WEB, scheduler="rr", scheduler_flags=["sh-port"]), ["scheduler_flags", "sh-port"]),
        (dict(WEB, scheduler="fastest"), ["scheduler", "fastest"]),
        (dict(WEB, protocol="icmp"), ["protocol", "icmp"]),
        (dict(fwmark=0), ["fwmark", "0"]),
        (dict(fwmark=5, address="192.0.2.10"), ["fwmark", "address"]),
        (dict(fwmark=5, protocol="udp"), ["fwmark", "protocol"]),
        (dict(address="192.0.2.10"), ["port", "address"]),
        (dict(scheduler="rr"), ["address", "fwmark"]),
        (dict(WEB, family="ipv6"), ["address", "192.0.2.10", "ipv6"]),
        (dict(WEB, pe_name="sip"), ["pe_name", "sip"]),
    ])
    def test_validation_fails_before_the_kernel_is_opened(self, monkeypatch, args, words):
        kernel = FakeKernel()
        result = run(args, kernel, monkeypatch)
        assert result["failed"] is True
        for word in words:
            assert word in result["msg"]
        assert kernel.opened == 0

    def test_kernel_refusal_is_reported(self, monkeypatch):
        kernel = FakeKernel(fail_on=lambda op: "scheduler 'twos' is not available")
        result = run(dict(WEB, scheduler="twos"), kernel, monkeypatch)
        assert result["failed"] is True
        assert "scheduler 'twos' is not available" in result["msg"]
        assert "add service TCP 192.0.2.10:80 (twos)" in result["msg"]
        assert result["changed"] is False

    def test_unavailable_ipvs(self, monkeypatch):
        result = run(dict(WEB), FakeKernel(unavailable=True), monkeypatch)
        assert result["failed"] is True and "ip_vs kernel module" in result["msg"]
