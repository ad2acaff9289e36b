"""The shared cluster description: parsing, validation and each host's part."""
import pytest

from ansible_collections.lvs.cluster.plugins.module_utils._ipvs_model import IpvsValidationError, parse_real, parse_service_key
from ansible_collections.lvs.cluster.plugins.module_utils import _lvs_cluster as cluster

HOSTVARS = {
    "rs1": {"lvs_real_address": "192.0.2.21"},
    "rs2": {"lvs_real_address": "192.0.2.22", "lvs_real_weight": 3},
    "rs3": {"ansible_host": "rs3.example"},
    "director": {"lvs_real_address": "192.0.2.10"},
}
GROUPS = {"realservers": ["rs1", "rs2"], "all": ["rs1", "rs2", "director"]}


def parse(entries):
    return cluster.parse_cluster(entries, HOSTVARS, GROUPS)


def web(**extra):
    entry = {"name": "web", "vip": "192.0.2.100", "port": 80, "scheduler": "wrr", "real_server_group": "realservers"}
    entry.update(extra)
    return entry


def test_group_reals_take_addresses_and_weights_from_hostvars():
    (item,) = parse([web()])
    assert [(real.address, real.port, real.weight, real.forwarding) for real in item.service.reals] == [
        ("192.0.2.21", 80, 1, "dr"), ("192.0.2.22", 80, 3, "dr")]
    assert item.real_hosts == {"192.0.2.21": "rs1", "192.0.2.22": "rs2"}


def test_director_config_lists_vips_services_and_methods():
    config = cluster.director_config(parse([web(), web(name="web6", vip="2001:db8:1::100",
                                                       real_servers=[{"address": "2001:db8:1::21"}],
                                                       real_server_group=None)]))
    assert config["vips"] == [{"address": "192.0.2.100", "prefix": 32, "family": "ipv4"},
                              {"address": "2001:db8:1::100", "prefix": 128, "family": "ipv6"}]
    assert config["forwarding_methods"] == ["dr"]
    assert config["schedulers"] == ["wrr"]
    assert config["services"][0] == {
        "protocol": "tcp", "address": "192.0.2.100", "port": 80, "family": "ipv4", "scheduler": "wrr",
        "reals": [{"address": "192.0.2.21", "port": 80, "forwarding": "dr", "weight": 1, "u_threshold": 0,
                   "l_threshold": 0},
                  {"address": "192.0.2.22", "port": 80, "forwarding": "dr", "weight": 3, "u_threshold": 0,
                   "l_threshold": 0}]}


@pytest.mark.parametrize("tun_type", ["ipip", "gre", "gue"])
def test_director_config_of_tun_services_parses_back_as_the_table_module_reads_it(tun_type):
    extra = {"tun_port": 6080} if tun_type == "gue" else {}
    (item,) = parse([web(forwarding="tun", tun_type=tun_type, **extra)])
    (service,) = cluster.director_config([item])["services"]
    reals = [parse_real(real, item.service.key) for real in service["reals"]]
    assert reals == list(item.service.reals)
    assert {real.tun_type for real in reals} == {tun_type}


def test_a_port_0_service_keeps_its_port_for_the_table_module():
    (item,) = parse([web(port=0, persistent=300)])
    (service,) = cluster.director_config([item])["services"]
    assert service["port"] == 0
    assert parse_service_key(service) == item.service.key


def test_fwmark_service_yields_a_marking_rule_and_no_address_key():
    config = cluster.director_config(parse([web(fwmark=1, fwmark_ports=[80, 443], port=None, persistent=600)]))
    assert config["marks"] == [{"mark": 1, "name": "web", "destination": ["192.0.2.100"], "protocol": "tcp",
                                "ports": [80, 443]}]
    service = config["services"][0]
    assert service["fwmark"] == 1 and "address" not in service
    assert service["persistent"] == 600 and service["persistence_netmask"] == "255.255.255.255"
    assert [real["port"] for real in service["reals"]] == [0, 0]


