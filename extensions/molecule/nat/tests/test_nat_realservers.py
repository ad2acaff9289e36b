"""Testinfra: the real servers of the nat scenario answer through the director."""
import json

testinfra_hosts = ["ansible://realservers"]


def test_real_servers_route_back_through_the_director(host):
    routes = json.loads(host.check_output("ip -j route show default"))
    assert [route["gateway"] for route in routes] == ["192.0.2.1"]
    state = json.loads(host.file("/etc/lvs-cluster/realserver.json").content_string)
    assert state["routes"] == [{"to": "default", "via": "192.0.2.1"}]
    assert state["addresses"] == []
