# -*- coding: utf-8 -*-
# Copyright (c) 2026, lvs.cluster contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import pytest

from ansible_collections.lvs.cluster.plugins.module_utils._ipvs_model import (
    IpvsValidationError,
    Real,
    Service,
    ServiceKey,
    Stats,
    Table,
    Timeouts,
    format_endpoint,
    parse_address,
    parse_persistence_prefix,
    parse_real,
    parse_service,
    parse_service_key,
)

KEY4 = ServiceKey(family="ipv4", protocol="tcp", address="192.0.2.10", port=80)
KEY6 = ServiceKey(family="ipv6", protocol="tcp", address="2001:db8::10", port=80)
FWM = ServiceKey(family="ipv4", fwmark=10)


def service(**params):
    params.setdefault("address", "192.0.2.10")
    params.setdefault("port", 80)
    return parse_service(params)


# ---------------------------------------------------------------------------------------------------------------
# Good input, normalised
# ---------------------------------------------------------------------------------------------------------------


class TestParseGood:
    def test_defaults_like_ipvsadm(self):
        parsed = service()
        assert parsed.key == KEY4
        assert (parsed.scheduler, parsed.persistent, parsed.persistence_prefix, parsed.one_packet) == \
            ("wlc", None, 32, False)
        assert parsed.to_dict(with_reals=False) == {
            "protocol": "tcp", "address": "192.0.2.10", "port": 80, "family": "ipv4", "scheduler": "wlc",
            "persistent": None, "persistence_netmask": None, "one_packet": False, "scheduler_flags": [],
            "pe_name": None}

    @pytest.mark.parametrize("text, expected", [
        ("2001:DB8:0:0::10", "2001:db8::10"),
        ("[2001:db8::10]", "2001:db8::10"),
        (" 192.0.2.10 ", "192.0.2.10"),
    ])
    def test_addresses_are_normalised(self, text, expected):
        assert parse_service_key({"address": text, "port": 80}).address == expected

    def test_ipv6_family_follows_the_address(self):
        assert parse_service_key({"address": "2001:db8::10", "port": 443}).family == "ipv6"

    def test_protocol_case_and_default(self):
        assert parse_service_key({"address": "192.0.2.10", "port": 53, "protocol": "UDP"}).protocol == "udp"
        assert parse_service_key({"address": "192.0.2.10", "port": 53}).protocol == "tcp"

    def test_fwmark_default_family(self):
        assert parse_service_key({"fwmark": 10}) == FWM
        assert parse_service_key({"fwmark": "10", "family": "ipv6"}) == ServiceKey(family="ipv6", fwmark=10)

    @pytest.mark.parametrize("netmask, prefix", [("255.255.255.0", 24), ("24", 24), ("/16", 16), (8, 8)])
    def test_ipv4_persistence_netmask(self, netmask, prefix):
        assert service(persistent=60, persistence_netmask=netmask).persistence_prefix == prefix

    def test_ipv6_persistence_prefix(self):
        parsed = service(address="2001:db8::10", persistent=60, persistence_netmask="64")
        assert parsed.persistence_prefix == 64
        assert parsed.to_dict()["persistence_netmask"] == "64"

    def test_persistent_true_is_ipvsadm_default(self):
        assert service(persistent=True).persistent == 300
        assert service(persistent=False).persistent is None

    def test_port_zero_with_persistence(self):
        assert service(port=0, persistent=300).key.port == 0

    def test_scheduler_flags_sorted_and_deduplicated(self):
        parsed = service(scheduler="sh", scheduler_flags=["sh-port", "sh-fallback", "sh-port"])
        assert parsed.scheduler_flags == ("sh-fallback", "sh-port")

    def test_udp_one_packet(self):
        assert service(protocol="udp", one_packet=True).one_packet is True

    def test_real_defaults_to_service_port_and_dr(self):
        parsed = parse_real({"address": "192.0.2.21"}, KEY4)
        assert parsed == Real(address="192.0.2.21", port=80, family="ipv4")
        assert parsed.to_dict() == {"address": "192.0.2.21", "port": 80, "family": "ipv4", "forwarding": "dr",
                                    "weight": 1, "u_threshold": 0, "l_threshold": 0}

    def test_real_nat_with_other_port(self):
        parsed = parse_real({"address": "10.0.0.1", "port": 8080, "forwarding": "nat"}, KEY4)
        assert (parsed.port, parsed.forwarding) == (8080, "nat")

    def test_real_of_fwmark_service_has_port_zero(self):
        assert parse_real({"address": "192.0.2.21"}, FWM).port == 0

    def test_mixed_family_with_tun(self):
        parsed = parse_real({"address": "2001:db8::21", "forwarding": "tun"}, KEY4)
        assert (parsed.family, parsed.tun_type, parsed.tun_port, parsed.tun_flags) == ("ipv6", "ipip", 0, ())

    def test_gue_tunnel(self):
        parsed = parse_real({"address": "192.0.2.21", "forwarding": "tun", "tun_type": "gue", "tun_port": 6080,
                             "tun_flags": ["remcsum"]}, KEY4)
        assert (parsed.tun_type, parsed.tun_port, parsed.tun_flags) == ("gue", 6080, ("remcsum",))
        assert parsed.to_dict()["tun_flags"] == ["remcsum"]

    @pytest.mark.parametrize("tun_type", ["ipip", "gre"])
    def test_a_tunnel_real_parses_back_from_its_own_dict(self, tun_type):
        parsed = parse_real({"address": "192.0.2.21", "forwarding": "tun", "tun_type": tun_type}, KEY4)
        rendered = parsed.to_dict()
        assert rendered["tun_port"] == 0
        assert parse_real(rendered, KEY4) == parsed

    def test_nocsum_compares_equal_to_no_flag(self):
        with_flag = parse_real({"address": "192.0.2.21", "forwarding": "tun", "tun_type": "gre",
                                "tun_flags": ["nocsum"]}, KEY4)
        assert with_flag == parse_real({"address": "192.0.2.21", "forwarding": "tun", "tun_type": "gre"}, KEY4)

    def test_names_map_options(self):
        with pytest.raises(IpvsValidationError) as err:
            parse_real({"address": "192.0.2.21", "port": 81}, KEY4, names={"port": "real_port"})
        assert err.value.option == "real_port"