def test_fwmark_marking_rule_keeps_the_protocol_of_the_description():
    config = cluster.director_config(parse([web(fwmark=2, fwmark_ports=[53], port=None, protocol="udp")]))
    assert config["marks"][0]["protocol"] == "udp"
    assert "protocol" not in config["services"][0]


def test_nat_defaults_from_the_service_apply_to_each_real():
    (item,) = parse([web(forwarding="nat", real_port=8080)])
    assert {(real.forwarding, real.port) for real in item.service.reals} == {("nat", 8080)}


def test_realserver_config_names_the_vips_a_host_serves():
    entries = [web(), web(name="dns", vip="192.0.2.53", protocol="udp", port=53, real_server_group=None,
                          real_servers=[{"host": "rs2", "forwarding": "tun"}])]
    assert cluster.realserver_vips(parse(entries), "rs1")["vips"] == [
        {"address": "192.0.2.100", "family": "ipv4", "prefix": 32, "forwarding": ["dr"], "tun_types": [],
         "services": ["web"], "nat_routed": False, "gue_ports": []}]
    rs2 = cluster.realserver_vips(parse(entries), "rs2")
    assert [(vip["address"], vip["forwarding"], vip["tun_types"]) for vip in rs2["vips"]] == [
        ("192.0.2.100", ["dr"], []), ("192.0.2.53", ["tun"], ["ipip"])]
    assert rs2["forwarding_methods"] == ["dr", "tun"]


@pytest.mark.parametrize("entries, option, value", [
    ([web(vip="192.0.2.21")], "lvs_virtual_services[0].real_server_group", "192.0.2.21"),
    ([web(port=0)], "lvs_virtual_services[0].port", 0),
    ([web(fwmark=1, port=None)], "lvs_virtual_services[0].fwmark_ports", None),
    ([web(fwmark_ports=[80])], "lvs_virtual_services[0].fwmark_ports", [80]),
    ([web(real_server_group="nope")], "lvs_virtual_services[0].real_server_group", "nope"),
    ([web(real_server_group=None)], "lvs_virtual_services[0]", "web"),
    ([web(), web()], "lvs_virtual_services[1].name", "web"),
    ([web(), web(name="other")], "lvs_virtual_services[1]", "TCP 192.0.2.100:80"),
    ([web(colour="red")], "lvs_virtual_services[0].colour", "red"),
    ([web(real_server_group=None, real_servers=[{"host": "rs3"}])],
     "lvs_virtual_services[0].real_servers[0].host", "rs3"),
    ([web(real_server_group=None, real_servers=[{"host": "rs1", "address": "192.0.2.9"}])],
     "lvs_virtual_services[0].real_servers[0]", {"host": "rs1", "address": "192.0.2.9"}),
    ([web(scheduler="fastest")], "lvs_virtual_services[0].scheduler", "fastest"),
    ([web(vip="192.0.2.300")], "lvs_virtual_services[0].vip", "192.0.2.300"),
    ([web(masquerade=True)], "lvs_virtual_services[0].masquerade", True),
    ([web(forwarding="nat", masquerade="yes")], "lvs_virtual_services[0].masquerade", "yes"),
])
def test_bad_descriptions_name_the_option_and_value(entries, option, value):
    with pytest.raises(IpvsValidationError) as error:
        parse(entries)
    assert error.value.option == option
    assert error.value.value == value


def test_a_vip_that_is_a_real_servers_address_elsewhere_is_refused():
    entries = [web(), web(name="other", vip="192.0.2.21", port=81, real_server_group=None,
                          real_servers=[{"address": "192.0.2.30"}])]
    with pytest.raises(IpvsValidationError) as error:
        cluster.director_config(parse(entries))
    assert "192.0.2.21" in str(error.value) and "both a VIP and a real server" in str(error.value)


