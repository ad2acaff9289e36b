# -*- coding: utf-8 -*-
# Copyright (c) 2026, lvs.cluster contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Health-check parsing, engine capabilities, and the keepalived / ldirectord configurations rendered from them."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import pytest

from ansible_collections.lvs.cluster.plugins.module_utils._ipvs_model import IpvsValidationError
from ansible_collections.lvs.cluster.plugins.module_utils import _lvs_cluster as cluster
from ansible_collections.lvs.cluster.plugins.module_utils._lvs_health import (
    HealthCheck, check_engine, parse_health_check, parse_sorry_server)
from ansible_collections.lvs.cluster.plugins.module_utils._engine_configs import (
    EngineService, render_keepalived_services, render_ldirectord)

HOSTVARS = {"rs1": {"lvs_real_address": "192.0.2.21"}, "rs2": {"lvs_real_address": "192.0.2.22"}}
GROUPS = {"realservers": ["rs1", "rs2"]}
COURSE_CHECK = {"type": "http", "path": "/.health.html", "body": "OK", "virtualhost": "www.lab.example",
                "interval": 2, "timeout": 2, "retries": 2}


def web(**extra):
    entry = {"name": "web", "vip": "192.0.2.100", "port": 80, "scheduler": "wrr", "real_server_group": "realservers"}
    entry.update(extra)
    (item,) = cluster.parse_cluster([entry], HOSTVARS, GROUPS)
    return item.service


def test_a_real_server_overrides_keys_of_the_services_check():
    service_check = parse_health_check(COURSE_CHECK, "lvs_virtual_services[0].health_check")
    real_check = parse_health_check({"port": 8080, "path": "/ping"}, "lvs_virtual_services[0].real_servers[1]"
                                    ".health_check", service_check)
    assert (real_check.type, real_check.body, real_check.port, real_check.path) == ("http", "OK", 8080, "/ping")
    assert parse_health_check(None, "x") == HealthCheck()


@pytest.mark.parametrize("value, words", [
    ({"type": "icmp"}, ["health_check.type", "icmp"]),
    ({"tpye": "http"}, ["health_check.tpye", "is not a health_check option"]),
    ({"type": "http", "path": "health"}, ["health_check.path", "must start with /"]),
    ({"type": "http", "status": 700}, ["health_check.status", "700"]),
    ({"type": "dns"}, ["health_check.dns_name", "is required with type dns"]),
    ({"type": "exec"}, ["health_check.command", "is required with type exec"]),
    ({"type": "tcp", "dynamic_weight": True}, ["health_check.dynamic_weight", "only applies to type exec"]),
    ({"type": "http", "body": 'say "hi"'}, ["health_check.body", "without double quotes"]),
    ({"type": "http", "interval": 0}, ["health_check.interval", "0"]),
    ("http", ["health_check", "must be a dictionary"]),
])
def test_bad_checks_name_the_option_and_value(value, words):
    with pytest.raises(IpvsValidationError) as caught:
        parse_health_check(value, "lvs_virtual_services[0].health_check")
    for word in words:
        assert word in str(caught.value)


def test_sorry_server_forms():
    assert parse_sorry_server("192.0.2.30", "s", "ipv4") == ("192.0.2.30", None)
    assert parse_sorry_server("192.0.2.30:8080", "s", "ipv4") == ("192.0.2.30", 8080)
    assert parse_sorry_server("[2001:db8::30]:80", "s", "ipv6") == ("2001:db8::30", 80)
    assert parse_sorry_server("2001:db8::30", "s", "ipv6") == ("2001:db8::30", None)
    with pytest.raises(IpvsValidationError) as caught:
        parse_sorry_server("192.0.2.30:99999", "lvs_virtual_services[0].sorry_server", "ipv4")
    assert "lvs_virtual_services[0].sorry_server" in str(caught.value)