class TestObjects:
    def test_counters_take_no_part_in_equality(self):
        a = Real(address="192.0.2.21", port=80, family="ipv4", active_conns=5, stats=Stats(conns=3))
        assert a == Real(address="192.0.2.21", port=80, family="ipv4")

    def test_reals_and_services_are_ordered(self):
        reals = [Real("192.0.2.30", 80, "ipv4"), Real("192.0.2.4", 80, "ipv4")]
        assert Service(key=KEY4, reals=tuple(reals)) == Service(key=KEY4, reals=tuple(reversed(reals)))
        table = Table(services=(Service(key=FWM), Service(key=KEY6), Service(key=KEY4)))
        assert [s.key for s in table.services] == [KEY4, KEY6, FWM]

    def test_str_like_ipvsadm(self):
        assert str(KEY4) == "TCP 192.0.2.10:80"
        assert str(KEY6) == "TCP [2001:db8::10]:80"
        assert str(FWM) == "FWM 10 IPv4"
        assert format_endpoint("2001:db8::1", 0) == "[2001:db8::1]:0"

    def test_table_to_dict_with_timeouts(self):
        table = Table(services=(Service(key=FWM),), timeouts=Timeouts(900, 120, 300))
        assert table.to_dict()["timeouts"] == {"tcp": 900, "tcp_fin": 120, "udp": 300}
        assert table.to_dict()["services"][0]["fwmark"] == 10


# ---------------------------------------------------------------------------------------------------------------
# Bad input: the error names the option (with its path) and the value
# ---------------------------------------------------------------------------------------------------------------

BAD_SERVICES = [
    (dict(address="192.0.2.300"), "address", "192.0.2.300"),
    (dict(address="www.example.com"), "address", "www.example.com"),
    (dict(address="192.0.2.0/24"), "address", "192.0.2.0/24"),
    (dict(address=""), "address", "''"),
    (dict(address="192.0.2.10", family="ipv6"), "address", "192.0.2.10"),
    (dict(address="2001:db8::1", family="ipv4"), "address", "2001:db8::1"),
    (dict(family="ipv5"), "family", "ipv5"),
    (dict(protocol="icmp"), "protocol", "icmp"),
    (dict(port=65536), "port", "65536"),
    (dict(port=-1), "port", "-1"),
    (dict(port="http"), "port", "http"),
    (dict(port=True), "port", "True"),
    (dict(port=80.5), "port", "80.5"),
    (dict(port=0), "port", "0"),
    (dict(port=None), "port", None),
    (dict(address=None), "address", None),
    (dict(fwmark=0, address=None, port=None), "fwmark", "0"),
    (dict(fwmark=4294967296, address=None, port=None), "fwmark", "4294967296"),
    (dict(fwmark=5), "fwmark", "5"),
    (dict(scheduler="roundrobin"), "scheduler", "roundrobin"),
    (dict(persistent=0), "persistent", "0"),
    (dict(persistent=-5), "persistent", "-5"),
    (dict(persistent="long"), "persistent", "long"),
    (dict(persistence_netmask="255.255.255.0"), "persistence_netmask", "255.255.255.0"),
    (dict(persistent=60, persistence_netmask="255.0.255.0"), "persistence_netmask", "255.0.255.0"),
    (dict(persistent=60, persistence_netmask="33"), "persistence_netmask", "33"),
    (dict(persistent=60, persistence_netmask="0"), "persistence_netmask", "0"),
    (dict(address="2001:db8::1", persistent=60, persistence_netmask="129"), "persistence_netmask", "129"),
    (dict(one_packet=True), "one_packet", "True"),
    (dict(protocol="sctp", one_packet=True), "one_packet", "SCTP"),
    (dict(scheduler_flags=["sh-port"]), "scheduler_flags", "sh-port"),
    (dict(scheduler="mh", scheduler_flags=["sh-fallback"]), "scheduler_flags", "sh-fallback"),
    (dict(scheduler="sh", scheduler_flags=["sh-everything"]), "scheduler_flags", "sh-everything"),
    (dict(pe_name="sip"), "pe_name", "sip"),
    (dict(persistent=60, pe_name="rtsp"), "pe_name", "rtsp"),
]