def test_realserver_netstate_for_dr_puts_the_vip_on_lo_and_suppresses_arp():
    state = cluster.realserver_netstate(parse([web()]), "rs1", ["eth1"])
    assert state["addresses"] == [{"address": "192.0.2.100", "prefix": 32, "device": "lo"}]
    assert state["sysctls"] == {
        "net.ipv4.conf.all.arp_ignore": "1", "net.ipv4.conf.all.arp_announce": "2",
        "net.ipv4.conf.lo.arp_ignore": "1", "net.ipv4.conf.lo.arp_announce": "2",
        "net.ipv4.conf.eth1.arp_ignore": "1", "net.ipv4.conf.eth1.arp_announce": "2"}
    assert state["tunnels"] == [] and state["routes"] == []


def test_realserver_netstate_for_tun_uses_the_tunnel_device_and_relaxes_rp_filter():
    state = cluster.realserver_netstate(parse([web(forwarding="tun")]), "rs2", [])
    assert state["tunnels"] == [{"name": "tunl0", "type": "ipip"}]
    assert state["addresses"] == [{"address": "192.0.2.100", "prefix": 32, "device": "tunl0"}]
    assert state["sysctls"]["net.ipv4.conf.tunl0.rp_filter"] == "0"
    assert state["sysctls"]["net.ipv4.conf.all.rp_filter"] == "0"
    gre = cluster.realserver_netstate(parse([web(forwarding="tun", tun_type="gre")]), "rs2", [])
    assert gre["tunnels"] == [{"name": "gre0", "type": "gre"}]


def test_realserver_netstate_for_gue_opens_the_receive_port_in_front_of_the_ipip_device():
    state = cluster.realserver_netstate(parse([web(forwarding="tun", tun_type="gue", tun_port=6080)]), "rs1", [])
    assert state["gue_ports"] == [{"port": 6080, "family": "ipv4"}]
    assert state["tunnels"] == [{"name": "tunl0", "type": "ipip"}]
    assert state["addresses"] == [{"address": "192.0.2.100", "prefix": 32, "device": "tunl0"}]
    assert state["sysctls"]["net.ipv4.conf.tunl0.rp_filter"] == "0"


def test_realserver_netstate_for_nat_routes_through_the_director_and_needs_its_address():
    state = cluster.realserver_netstate(parse([web(forwarding="nat")]), "rs1", [], "192.0.2.1")
    assert state["routes"] == [{"to": "default", "via": "192.0.2.1"}]
    assert state["addresses"] == [] and state["sysctls"] == {}
    with pytest.raises(IpvsValidationError) as error:
        cluster.realserver_netstate(parse([web(forwarding="nat")]), "rs1", [], "")
    assert error.value.option == "realserver_nat_gateway"


def test_a_masquerading_nat_service_needs_no_route_on_the_real_servers_and_no_gateway_check():
    entries = [web(forwarding="nat", masquerade=True),
               web(name="plain-nat", vip="192.0.2.101", forwarding="nat", real_server_group=None,
                   real_servers=[{"host": "rs2"}])]
    director = cluster.director_config(parse(entries))
    assert director["masquerade_reals"] == ["192.0.2.21", "192.0.2.22"]
    assert director["nat_hosts"] == ["rs2"]
    assert cluster.realserver_netstate(parse(entries), "rs1", [], "")["routes"] == []
    # rs2 also serves the plain NAT service: its answers must still go through the director.
    with pytest.raises(IpvsValidationError) as error:
        cluster.realserver_netstate(parse(entries), "rs2", [], "")
    assert error.value.option == "realserver_nat_gateway"
    assert "masquerade" in str(error.value)


def test_a_real_server_given_by_address_is_found_by_the_hosts_own_addresses():
    entries = [web(name="web6", vip="2001:db8:1::100", real_server_group=None,
                   real_servers=[{"address": "2001:db8:1::21"}])]
    assert cluster.realserver_netstate(parse(entries), "rs1", [])["addresses"] == []
    state = cluster.realserver_netstate(parse(entries), "rs1", [], host_addresses=["192.0.2.21", "2001:DB8:1::21"])
    assert state["addresses"] == [{"address": "2001:db8:1::100", "prefix": 128, "device": "lo"}]
    assert state["sysctls"] == {}  # IPv6 has no ARP: a VIP on lo is not announced by neighbour discovery