@pytest.mark.parametrize("engine, check, real_checks, sorry, words", [
    ("netlink", HealthCheck(type="http"), {}, None, ["health_check", "needs director_engine keepalived"]),
    ("netlink", HealthCheck(), {}, ("192.0.2.30", None), ["sorry_server", "needs director_engine"]),
    ("keepalived", HealthCheck(type="http", body="OK"), {}, None, ["health_check.body", "keepalived"]),
    ("ldirectord", HealthCheck(type="exec", command="/bin/true", dynamic_weight=True), {}, None,
     ["dynamic_weight", "ldirectord"]),
    ("ldirectord", HealthCheck(type="http", status=204), {}, None, ["health_check.status", "ldirectord"]),
    ("ldirectord", HealthCheck(type="http"), {"p.real_servers[0]": HealthCheck(type="tcp")}, None,
     ["p.real_servers[0].health_check", "one check per virtual service"]),
    ("haproxy", HealthCheck(), {}, None, ["director_engine", "haproxy"]),
])
def test_what_an_engine_cannot_express_is_refused_naming_option_and_engine(engine, check, real_checks, sorry, words):
    with pytest.raises(IpvsValidationError) as caught:
        check_engine(engine, "p", check, real_checks, sorry)
    for word in words:
        assert word in str(caught.value)


def test_what_each_engine_can_express_passes():
    check_engine("netlink", "p", HealthCheck(), {}, None)
    check_engine("keepalived", "p", HealthCheck(type="exec", command="/bin/true", dynamic_weight=True),
                 {"p.real_servers[0]": HealthCheck(type="tcp")}, ("192.0.2.30", 80))
    check_engine("ldirectord", "p", parse_health_check(COURSE_CHECK, "p"), {}, ("192.0.2.30", None))


def test_keepalived_renders_the_service_its_reals_and_their_checks():
    service = web(persistent=300)
    check = parse_health_check({"type": "http", "path": "/.health.html", "virtualhost": "www.lab.example",
                                "interval": 2, "timeout": 2, "retries": 2}, "p")
    rs2 = [real for real in service.reals if real.address == "192.0.2.22"][0]
    text = render_keepalived_services([EngineService("web", service, check, {rs2.key: HealthCheck(
        type="tcp", on_failure="remove")}, ("192.0.2.30", None))])
    assert text.splitlines()[:10] == [
        "virtual_server 192.0.2.100 80 {",
        "    # web",
        "    delay_loop 2",
        "    lb_algo wrr",
        "    lb_kind DR",
        "    protocol TCP",
        "    persistence_timeout 300",
        "    persistence_granularity 255.255.255.255",
        "    sorry_server 192.0.2.30 80",
        "    real_server 192.0.2.21 80 {",
    ]
    rs1_block = text[text.index("real_server 192.0.2.21"):text.index("real_server 192.0.2.22")]
    assert "inhibit_on_failure" in rs1_block and "HTTP_GET {" in rs1_block
    assert "            url {\n                path /.health.html\n                status_code 200\n" in rs1_block
    assert "            virtualhost www.lab.example" in rs1_block and "retry 2" in rs1_block
    rs2_block = text[text.index("real_server 192.0.2.22"):]
    assert "TCP_CHECK {" in rs2_block and "inhibit_on_failure" not in rs2_block
    assert text.count("{") == text.count("}")


def test_keepalived_renders_fwmark_tunnels_and_mixed_methods():
    service = web(port=None, fwmark=3, fwmark_ports=[80, 443], forwarding="tun", tun_type="gue", tun_port=6080)
    text = render_keepalived_services([EngineService("marked", service)])
    assert text.startswith("virtual_server fwmark 3 {") and "protocol" not in text
    assert "lvs_method TUN type gue port 6080" in text and "lb_kind" not in text
    assert "inhibit_on_failure" not in text and "_CHECK" not in text and "HTTP_GET" not in text


def test_ldirectord_renders_the_courses_configuration():
    service = web(scheduler="rr")
    text = render_ldirectord([EngineService("web", service, parse_health_check(COURSE_CHECK, "p"), {},
                                            ("192.0.2.30", None))])
    assert text.splitlines() == [
        "checkinterval=2", "autoreload=no", "fork=no", "",
        "virtual=192.0.2.100:80",
        "\t# web",
        "\treal=192.0.2.21:80 gate 1",
        "\treal=192.0.2.22:80 gate 1",
        "\tfallback=192.0.2.30:80 gate",
        "\tscheduler=rr",
        "\tprotocol=tcp",
        "\tquiescent=yes",
        "\tchecktimeout=2",
        "\tfailurecount=2",
        "\tservice=http",
        "\tchecktype=negotiate",
        "\thttpmethod=GET",
        '\trequest="/.health.html"',
        '\treceive="OK"',
        "\tvirtualhost=www.lab.example",
    ]
    assert text.endswith("\n")


