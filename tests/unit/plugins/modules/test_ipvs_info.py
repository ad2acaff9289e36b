# -*- coding: utf-8 -*-
# Copyright (c) 2026, lvs.cluster contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.lvs.cluster.plugins.module_utils._ipvs_model import Daemon, ServiceKey, Timeouts
from ansible_collections.lvs.cluster.plugins.modules import ipvs_info

from test_ipvs_fakes import FakeKernel, real, run_module, svc, tcp


def kernel():
    fake = FakeKernel(services=[svc(reals=[real(weight=3), real("192.0.2.22")]),
                                svc(ServiceKey(family="ipv6", fwmark=4), persistent=30)],
                      timeouts=Timeouts(900, 120, 300),
                      daemons=[Daemon(state="master", mcast_interface="eth0", syncid=1)])
    fake.counters[(tcp(), ("192.0.2.21", 80))] = [(4, 2, 1)]
    return fake


def test_everything(monkeypatch):
    fake = kernel()
    result = run_module(ipvs_info, {}, fake, monkeypatch)
    assert result["changed"] is False
    ipvs = result["ipvs"]
    assert (ipvs["version"], ipvs["conn_tab_size"]) == ("1.2.1", 4096)
    assert ipvs["timeouts"] == {"tcp": 900, "tcp_fin": 120, "udp": 300}
    assert ipvs["daemons"][0]["state"] == "master" and ipvs["daemons"][0]["mcast_interface"] == "eth0"
    web, fwm = ipvs["services"]
    assert web["address"] == "192.0.2.10" and fwm["fwmark"] == 4 and fwm["family"] == "ipv6"
    assert fwm["persistent"] == 30 and fwm["persistence_netmask"] == "128"
    assert web["stats"]["conns"] == 7
    first = web["reals"][0]
    assert (first["address"], first["weight"], first["active_conns"], first["inactive_conns"],
            first["persistent_conns"]) == ("192.0.2.21", 3, 4, 2, 1)
    assert first["stats"]["conns"] == 7
    assert fake.reads_with_stats == [True]
    assert fake.writes == 0


def test_without_stats_keeps_connection_counts(monkeypatch):
    fake = kernel()
    result = run_module(ipvs_info, dict(stats=False), fake, monkeypatch)
    web = result["ipvs"]["services"][0]
    assert web["stats"] is None and web["reals"][0]["stats"] is None
    assert web["reals"][0]["active_conns"] == 4
    assert fake.reads_with_stats == [False]


def test_check_mode_is_the_same(monkeypatch):
    normal = run_module(ipvs_info, {}, kernel(), monkeypatch)
    checked = run_module(ipvs_info, {}, kernel(), monkeypatch, check_mode=True)
    assert checked == normal


def test_unavailable(monkeypatch):
    result = run_module(ipvs_info, {}, FakeKernel(unavailable=True), monkeypatch)
    assert result["failed"] is True and "ip_vs" in result["msg"]


def test_kernel_closed_after_reading(monkeypatch):
    fake = kernel()
    run_module(ipvs_info, {}, fake, monkeypatch)
    assert (fake.opened, fake.closed) == (1, 1)