def test_a_host_that_serves_nothing_needs_nothing():
    plan = cluster.realserver_plan(parse([web()]), "director", ["eth1"])
    assert plan == {"vips": [], "netstate": {"addresses": [], "sysctls": {}, "tunnels": [], "routes": [],
                                             "gue_ports": []}}


def test_realserver_plan_hands_the_vips_to_the_preflight_and_the_rest_to_lvs_netstate():
    plan = cluster.realserver_plan(parse([web()]), "rs1", ["eth1"])
    assert [vip["address"] for vip in plan["vips"]] == ["192.0.2.100"]
    assert plan["netstate"] == cluster.realserver_netstate(parse([web()]), "rs1", ["eth1"])
    assert "vips" not in plan["netstate"]


# -- role inputs checked against the host before any change ---------------------------------------------------

INTERFACES = ["lo", "eth1", "mgmt0"]


def test_the_vip_interface_must_be_an_interface_of_the_director():
    with pytest.raises(IpvsValidationError) as err:
        cluster.director_config(parse([web()]), "director", "eth9", INTERFACES, "mgmt0")
    assert str(err.value) == "director_vip_interface: 'eth9' is not an interface of director (eth1, lo, mgmt0)"


def test_the_vip_interface_defaults_to_the_default_routes_and_is_returned():
    assert cluster.director_config(parse([web()]), "director", "", INTERFACES, "mgmt0")["vip_interface"] == "mgmt0"
    assert cluster.director_config(parse([web()]), "director", "eth1", INTERFACES, "mgmt0")["vip_interface"] == "eth1"


def test_without_a_default_route_the_vip_interface_is_required():
    with pytest.raises(IpvsValidationError) as err:
        cluster.director_config(parse([web()]), "director", "", INTERFACES, "")
    assert str(err.value).startswith("director_vip_interface is required: director has no default IPv4 route")


@pytest.mark.parametrize("timeouts, words", [
    ({"tcp": -5}, ["director_timeouts.tcp", "-5"]),
    ({"udp": "soon"}, ["director_timeouts.udp", "soon"]),
])
def test_director_timeouts_are_checked_before_any_change(timeouts, words):
    with pytest.raises(IpvsValidationError) as err:
        cluster.director_config(parse([web()]), "director", "eth1", INTERFACES, "eth1", timeouts)
    assert all(word in str(err.value) for word in words)


@pytest.mark.parametrize("timeouts, restored", [
    ({"tcp_fin": "5"}, {"tcp": 0, "tcp_fin": 5, "udp": 0}),
    ({}, {}),
    ({"tcp": 0}, {}),
])
def test_director_timeouts_are_handed_to_the_boot_restore_as_numbers(timeouts, restored):
    config = cluster.director_config(parse([web()]), "director", "eth1", INTERFACES, "eth1", timeouts)
    assert config["timeouts"] == restored


def test_arp_interfaces_must_be_interfaces_of_the_real_server():
    with pytest.raises(IpvsValidationError) as err:
        cluster.realserver_netstate(parse([web()]), "rs1", ["eth1", "eth7"], interfaces=INTERFACES)
    assert str(err.value) == "realserver_arp_interfaces[1]: 'eth7' is not an interface of rs1 (eth1, lo, mgmt0)"
    # all and lo are always there
    assert cluster.realserver_netstate(parse([web()]), "rs1", ["all", "lo", "eth1"], interfaces=INTERFACES)


class UndefinedForUnknownHosts(dict):
    """Like Ansible's hostvars: an unknown name gives an undefined value instead of a KeyError."""

    def __missing__(self, key):
        raise AssertionError("hostvars[%r] was read although %r is not a host of the inventory" % (key, key))


