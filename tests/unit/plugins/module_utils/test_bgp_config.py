# -*- coding: utf-8 -*-
# Copyright (c) 2026, lvs.cluster contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Scale-out: the director's BIRD configuration, keepalived's quorum settings, the ECMP mode's checks."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import math
import os
import shutil
import subprocess
from fractions import Fraction

import pytest

from ansible_collections.lvs.cluster.plugins.module_utils._ipvs_model import IpvsValidationError
from ansible_collections.lvs.cluster.plugins.module_utils import _lvs_cluster as cluster

from ansible_collections.lvs.cluster.plugins.module_utils import _bgp_config as bgp

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", "..", ".."))
HOSTVARS = {"rs1": {"lvs_real_address": "192.0.2.21"}, "rs2": {"lvs_real_address": "192.0.2.22"}}
GROUPS = {"realservers": ["rs1", "rs2"]}
ROUTER4 = {"address": "192.0.2.1", "as": 65000}
ROUTER6 = {"address": "2001:db8:20::1", "as": 65000}
VIPS = ["203.0.113.100", "2001:db8:30::100"]


def params(**extra):
    result = {"router_id": "192.0.2.11", "as": 65010, "neighbors": [ROUTER4, ROUTER6]}
    result.update(extra)
    return result


def ecmp_entry(**extra):
    entry = {"name": "web", "vip": "203.0.113.100", "port": 80, "scheduler": "mh",
             "scheduler_flags": ["mh-fallback", "mh-port"], "health_check": {"type": "tcp"},
             "real_server_group": "realservers"}
    entry.update(extra)
    return entry


def parse(*entries):
    return cluster.parse_cluster(list(entries), HOSTVARS, GROUPS)


# --- BIRD -----------------------------------------------------------------------------------------------------


def test_a_dual_stack_director_gets_one_session_and_one_kernel_table_per_family():
    neighbors = [dict(ROUTER4, name="up4", hold_time=9, keepalive_time=3, error_wait=[5, 30], password="s3cret"),
                 dict(ROUTER6, source="2001:db8:20::11")]
    text = bgp.render_bird(bgp.parse_bgp(params(neighbors=neighbors), VIPS + ["203.0.113.99", "203.0.113.100"]))
    assert text.startswith("router id 192.0.2.11;\n")
    assert "ipv4 table lvs_vip4;\nipv6 table lvs_vip6;\n" in text
    assert text.count("    kernel table 100;\n    learn;\n") == 2
    # sorted and unique, in the kernel protocol's import and the session's export alike
    assert text.count("net ~ [ 203.0.113.99/32, 203.0.113.100/32 ];") == 2
    assert text.count("net ~ [ 2001:db8:30::100/128 ];") == 2
    assert ("protocol bgp lvs_up4 {\n    local as 65010;\n    neighbor 192.0.2.1 as 65000;\n    hold time 9;\n"
            "    keepalive time 3;\n    error wait time 5, 30;\n    password \"s3cret\";\n    ipv4 {\n"
            "        table lvs_vip4;\n        next hop self;\n        import none;\n") in text
    assert "protocol bgp lvs_peer2 {\n    local 2001:db8:20::11 as 65010;\n    neighbor 2001:db8:20::1 as 65000;\n" \
        "    ipv6 {\n" in text
    assert "graceful restart" not in text  # BIRD's default (aware): the router must not keep a dead director's routes


def test_a_family_without_vips_gets_no_table_and_its_sessions_are_left_out():
    text = bgp.render_bird(bgp.parse_bgp(params(kernel_table=4242), ["203.0.113.100"]))
    assert "ipv6" not in text
    assert "kernel table 4242;" in text
    assert "2001:db8:20::1" not in text


def test_vips_may_come_as_director_config_entries():
    vips = [{"address": "2001:db8:30::0100", "prefix": 128, "family": "ipv6"}]
    config = bgp.parse_bgp(params(), vips)
    assert config.vips == (("2001:db8:30::100", "ipv6"),)


