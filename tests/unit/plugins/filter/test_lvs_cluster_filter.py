"""The lvs_cluster filters as Ansible calls them: omitted values inside the description mean "not set"."""
import pytest

from ansible.errors import AnsibleFilterError
from ansible_collections.lvs.cluster.plugins.filter import lvs_cluster as filters

HOSTVARS = {"rs1": {"lvs_real_address": "192.0.2.21"}, "rs2": {"lvs_real_address": "192.0.2.22"}}
GROUPS = {"realservers": ["rs1", "rs2"]}


def omit_values():
    values = ["__omit_place_holder__0123456789abcdef"]
    if filters._OMIT is not None:
        values.append(filters._OMIT)
    return values


@pytest.mark.parametrize("omit", omit_values())
def test_omitted_options_of_a_service_and_a_real_are_not_set(omit):
    services = [{"name": "web", "vip": "192.0.2.100", "port": 80, "persistent": omit, "scheduler": omit,
                 "real_servers": [{"host": "rs1", "weight": omit}, omit]}]
    config = filters.director_config(services, HOSTVARS, GROUPS)
    (service,) = config["services"]
    assert "persistent" not in service
    assert service["scheduler"] == "wlc"  # the model's default, as when the option is left out
    assert [(real["address"], real["weight"]) for real in service["reals"]] == [("192.0.2.21", 1)]


def test_a_value_that_is_not_omitted_is_still_checked():
    with pytest.raises(AnsibleFilterError) as err:
        filters.director_config([{"name": "web", "vip": "192.0.2.100", "port": 80, "persistent": "abc",
                                  "real_server_group": "realservers"}], HOSTVARS, GROUPS)
    assert "lvs_virtual_services[0].persistent: 'abc'" in str(err.value)


def test_director_plan_takes_the_vrrp_peers_from_the_ha_group():
    hostvars = dict(HOSTVARS, **dict(
        (name, {"director_vip_interface": "eth1", "ansible_facts": {"eth1": {"ipv4": {"address": address}}}})
        for name, address in (("d1", "192.0.2.1"), ("d2", "192.0.2.2"))))
    facts = {"interfaces": ["eth1"], "default_ipv4": {"interface": "eth1"}}
    services = [{"name": "web", "vip": "192.0.2.100", "port": 80, "real_server_group": "realservers",
                 "health_check": {"type": "tcp"}}]
    ha = {"virtual_router_id": 51, "priority": 150, "auth_pass": "secret"}
    result = filters.director_plan(services, hostvars, dict(GROUPS, lbs=["d1", "d2"]), "d1", facts,
                                   {"engine": "keepalived", "ha": ha, "ha_group": "lbs"})
    assert "unicast_peer" in result["engine_config"] and "192.0.2.2" in result["engine_config"]
    assert result["netstate"]["addresses"] == []


def test_director_plan_errors_name_the_option():
    with pytest.raises(AnsibleFilterError, match="director_vip_interface: 'eth9'"):
        filters.director_plan([{"name": "web", "vip": "192.0.2.100", "port": 80, "real_server_group": "realservers"}],
                              HOSTVARS, GROUPS, "d1", {"interfaces": ["eth1"]}, {"vip_interface": "eth9"})