def test_a_real_server_host_that_is_not_in_the_inventory_names_the_option():
    hostvars = UndefinedForUnknownHosts(HOSTVARS)
    with pytest.raises(IpvsValidationError) as err:
        cluster.parse_cluster([web(real_server_group=None, real_servers=[{"host": "rs9"}])], hostvars, GROUPS)
    assert str(err.value) == "lvs_virtual_services[0].real_servers[0].host: 'rs9' is not a host of the inventory"


# -- the admin state: drained real servers ---------------------------------------------------------------------
def test_a_drained_host_gets_weight_0_in_every_service_and_in_the_boot_rules():
    entries = [web(), web(name="api", vip="192.0.2.101", real_server_group=None,
                          real_servers=[{"host": "rs1", "weight": 5}, {"address": "192.0.2.30"}])]
    config = cluster.director_config(parse(entries), drained=["rs1"])
    weights = dict(((service["address"], real["address"]), real["weight"])
                   for service in config["services"] for real in service["reals"])
    assert weights == {("192.0.2.100", "192.0.2.21"): 0, ("192.0.2.100", "192.0.2.22"): 3,
                       ("192.0.2.101", "192.0.2.21"): 0, ("192.0.2.101", "192.0.2.30"): 1}
    assert "-a -t 192.0.2.100:80 -r 192.0.2.21:80 -g -w 0" in config["ipvsadm_rules"].splitlines()
    assert "-a -t 192.0.2.101:80 -r 192.0.2.21:80 -g -w 0" in config["ipvsadm_rules"].splitlines()
    assert config["drained"] == ["rs1"] and config["drained_unknown"] == []
    assert config["real_server_hosts"] == ["rs1", "rs2"]
    assert config["real_server_addresses"] == {"rs1": ["192.0.2.21"], "rs2": ["192.0.2.22"]}


def test_undrained_the_table_is_the_description():
    drained = cluster.director_config(parse([web()]), drained=["rs9"])
    plain = cluster.director_config(parse([web()]))
    assert drained["services"] == plain["services"] and drained["ipvsadm_rules"] == plain["ipvsadm_rules"]
    assert drained["drained_unknown"] == ["rs9"] and drained["drained"] == []


def test_the_admin_state_keeps_earlier_records_and_drops_undrained_hosts():
    before = {"drained": {"rs1": {"since": "2026-11-01T00:00:00+00:00"}, "rs2": {"since": "x"}}}
    after = cluster.admin_state(before, ["rs1", "rs3"], ["rs2"], "2026-11-29T12:00:00+00:00")
    assert after == {"drained": {"rs1": {"since": "2026-11-01T00:00:00+00:00"},
                                 "rs3": {"since": "2026-11-29T12:00:00+00:00"}}}
    assert cluster.admin_state(None) == {"drained": {}}
    assert cluster.admin_state("") == {"drained": {}}
    assert cluster.admin_state('{"drained": {"rs2": {}}}', ["rs1"], [], "now") == {
        "drained": {"rs2": {}, "rs1": {"since": "now"}}}


@pytest.mark.parametrize("before, drain, undrain, words", [
    (None, ["rs1"], ["rs1"], ["director_drain", "rs1", "also in director_undrain"]),
    (None, "rs1", [], ["director_drain", "rs1", "list of inventory host names"]),
    (None, [], [""], ["director_undrain", "list of inventory host names"]),
    ({"drained": ["rs1"]}, [], [], ["the admin state", "rs1"]),
    ("{drained", [], [], ["the admin state", "{drained", "is not JSON"]),
])
def test_bad_admin_state_input_is_refused(before, drain, undrain, words):
    with pytest.raises(IpvsValidationError) as err:
        cluster.admin_state(before, drain, undrain)
    assert all(word in str(err.value) for word in words), str(err.value)