@pytest.mark.parametrize("params, option, value", BAD_SERVICES)
def test_bad_service_names_option_and_value(params, option, value):
    with pytest.raises(IpvsValidationError) as err:
        service(**params)
    assert err.value.option == option
    if value is None:
        # A missing value is said in words ("port is required ..."), never as Python's None.
        assert str(err.value).startswith(option + " is required")
        assert "None" not in str(err.value)
    else:
        assert str(err.value).startswith(option + ":")
        assert value in str(err.value)


def test_bad_service_path_prefixes_option():
    with pytest.raises(IpvsValidationError) as err:
        parse_service({"address": "192.0.2.10", "port": 80, "scheduler": "x"}, path="services[3]")
    assert err.value.option == "services[3].scheduler"


BAD_REALS = [
    (dict(address="192.0.2.256"), KEY4, "address", "192.0.2.256"),
    (dict(address=None), KEY4, "address", "address is required"),
    (dict(address="2001:db8::21"), KEY4, "address", "2001:db8::21"),
    (dict(address="192.0.2.21", forwarding="nat"), KEY6, "address", "192.0.2.21"),
    (dict(address="192.0.2.21", forwarding="masq"), KEY4, "forwarding", "masq"),
    (dict(address="192.0.2.21", port=8080), KEY4, "port", "8080"),
    (dict(address="192.0.2.21", port=8080, forwarding="tun"), KEY4, "port", "8080"),
    (dict(address="192.0.2.21", port=70000, forwarding="nat"), KEY4, "port", "70000"),
    (dict(address="192.0.2.21", weight=-1), KEY4, "weight", "-1"),
    (dict(address="192.0.2.21", weight=2147483648), KEY4, "weight", "2147483648"),
    (dict(address="192.0.2.21", weight="heavy"), KEY4, "weight", "heavy"),
    (dict(address="192.0.2.21", u_threshold=-1), KEY4, "u_threshold", "-1"),
    (dict(address="192.0.2.21", l_threshold=4294967296), KEY4, "l_threshold", "4294967296"),
    (dict(address="192.0.2.21", u_threshold=10, l_threshold=20), KEY4, "l_threshold", "20"),
    (dict(address="192.0.2.21", tun_type="gue"), KEY4, "tun_type", "gue"),
    (dict(address="192.0.2.21", forwarding="nat", tun_port=5), KEY4, "tun_port", "5"),
    (dict(address="192.0.2.21", forwarding="tun", tun_type="vxlan"), KEY4, "tun_type", "vxlan"),
    (dict(address="192.0.2.21", forwarding="tun", tun_type="gue"), KEY4, "tun_port", "tun_port is required with tun_type gue"),
    (dict(address="192.0.2.21", forwarding="tun", tun_type="gre", tun_port=5), KEY4, "tun_port", "5"),
    (dict(address="192.0.2.21", forwarding="tun", tun_type="gue", tun_port=0), KEY4, "tun_port", "0"),
    (dict(address="192.0.2.21", forwarding="tun", tun_flags=["csum"]), KEY4, "tun_flags", "csum"),
    (dict(address="192.0.2.21", forwarding="tun", tun_type="gre", tun_flags=["remcsum"]), KEY4, "tun_flags",
     "remcsum"),
    (dict(address="192.0.2.21", forwarding="tun", tun_type="gue", tun_port=1, tun_flags=["csum", "remcsum"]),
     KEY4, "tun_flags", "remcsum"),
    (dict(address="192.0.2.21", forwarding="tun", tun_type="gue", tun_port=1, tun_flags=["fast"]), KEY4,
     "tun_flags", "fast"),
]


@pytest.mark.parametrize("params, key, option, value", BAD_REALS)
def test_bad_real_names_option_and_value(params, key, option, value):
    with pytest.raises(IpvsValidationError) as err:
        parse_real(params, key, path="services[1].reals[2]")
    assert err.value.option == "services[1].reals[2].%s" % option
    assert value in str(err.value)
    assert ": None" not in str(err.value)


def test_parse_address_family_message():
    with pytest.raises(IpvsValidationError) as err:
        parse_address("192.0.2.1", "real_address", "ipv6")
    assert str(err.value) == "real_address: '192.0.2.1' is an IPv4 address but family is ipv6"


def test_persistence_prefix_none_is_full():
    assert parse_persistence_prefix(None, "x", "ipv6") == 128