def test_ldirectord_uses_virtual6_and_brackets_for_ipv6():
    entry = {"name": "web6", "vip": "2001:db8:1::100", "port": 80, "scheduler": "rr",
             "real_servers": [{"address": "2001:db8:1::21"}]}
    (item,) = cluster.parse_cluster([entry], HOSTVARS, GROUPS)
    text = render_ldirectord([EngineService("web6", item.service, HealthCheck(type="tcp"))])
    assert "virtual6=[2001:db8:1::100]:80" in text and "\treal6=[2001:db8:1::21]:80 gate 1" in text
    assert "\tchecktype=connect" in text


def parse(entries):
    return cluster.parse_cluster(entries, HOSTVARS, GROUPS)


def test_the_description_carries_checks_overrides_and_the_sorry_server():
    entry = {"name": "web", "vip": "192.0.2.100", "port": 80, "scheduler": "rr", "health_check": COURSE_CHECK,
             "sorry_server": "192.0.2.30",
             "real_servers": [{"host": "rs1"}, {"host": "rs2", "health_check": {"path": "/other.html"}}]}
    services = cluster.engine_services(parse([dict(entry, real_servers=[{"host": "rs1"}, {"host": "rs2"}])]),
                                       "ldirectord")
    assert services[0].check.body == "OK" and services[0].sorry_server == ("192.0.2.30", None)
    with pytest.raises(IpvsValidationError) as caught:
        cluster.engine_services(parse([entry]), "ldirectord")
    assert "lvs_virtual_services[0].real_servers[1].health_check" in str(caught.value)
    with pytest.raises(IpvsValidationError) as caught:
        cluster.engine_services(parse([entry]), "keepalived")
    assert "lvs_virtual_services[0].health_check.body" in str(caught.value)
    keepalived = cluster.engine_services(parse([dict(entry, health_check=dict(COURSE_CHECK, body=None))]),
                                         "keepalived")
    (rs2_key,) = keepalived[0].real_checks
    assert "192.0.2.22" in rs2_key and keepalived[0].real_checks[rs2_key].path == "/other.html"


@pytest.mark.parametrize("entry, words", [
    ({"health_check": {"type": "ping"}}, ["lvs_virtual_services[0].health_check.type", "ping"]),
    ({"sorry_server": "nowhere"}, ["lvs_virtual_services[0].sorry_server", "nowhere"]),
    ({"real_servers": [{"host": "rs1", "health_check": {"retries": "many"}}], "real_server_group": None},
     ["lvs_virtual_services[0].real_servers[0].health_check.retries", "many"]),
])
def test_bad_checks_in_the_description_name_the_path(entry, words):
    base = {"name": "web", "vip": "192.0.2.100", "port": 80, "real_server_group": "realservers"}
    base.update(entry)
    with pytest.raises(IpvsValidationError) as caught:
        parse([base])
    for word in words:
        assert word in str(caught.value)


def test_the_netlink_engine_refuses_health_checks():
    entry = {"name": "web", "vip": "192.0.2.100", "port": 80, "real_server_group": "realservers",
             "health_check": {"type": "tcp"}}
    with pytest.raises(IpvsValidationError) as caught:
        cluster.engine_services(parse([entry]), "netlink")
    assert "lvs_virtual_services[0].health_check" in str(caught.value)


def test_keepalived_ha_holds_the_vips_in_one_vrrp_instance_with_unicast_peers_and_sync():
    from ansible_collections.lvs.cluster.plugins.module_utils._engine_configs import parse_vrrp, render_keepalived
    vrrp = parse_vrrp({"interface": "eth1", "virtual_router_id": 51, "priority": 150, "source": "192.0.2.10",
                       "peers": ["192.0.2.11"], "nopreempt": True, "auth_pass": "lvs2026",
                       "vips": [("192.0.2.100", 32, "ipv4"), ("2001:db8:1::100", 128, "ipv6")],
                       "notify": "/usr/local/sbin/lvs-vrrp-notify"})
    text = render_keepalived([EngineService("web", web())], "director", vrrp)
    assert "    lvs_sync_daemon eth1 VI_LVS id 51\n" in text
    instance = text[text.index("vrrp_instance VI_LVS {"):text.index("virtual_server")]
    for line in ("    state BACKUP", "    priority 150", "    nopreempt", "    unicast_src_ip 192.0.2.10",
                 "        192.0.2.11", "        auth_pass lvs2026", "        192.0.2.100/32 dev eth1",
                 '    notify "/usr/local/sbin/lvs-vrrp-notify"'):
        assert line + "\n" in instance, line
    assert "virtual_ipaddress_excluded {\n        2001:db8:1::100/128 dev eth1\n    }" in instance
    assert text.count("{") == text.count("}")
    assert "preempt_delay" not in text