def test_reweighted_drains_and_restores_exactly_what_ipvs_info_read():
    from ansible_collections.lvs.cluster.plugins.module_utils._ipvs_module import table_from_params
    entries = [web(), web(name="per-port", vip="192.0.2.105", persistent=60, persistence_netmask="255.255.255.0"),
               web(name="mark", vip="192.0.2.102", port=None, fwmark=7, fwmark_ports=[80, 443], persistent=300),
               web(name="other", vip="192.0.2.106", real_server_group=None, real_servers=[{"address": "192.0.2.30"}]),
               web(name="six", vip="2001:db8:1::100", real_server_group=None,
                   real_servers=[{"address": "2001:db8:1::21", "weight": 4}])]
    kernel = cluster.table(parse(entries))
    # What lvs.cluster.ipvs_info returns: the model's dicts with counters.
    info = [service.to_dict(with_counters=True) for service in kernel.services]
    drained = cluster.reweighted(info, ["192.0.2.21", "2001:db8:1::21"], 0)
    restored = cluster.reweighted(info, ["192.0.2.21", "2001:db8:1::21"])
    drained_table = table_from_params(drained)[0]
    restored_table = table_from_params(restored)[0]
    # Only services with a real at the addresses; everything but that real's weight as read.
    assert sorted(str(service.key) for service in restored_table.services) == sorted(
        str(service.key) for service in kernel.services if str(service.key) != "TCP 192.0.2.106:80")
    by_key = kernel.by_key()
    for service in restored_table.services:
        assert service == by_key[service.key]
    for service in drained_table.services:
        original = by_key[service.key]
        assert service.without_reals() == original.without_reals()
        assert [(real.address, real.weight) for real in service.reals] == [
            (real.address, 0 if real.address in ("192.0.2.21", "2001:db8:1::21") else real.weight)
            for real in original.reals]


@pytest.mark.parametrize("addresses, weight, words", [
    ([], 0, ["addresses", "non-empty list"]),
    (["rs1"], 0, ["addresses", "rs1"]),
    (["192.0.2.21"], -1, ["weight", "-1"]),
])
def test_reweighted_names_bad_input(addresses, weight, words):
    info = [service.to_dict() for service in cluster.table(parse([web()])).services]
    with pytest.raises(IpvsValidationError) as caught:
        cluster.reweighted(info, addresses, weight)
    for word in words:
        assert word in str(caught.value)


def test_addresses_by_host_names_each_inventory_real():
    assert cluster.addresses_by_host(parse([web(), web(name="api", vip="192.0.2.101", real_server_group=None,
                                                       real_servers=[{"host": "rs1"}, {"address": "192.0.2.30"}])]
                                           )) == {"rs1": ["192.0.2.21"], "rs2": ["192.0.2.22"]}


# -- the ownership record: director_purge false removes what the role created and no longer describes


WEB = {"protocol": "tcp", "address": "192.0.2.100", "port": 80, "scheduler": "rr", "reals": []}
MARK = {"fwmark": 1, "family": "ipv4", "scheduler": "wlc", "reals": []}
DNS = {"protocol": "udp", "address": "2001:db8:1::100", "port": 53, "reals": []}


def test_the_first_run_removes_nothing_and_records_the_described_services():
    ownership = cluster.service_ownership("", [WEB, MARK])
    assert ownership["remove"] == []
    assert ownership["record"] == {"services": [
        {"protocol": "tcp", "address": "192.0.2.100", "port": 80, "family": "ipv4"},
        {"fwmark": 1, "family": "ipv4"}]}


def test_an_owned_service_no_longer_described_is_removed_and_forgotten():
    import json
    before = cluster.service_ownership(None, [WEB, MARK, DNS])["record"]
    ownership = cluster.service_ownership(json.dumps(before), [WEB])
    assert ownership["remove"] == [{"fwmark": 1, "family": "ipv4"},
                                   {"protocol": "udp", "address": "2001:db8:1::100", "port": 53, "family": "ipv6"}]
    assert ownership["record"]["services"] == before["services"][:1]
    # The next run has nothing left to remove.
    assert cluster.service_ownership(ownership["record"], [WEB])["remove"] == []


