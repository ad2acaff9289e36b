# -*- coding: utf-8 -*-
# Copyright (c) 2026, lvs.cluster contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The operators' status: the kernel's table joined with the description's names, hosts and admin state."""
from ansible_collections.lvs.cluster.plugins.module_utils import _lvs_cluster as cluster
from ansible_collections.lvs.cluster.plugins.module_utils._lvs_status import status_lines, status_rows

HOSTVARS = {"rs1": {"lvs_real_address": "192.0.2.21"}, "rs2": {"lvs_real_address": "192.0.2.22"}}
GROUPS = {"realservers": ["rs1", "rs2"]}


def kernel_real(address, weight, active=0):
    return {"address": address, "port": 80, "family": "ipv4", "forwarding": "dr", "weight": weight,
            "active_conns": active, "inactive_conns": 2, "persistent_conns": 0,
            "stats": {"cps": 3, "inbps": 100}}


def test_rows_name_services_and_hosts_and_show_the_admin_state():
    description = [{"name": "web", "vip": "192.0.2.100", "port": 80, "scheduler": "rr",
                    "real_server_group": "realservers"}]
    plan = cluster.director_config(cluster.parse_cluster(description, HOSTVARS, GROUPS), drained=["rs1"])
    kernel = [
        {"protocol": "tcp", "address": "192.0.2.100", "port": 80, "scheduler": "rr",
         "reals": [kernel_real("192.0.2.21", 0, active=1), kernel_real("192.0.2.22", 1)]},
        {"fwmark": 2, "scheduler": "rr", "reals": [kernel_real("192.0.2.21", 1), kernel_real("192.0.2.30", 0)]},
        {"protocol": "udp", "address": "192.0.2.101", "port": 53, "scheduler": "rr", "reals": []},
    ]
    rows = status_rows(kernel, plan, {"drained": {"rs1": {"since": "now"}}})
    summary = [(row["service"], row["name"], row["real"], row["host"], row["weight"], row["admin"]) for row in rows]
    assert summary == [
        ("tcp 192.0.2.100:80", "web", "192.0.2.21:80", "rs1", 0, "drained"),
        ("tcp 192.0.2.100:80", "web", "192.0.2.22:80", "rs2", 1, "active"),
        # Not in the description: the drain does not apply there.
        ("fwmark 2", "(not described)", "192.0.2.21:80", "rs1", 1, "active"),
        ("fwmark 2", "(not described)", "192.0.2.30:80", None, 0, "quiescent"),
        ("udp 192.0.2.101:53", "(not described)", None, None, None, None),
    ]
    assert rows[0]["active_conns"] == 1 and rows[0]["cps"] == 3

    lines = status_lines(rows)
    assert lines[0].split() == ["SERVICE", "NAME", "REAL", "HOST", "WEIGHT", "ADMIN", "ACTIVE", "INACTIVE", "CPS",
                                "IN", "B/S"]
    assert lines[1].split()[:8] == ["tcp", "192.0.2.100:80", "web", "192.0.2.21:80", "rs1", "0", "drained", "1"]
    assert lines[5].split()[2:5] == ["(not", "described)", "-"]
    assert len(set(len(line) for line in lines[:3])) <= 2  # aligned columns (trailing blanks stripped)


def test_ipv6_endpoints_are_bracketed():
    rows = status_rows([{"protocol": "tcp", "address": "2001:db8::100", "port": 80, "scheduler": "rr",
                         "reals": [dict(kernel_real("2001:db8::21", 1), family="ipv6")]}], {}, None)
    assert rows[0]["service"] == "tcp [2001:db8::100]:80" and rows[0]["real"] == "[2001:db8::21]:80"