def test_keepalived_ha_preempt_delay_waits_before_taking_the_vips_back():
    from ansible_collections.lvs.cluster.plugins.module_utils._engine_configs import parse_vrrp, render_keepalived
    vrrp = parse_vrrp({"interface": "eth1", "virtual_router_id": 51, "priority": 150, "source": "192.0.2.10",
                       "peers": ["192.0.2.11"], "preempt_delay": 5, "vips": [("192.0.2.100", 32, "ipv4")]})
    instance = render_keepalived([], "director", vrrp).split("vrrp_instance VI_LVS {")[1]
    assert "    preempt_delay 5\n" in instance and "nopreempt" not in instance


@pytest.mark.parametrize("options, line", [
    ({}, "    preempt_delay 15\n"),  # the safe default: the sync daemon copies the connections first
    ({"preempt_delay": 0}, None),  # asked for: at once
    ({"nopreempt": True}, "    nopreempt\n"),
])
def test_keepalived_ha_preempt_delay_defaults_to_15_s_unless_told_otherwise(options, line):
    from ansible_collections.lvs.cluster.plugins.module_utils._engine_configs import parse_vrrp, render_keepalived
    params = {"interface": "eth1", "virtual_router_id": 51, "priority": 150, "source": "192.0.2.10",
              "peers": ["192.0.2.11"], "vips": [("192.0.2.100", 32, "ipv4")]}
    instance = render_keepalived([], "director", parse_vrrp(dict(params, **options))).split("vrrp_instance")[1]
    preempt_lines = [text + "\n" for text in instance.splitlines() if "preempt" in text]
    assert preempt_lines == ([line] if line else [])


@pytest.mark.parametrize("change, words", [
    ({"priority": 255}, ["director_ha.priority", "255"]),
    ({"virtual_router_id": 0}, ["director_ha.virtual_router_id", "0"]),
    ({"peers": []}, ["director_ha.peers", "at least one other director"]),
    ({"peers": ["192.0.2.10"]}, ["director_ha.peers", "own address"]),
    ({"auth_pass": "much-too-long"}, ["director_ha.auth_pass", "1 to 8 letters or digits"]),
    ({"preempt_delay": 1001}, ["director_ha.preempt_delay", "1001"]),
    ({"preempt_delay": 5, "nopreempt": True}, ["director_ha.preempt_delay", "nopreempt"]),
])
def test_bad_vrrp_options_name_the_option(change, words):
    from ansible_collections.lvs.cluster.plugins.module_utils._engine_configs import parse_vrrp
    params = {"interface": "eth1", "virtual_router_id": 51, "priority": 100, "source": "192.0.2.10",
              "peers": ["192.0.2.11"]}
    params.update(change)
    with pytest.raises(IpvsValidationError) as caught:
        parse_vrrp(params)
    for word in words:
        assert word in str(caught.value)
    assert "much-too-long" not in str(caught.value)


def test_director_config_renders_the_engines_config_with_drained_reals_at_weight_0():
    entry = {"name": "web", "vip": "192.0.2.100", "port": 80, "scheduler": "rr", "real_server_group": "realservers",
             "health_check": {"type": "http", "path": "/.health.html"}, "sorry_server": "192.0.2.30"}
    config = cluster.director_config(parse([entry]), "director", "eth1", drained=["rs1"], engine="keepalived",
                                     vrrp={"virtual_router_id": 51, "priority": 100, "source": "192.0.2.10",
                                           "peers": ["192.0.2.11"]})
    text = config["engine_config"]
    assert config["engine"] == "keepalived"
    assert "real_server 192.0.2.21 80 {\n        weight 0\n" in text
    assert "real_server 192.0.2.22 80 {\n        weight 1\n" in text
    assert "        192.0.2.100/32 dev eth1\n" in text
    ldirectord = cluster.director_config(parse([entry]), "director", drained=["rs1"], engine="ldirectord")
    assert "\treal=192.0.2.21:80 gate 0\n" in ldirectord["engine_config"]
    assert cluster.director_config(parse([dict(entry, health_check=None, sorry_server=None)]))["engine_config"] == ""
    with pytest.raises(IpvsValidationError) as caught:
        cluster.director_config(parse([entry]), engine="ldirectord", vrrp={"priority": 100})
    assert "director_ha" in str(caught.value)