@pytest.mark.parametrize("options, vips, option, words", [
    ({"router_id": None}, VIPS, "director_bgp_router_id", "is required"),
    ({"router_id": "2001:db8::1"}, VIPS, "director_bgp_router_id", "family is ipv4"),
    ({"as": 0}, VIPS, "director_bgp_as", "between 1 and 4294967295"),
    ({"as": 23456}, VIPS, "director_bgp_as", "AS_TRANS"),
    ({"kernel_table": 254}, VIPS, "director_bgp_kernel_table", "254 main"),
    ({"neighbors": []}, VIPS, "director_bgp_neighbors", "non-empty list"),
    ({"neighbors": [ROUTER4]}, VIPS, "director_bgp_neighbors", "no IPv6 neighbor to announce the VIP 2001:db8:30::100"),
    ({"neighbors": [dict(ROUTER4, peer="x")]}, VIPS[:1], "director_bgp_neighbors[0].peer", "not a neighbor option"),
    ({"neighbors": [dict(ROUTER4, address="router")]}, VIPS[:1], "director_bgp_neighbors[0].address", "not an IPv4"),
    ({"neighbors": [dict(ROUTER4, **{"as": 65010})]}, VIPS[:1], "director_bgp_neighbors[0].as", "iBGP"),
    ({"neighbors": [dict(ROUTER4, name="up-4")]}, VIPS[:1], "director_bgp_neighbors[0].name", "underscores"),
    ({"neighbors": [dict(ROUTER4, source="2001:db8:20::11")]}, VIPS[:1], "director_bgp_neighbors[0].source",
     "family is ipv4"),
    ({"neighbors": [dict(ROUTER4, hold_time=2)]}, VIPS[:1], "director_bgp_neighbors[0].hold_time", "between 3"),
    ({"neighbors": [dict(ROUTER4, hold_time=9, keepalive_time=10)]}, VIPS[:1],
     "director_bgp_neighbors[0].keepalive_time", "at most hold_time (9)"),
    ({"neighbors": [dict(ROUTER4, keepalive_time=241)]}, VIPS[:1], "director_bgp_neighbors[0].keepalive_time",
     "at most hold_time (240)"),
    ({"neighbors": [dict(ROUTER4, error_wait=[30, 5])]}, VIPS[:1], "director_bgp_neighbors[0].error_wait", "MIN <="),
    ({"neighbors": [dict(ROUTER4, error_wait=5)]}, VIPS[:1], "director_bgp_neighbors[0].error_wait", "[MIN, MAX]"),
    ({"neighbors": [ROUTER4, dict(ROUTER4, name="again")]}, VIPS[:1], "director_bgp_neighbors[1].address",
     "already a neighbor"),
    ({"neighbors": [dict(ROUTER4, name="r"), dict(ROUTER6, name="r")]}, VIPS[:1],
     "director_bgp_neighbors[1].name", "already the name"),
])
def test_errors_name_the_option_and_the_value(options, vips, option, words):
    with pytest.raises(IpvsValidationError) as error:
        bgp.parse_bgp(params(**options), vips)
    assert error.value.option == option
    assert words in str(error.value)


@pytest.mark.parametrize("password", ['SECRET"quote', "SECRET\\slash", "SECRET\nline", "", "SECRET" * 14, 42])
def test_a_bad_password_is_refused_without_showing_it(password):
    with pytest.raises(IpvsValidationError) as error:
        bgp.parse_bgp(params(neighbors=[dict(ROUTER4, password=password)]), VIPS[:1])
    assert error.value.option == "director_bgp_neighbors[0].password"
    assert error.value.value == "(hidden)"
    assert "SECRET" not in str(error.value)


# --- quorum ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("weights, low, high, expected", [
    ([1, 1], 0.5, None, (1, 0)),          # 2 reals: withdraw when none is healthy
    ([1, 1, 1, 1], 0.5, 1, (3, 1)),       # withdraw below 2 (1 healthy), announce again at 4
    ([1] * 10, 0.3, None, (3, 0)),        # exact: 0.3 * 10 is 3, not float's 3.0000000000000004 -> 4
    ([1] * 10, "0.3", "0.6", (5, 1)),     # a = 3, b = 6: odd gap, withdraw one unit early (below 4)
    ([2, 3], 1, None, (5, 0)),            # every real needed
    ([1, 1], 0, None, (1, 0)),            # keepalived's floor: quorum 1 (and it always withdraws at 0)
    ([0, 0], 0.5, None, (1, 0)),          # all drained: never announced
])
def test_quorum_of_the_watermarks(weights, low, high, expected):
    assert bgp.quorum_of(weights, low, high) == expected


def keepalived_quorum(quorum, hysteresis, live_weights):
    """keepalived's update_quorum_state over a sequence of live weight sums, from quorum down (alpha)."""
    up, states = False, []
    for live in live_weights:
        if not up and live >= quorum + hysteresis:
            up = True
        elif up and (live == 0 or live < quorum - hysteresis):
            up = False
        states.append(up)
    return states


@pytest.mark.parametrize("total", range(1, 13))
@pytest.mark.parametrize("low, high", [("0.25", "0.25"), ("0.25", "0.75"), ("0.5", "0.5"), ("0.5", "1"),
                                       ("0.34", "0.67"), ("0", "1")])