@pytest.mark.parametrize("record, words", [
    ("{not json", ["the ownership record", "is not JSON"]),
    ('{"services": 3}', ["the ownership record", "is not"]),
    ('{"services": [{"address": "192.0.2.300", "port": 80}]}', ["services[0]", "192.0.2.300"]),
])
def test_a_broken_ownership_record_is_named(record, words):
    with pytest.raises(IpvsValidationError) as caught:
        cluster.service_ownership(record, [WEB])
    for word in words:
        assert word in str(caught.value)


# The director's plan: what the role's options and the host's facts decide, in Python (the role passes it on).
FACTS = {"os_family": "Debian", "interfaces": ["lo", "eth1", "mgmt0"], "default_ipv4": {"interface": "mgmt0"},
         "all_ipv4_addresses": ["192.0.2.1"], "all_ipv6_addresses": ["2001:db8:1::1"]}
FILES = {"rules": "/etc/lvs-cluster/director.ipvsadm", "fwmark": "/etc/lvs-cluster/director-fwmark.nft",
         "nat_nft": "/etc/lvs-cluster/director-nat.nft", "vrrp_notify": "/usr/libexec/lvs-cluster-vrrp-notify"}


def plan(entries, **options):
    return cluster.director_plan(parse(entries), "director", FACTS, dict({"files": FILES}, **options))


def test_director_plan_of_dr_loads_ipvs_and_the_schedulers_and_restores_the_table_at_boot():
    result = plan([web(), web(name="web-rr", vip="192.0.2.101", scheduler="rr")], vip_interface="eth1")
    assert result["kernel_modules"] == ["ip_vs", "ip_vs_rr", "ip_vs_wrr"]
    assert result["sysctls"] == {"net.ipv4.vs.expire_nodest_conn": "1", "net.ipv4.vs.expire_quiescent_template": "1"}
    assert result["boot_files"] == [{"path": FILES["rules"], "content": result["ipvsadm_rules"]}]
    assert result["masquerade"] is False and result["masquerade_rules"] == []
    assert result["netstate"] == {
        "addresses": [{"address": "192.0.2.100", "prefix": 32, "family": "ipv4", "device": "eth1"},
                      {"address": "192.0.2.101", "prefix": 32, "family": "ipv4", "device": "eth1"}],
        "sysctls": result["sysctls"], "nft_files": [], "ipvs_rules": FILES["rules"], "ipvs_timeouts": {}}
    assert result["own_addresses"] == ["192.0.2.1", "2001:db8:1::1"]


def test_director_plan_without_vip_interface_takes_the_default_route_s():
    assert plan([web()])["netstate"]["addresses"][0]["device"] == "mgmt0"


def test_director_plan_of_nat_forwards_tracks_and_masquerades_both_families():
    entries = [web(forwarding="nat", masquerade=True),
               web(name="web6", vip="2001:db8:1::100", real_servers=[{"address": "2001:db8:2::21"}],
                   real_server_group=None, forwarding="nat", masquerade=True)]
    result = plan(entries, sysctls={"net.ipv4.vs.conntrack": "0", "net.core.somaxconn": 4096},
                  expire_quiescent_template=False)
    assert result["kernel_modules"] == ["ip_vs", "ip_vs_wrr", "nf_conntrack"]
    # The role's director_sysctls go over what the plan requires.
    assert result["sysctls"] == {"net.ipv4.vs.expire_nodest_conn": "1", "net.ipv4.ip_forward": "1",
                                 "net.ipv6.conf.all.forwarding": "1", "net.ipv4.vs.conntrack": "0",
                                 "net.core.somaxconn": 4096}
    assert result["masquerade_rules"] == ["ip daddr 192.0.2.21 masquerade", "ip daddr 192.0.2.22 masquerade",
                                          "ip6 daddr 2001:db8:2::21 masquerade"]
    assert result["netstate"]["nft_files"] == [FILES["nat_nft"]]


