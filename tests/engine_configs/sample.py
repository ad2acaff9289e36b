# -*- coding: utf-8 -*-
# Copyright (c) 2026, lvs.cluster contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Prints the keepalived or ldirectord configuration of a description that uses every check type, for the
daemons' own parsers (tests/engine_configs/check.sh): python sample.py keepalived|ldirectord INTERFACE"""

from __future__ import absolute_import, division, print_function

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", ".build", "collections"))

from ansible_collections.lvs.cluster.plugins.module_utils import _lvs_cluster as cluster  # noqa: E402

HOSTVARS = {"rs1": {"lvs_real_address": "192.0.2.21"}, "rs2": {"lvs_real_address": "192.0.2.22"}}
GROUPS = {"realservers": ["rs1", "rs2"]}
COMMON = [
    {"name": "web", "vip": "192.0.2.100", "port": 80, "scheduler": "wrr", "real_server_group": "realservers",
     "persistent": 60, "sorry_server": "192.0.2.30",
     "health_check": {"type": "http", "path": "/.health.html", "virtualhost": "www.lab.example", "interval": 2,
                      "timeout": 2, "retries": 2}},
    {"name": "mark", "vip": "192.0.2.104", "fwmark": 1, "fwmark_ports": [80, 8080], "scheduler": "rr",
     "real_server_group": "realservers", "persistent": 10, "health_check": {"type": "tcp", "port": 80, "interval": 2}},
    {"name": "web6", "vip": "2001:db8:1::100", "port": 80, "scheduler": "rr",
     "real_servers": [{"address": "2001:db8:1::21"}], "health_check": {"type": "http", "interval": 2}},
    {"name": "dns", "vip": "192.0.2.105", "port": 53, "protocol": "udp", "scheduler": "rr",
     "real_server_group": "realservers", "health_check": {"type": "dns", "dns_name": "www.lab.example", "interval": 2}},
]
KEEPALIVED_ONLY = [
    {"name": "tls", "vip": "192.0.2.101", "port": 443, "scheduler": "mh", "scheduler_flags": ["mh-port"],
     "health_check": {"type": "https", "virtualhost": "www.lab.example"},
     "real_servers": [{"host": "rs1", "health_check": {"type": "tcp", "on_failure": "remove"}}, {"host": "rs2"}]},
    {"name": "exec", "vip": "192.0.2.106", "port": 25, "scheduler": "wlc", "real_server_group": "realservers",
     "health_check": {"type": "exec", "command": "/bin/true", "dynamic_weight": True}},
    {"name": "tun", "vip": "192.0.2.107", "port": 80, "scheduler": "rr", "real_server_group": "realservers",
     "forwarding": "tun", "tun_type": "gue", "tun_port": 6080},
]


# The scale-out mode (director_bgp_*): a VIP with two virtual servers (the hook), an IPv6 VIP with one.
ECMP_CHECK = {"type": "tcp", "port": 8080, "interval": 1, "on_failure": "quiescent"}
ECMP = [
    {"name": "web", "vip": "203.0.113.100", "port": 80, "scheduler": "mh", "scheduler_flags": ["mh-fallback", "mh-port"],
     "real_server_group": "realservers", "health_check": ECMP_CHECK},
    {"name": "web-8080", "vip": "203.0.113.100", "port": 8080, "scheduler": "mh", "scheduler_flags": ["mh-fallback"],
     "real_server_group": "realservers", "health_check": ECMP_CHECK},
    {"name": "web6", "vip": "2001:db8:30::100", "port": 80, "scheduler": "mh", "scheduler_flags": ["mh-fallback"],
     "real_servers": [{"address": "2001:db8:20::21"}], "health_check": ECMP_CHECK},
]
ECMP_BGP = {"as": 65010, "low_watermark": 0.5, "high_watermark": 1,
            "neighbors": [{"address": "192.0.2.1", "as": 65000, "hold_time": 9, "keepalive_time": 3,
                           "error_wait": [5, 30], "password": "lab-secret"},
                          {"address": "2001:db8:20::1", "as": 65000}]}


def ecmp(what, host):
    facts = {"default_ipv4": {"address": "192.0.2.11", "interface": "eth1"}}
    plan = cluster.director_plan(cluster.parse_cluster(ECMP, HOSTVARS, GROUPS), host, facts,
                                 {"engine": "keepalived", "bgp": ECMP_BGP, "drained": ["rs2"]})
    sys.stdout.write(plan["engine_config"] if what == "ecmp-keepalived" else plan["bgp"]["bird_config"])


def main(engine, interface):
    entries = COMMON + (KEEPALIVED_ONLY if engine == "keepalived" else [])
    vrrp = ({"virtual_router_id": 51, "priority": 150, "source": "192.0.2.10", "peers": ["192.0.2.11"],
             "nopreempt": True, "auth_pass": "lvs2026", "notify": "/bin/true"} if engine == "keepalived" else None)
    config = cluster.director_config(cluster.parse_cluster(entries, HOSTVARS, GROUPS), "director", interface,
                                     drained=["rs2"], engine=engine, vrrp=vrrp)
    sys.stdout.write(config["engine_config"])


if __name__ == "__main__":
    if sys.argv[1].startswith("ecmp-"):
        ecmp(sys.argv[1], sys.argv[2])
    else:
        main(sys.argv[1], sys.argv[2])