def test_keepalived_announces_at_the_high_mark_and_withdraws_below_the_low_one(total, low, high):
    quorum, hysteresis = bgp.quorum_of([1] * total, low, high)
    announce = max(1, math.ceil(Fraction(high) * total))
    withdraw = max(1, math.ceil(Fraction(low) * total))
    down_up = list(range(0, total + 1))  # healthy weight rising from nothing: announced from `announce` on
    assert keepalived_quorum(quorum, hysteresis, down_up) == [live >= announce for live in down_up]
    falling = list(range(total, -1, -1))  # then falling from all healthy
    states = keepalived_quorum(quorum, hysteresis, [total] + falling)[1:]
    kept = [live for live, up in zip(falling, states) if up]
    # still announced at `withdraw + 1` (one unit early at most when the gap is odd), never below `withdraw`
    assert min(kept) in (withdraw, withdraw + 1)


@pytest.mark.parametrize("low, high, option", [(1.5, None, "director_bgp_low_watermark"),
                                               ("half", None, "director_bgp_low_watermark"),
                                               (True, None, "director_bgp_low_watermark"),
                                               (0.5, 0.25, "director_bgp_high_watermark")])
def test_bad_watermarks_name_the_option(low, high, option):
    with pytest.raises(IpvsValidationError) as error:
        bgp.quorum_of([1, 1], low, high)
    assert error.value.option == option


def test_route_commands_per_family():
    assert bgp.route_commands("203.0.113.100") == (
        "/bin/ip -4 route replace blackhole 203.0.113.100/32 table 100 proto static",
        "/bin/ip -4 route del blackhole 203.0.113.100/32 table 100 proto static")
    assert bgp.route_commands("2001:db8:30::100", 7)[0] == \
        "/bin/ip -6 route replace blackhole 2001:db8:30::100/128 table 7 proto static"


def test_a_vip_with_one_virtual_server_runs_ip_itself_and_one_with_several_the_hook():
    items = parse(ecmp_entry(), ecmp_entry(name="alt", port=8080),
                  ecmp_entry(name="web6", vip="2001:db8:30::100", real_server_group=None,
                             real_servers=[{"address": "2001:db8:20::21", "weight": 3},
                                           {"address": "2001:db8:20::22"}]))
    settings = bgp.quorum_settings([(item.vip, item.service) for item in items], "0.5")
    web, alt, web6 = (settings[item.service.key] for item in items)
    assert web[:4] == ["    alpha", "    omega", "    quorum 1", "    hysteresis 0"]
    assert web[4] == ('    quorum_up "/usr/libexec/lvs-cluster-vip-route up 203.0.113.100 100 tcp-80 '
                      'tcp-80,tcp-8080" root')
    assert alt[5] == ('    quorum_down "/usr/libexec/lvs-cluster-vip-route down 203.0.113.100 100 tcp-8080 '
                      'tcp-80,tcp-8080" root')
    assert web6[2] == "    quorum 2"  # ceil(0.5 * 4)
    assert web6[4:] == ['    quorum_up "/bin/ip -6 route replace blackhole 2001:db8:30::100/128 table 100 '
                        'proto static" root',
                        '    quorum_down "/bin/ip -6 route del blackhole 2001:db8:30::100/128 table 100 '
                        'proto static" root']


def test_drained_reals_count_for_nothing():
    (item,) = cluster.drain(parse(ecmp_entry()), ["rs1"])[0]
    settings = bgp.quorum_settings([(item.vip, item.service)], 1)
    assert settings[item.service.key][2] == "    quorum 1"  # rs2 alone (weight 1) is all the weight there is


def test_the_keepalived_dropin_clears_the_table_and_the_hooks_state():
    assert "[Unit]" not in bgp.render_keepalived_dropin(100)
    assert bgp.render_keepalived_dropin(100, ["a.service"]).startswith("[Unit]\nAfter=a.service\nWants=a.service\n")
    text = bgp.render_keepalived_dropin(100)
    assert "ExecStartPre=-/bin/ip -4 route flush table 100\n" in text
    assert "ExecStop=-/bin/ip -6 route flush table 100\nExecStop=/bin/sleep 2\n" in text
    assert "ExecStopPost=-/bin/rm -rf /run/lvs-cluster/vip-route\n" in text


# --- the ECMP mode's checks -----------------------------------------------------------------------------------


def test_a_description_fit_for_ecmp_passes():
    bgp.check_ecmp(parse(ecmp_entry(), ecmp_entry(name="tun", port=81, forwarding="tun")))