def test_director_plan_restores_marks_with_nftables_only():
    entries = [web(fwmark=1, fwmark_ports=[80, 443], port=None, persistent=600)]
    nft = plan(entries)
    assert [item["path"] for item in nft["boot_files"]] == [FILES["rules"], FILES["fwmark"]]
    assert "lvs.cluster fwmark 1 web" in nft["boot_files"][1]["content"]
    assert nft["netstate"]["nft_files"] == [FILES["fwmark"]]
    iptables = plan(entries, fwmark_backend="iptables")
    assert [item["path"] for item in iptables["boot_files"]] == [FILES["rules"]]
    assert iptables["netstate"]["nft_files"] == []


def test_director_plan_leaves_vips_to_vrrp_and_the_table_to_the_engine():
    vrrp = {"virtual_router_id": 51, "priority": 150, "auth_pass": "secret", "source": "192.0.2.1",
            "peers": ["192.0.2.2"]}
    result = plan([web()], engine="keepalived", vrrp=vrrp, vip_interface="eth1")
    assert result["netstate"]["addresses"] == []
    assert result["netstate"]["ipvs_rules"] == ""
    assert "vrrp_instance" in result["engine_config"]
    # Without a notify hook of its own, VRRP gets the role's default one.
    assert result["vrrp_notify"] == FILES["vrrp_notify"]
    assert 'notify "%s"' % FILES["vrrp_notify"] in result["engine_config"]
    own = plan([web()], engine="keepalived", vrrp=dict(vrrp, notify="/usr/local/bin/hook"), vip_interface="eth1")
    assert own["vrrp_notify"] == "/usr/local/bin/hook"
    assert plan([web()], engine="keepalived")["vrrp_notify"] == ""


def test_director_plan_with_vrrp_deletes_the_ipvs_services_only_after_keepalived_ended():
    vrrp = {"virtual_router_id": 51, "priority": 150, "source": "192.0.2.1", "peers": ["192.0.2.2"]}
    entries = [web(), web(name="dns", port=53, protocol="udp"),
               web(name="both", vip="192.0.2.101", fwmark=1, fwmark_ports=[80, 443], port=None)]
    dropin = plan(entries, engine="keepalived", vrrp=vrrp, vip_interface="eth1")["keepalived_ha_dropin"]
    # keepalived leaves the table alone when it stops (its checker would delete it while the VIPs are still here),
    # the unit deletes exactly the described services after it.
    assert dropin.splitlines() == [
        "[Service]",
        "ExecStart=",
        "ExecStart=/usr/sbin/keepalived --dont-fork --dont-release-ipvs $DAEMON_ARGS",
        "ExecStopPost=-/sbin/ipvsadm -D -t 192.0.2.100:80",
        "ExecStopPost=-/sbin/ipvsadm -D -u 192.0.2.100:53",
        "ExecStopPost=-/sbin/ipvsadm -D -f 1",
    ]
    # Without VRRP keepalived's own release is right (no VIP moves), and other engines have no drop-in.
    assert plan(entries, engine="keepalived")["keepalived_ha_dropin"] == ""
    assert plan(entries, engine="ldirectord")["keepalived_ha_dropin"] == ""
    assert plan(entries)["keepalived_ha_dropin"] == ""
    # Its command line is Debian's unit's: elsewhere keepalived releases the table itself, as before.
    redhat = cluster.director_plan(parse(entries), "director", dict(FACTS, os_family="RedHat"),
                                   {"files": FILES, "engine": "keepalived", "vrrp": vrrp, "vip_interface": "eth1"})
    assert redhat["keepalived_ha_dropin"] == "" and "vrrp_instance" in redhat["engine_config"]


def test_director_plan_without_persistence_restores_no_table():
    assert plan([web()], persist=False)["netstate"]["ipvs_rules"] == ""


def test_director_plan_refuses_an_unknown_option():
    with pytest.raises(IpvsValidationError, match="vip_interfaces"):
        plan([web()], vip_interfaces="eth1")