@pytest.mark.parametrize("extra, option, words", [
    ({"scheduler": "wrr", "scheduler_flags": None}, "lvs_virtual_services[0].scheduler", "must be mh"),
    ({"scheduler_flags": ["mh-port"]}, "lvs_virtual_services[0].scheduler_flags", "mh-fallback"),
    ({"persistent": 300}, "lvs_virtual_services[0].persistent", "per-director"),
    ({"sorry_server": "192.0.2.99"}, "lvs_virtual_services[0].sorry_server", "withdraws the VIP instead"),
    ({"health_check": None}, "lvs_virtual_services[0].health_check", "set a health check"),
    ({"health_check": {"type": "tcp", "on_failure": "remove"}}, "lvs_virtual_services[0].health_check.on_failure",
     "quiescent"),
    ({"forwarding": "nat"}, "lvs_virtual_services[0].forwarding", "dr or tun"),
    ({"real_server_group": None, "real_servers": [{"address": "192.0.2.21", "u_threshold": 100}]},
     "lvs_virtual_services[0].u_threshold", "per-director"),
])
def test_what_breaks_shared_flows_is_refused(extra, option, words):
    with pytest.raises(IpvsValidationError) as error:
        bgp.check_ecmp(parse(ecmp_entry(**extra)))
    assert error.value.option == option
    assert words in str(error.value)


def test_a_real_servers_check_override_must_quiesce_too():
    entry = ecmp_entry(real_server_group=None, real_servers=[
        {"address": "192.0.2.21"}, {"address": "192.0.2.22", "health_check": {"on_failure": "remove"}}])
    with pytest.raises(IpvsValidationError) as error:
        bgp.check_ecmp(parse(entry))
    assert error.value.option == "lvs_virtual_services[0].real_servers[1].health_check.on_failure"


# --- the daemons' own parsers and the hook (skipped where the tools are missing) -------------------------------

# tests/engine_configs/check.sh unpacks Debian's bird2 here (no install); it also runs bird -p on its sample.
BIRD_ROOT = os.path.join(os.environ.get("LVS_ENGINE_CACHE") or os.path.join(
    os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "lvs-cluster", "engines"), "root")
BIRD = os.path.join(BIRD_ROOT, "usr", "sbin", "bird")


@pytest.mark.skipif(not os.path.exists(BIRD), reason="bird2 not unpacked (tests/engine_configs/check.sh does it)")
def test_bird_parses_what_is_rendered(tmp_path):
    neighbors = [dict(ROUTER4, name="up4", hold_time=9, keepalive_time=3, error_wait=[5, 30], password="s3cret"),
                 dict(ROUTER6, source="2001:db8:20::11", hold_time=30)]
    for vips in (VIPS, VIPS[:1]):
        path = tmp_path / "bird.conf"
        path.write_text(bgp.render_bird(bgp.parse_bgp(params(neighbors=neighbors), vips)))
        env = dict(os.environ, LD_LIBRARY_PATH=os.path.join(BIRD_ROOT, "usr", "lib", "x86_64-linux-gnu"))
        result = subprocess.run([BIRD, "-p", "-c", str(path)], env=env, capture_output=True, text=True, check=False)
        assert result.returncode == 0, result.stderr


@pytest.mark.skipif(os.geteuid() != 0 or not shutil.which("unshare"), reason="needs root and unshare -n")
def test_the_hook_announces_a_vip_only_while_all_its_virtual_servers_have_quorum(tmp_path):
    """In a private network namespace (nothing of the host's routing is touched)."""
    hook = os.path.join(REPO, "roles", "director", "files", "lvs-cluster-vip-route")
    script = """
set -e
h() { "$HOOK" "$1" 203.0.113.100 100 "$2" tcp-443,tcp-80; }
show() { echo "$1: $(ip -4 route show table 100 | tr '\\n' ' ')"; }
ip link set lo up
h up tcp-80; show one
h up tcp-443; show both
h up tcp-443; show again
h down tcp-80; show lost
h down tcp-80; show twice
h up tcp-80; show back
"$HOOK" up 2001:db8:30::100 100 tcp-80 tcp-80; echo "six: $(ip -6 route show table 100 | tr '\\n' ' ')"
"""
    env = dict(os.environ, HOOK=hook, LVS_VIP_ROUTE_STATE=str(tmp_path / "state"))
    result = subprocess.run(["unshare", "-n", "sh", "-c", script], env=env, capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr
    lines = dict(line.split(": ", 1) for line in result.stdout.splitlines())
    route = "blackhole 203.0.113.100 proto static"
    assert lines["one"].strip() == ""
    assert lines["both"].strip() == lines["again"].strip() == lines["back"].strip() == route
    assert lines["lost"].strip() == lines["twice"].strip() == ""
    assert lines["six"].startswith("blackhole 2001:db8:30::100 dev lo proto static")
