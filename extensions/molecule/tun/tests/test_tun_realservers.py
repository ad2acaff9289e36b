"""Testinfra: the real servers of the tun scenario receive on the tunnels' fallback devices."""
import json

testinfra_hosts = ["ansible://realservers"]


def test_each_vip_lives_on_its_tunnel_device(host):
    ipip = host.check_output("ip -4 -o addr show dev tunl0")
    gre = host.check_output("ip -4 -o addr show dev gre0")
    assert "203.0.113.100/32" in ipip
    assert "203.0.113.103/32" in ipip  # GUE: after the FOU port, the inner IP-in-IP packet reaches tunl0
    assert "203.0.113.101/32" in gre
    assert "203.0.113.10" not in host.check_output("ip -4 -o addr show dev eth1")


def test_gue_is_received_on_the_described_port(host):
    assert "port 6080 gue" in host.check_output("ip fou show")


def test_the_ipv6_vip_lives_on_the_ipv6_tunnel_device(host):
    assert "2001:db8:30::100/128" in host.check_output("ip -6 -o addr show dev ip6tnl0")


def test_tunnel_devices_are_up_and_rp_filter_relaxed(host):
    for device in ("tunl0", "gre0", "ip6tnl0"):
        link = json.loads(host.check_output("ip -j link show dev %s" % device))[0]
        assert "UP" in link["flags"]
    for device in ("tunl0", "gre0"):
        assert host.sysctl("net.ipv4.conf.%s.rp_filter" % device) == 0
    assert host.sysctl("net.ipv4.conf.all.rp_filter") == 0


def test_arp_for_the_vips_is_suppressed(host):
    for interface in ("all", "eth1"):
        assert host.sysctl("net.ipv4.conf.%s.arp_ignore" % interface) == 1
        assert host.sysctl("net.ipv4.conf.%s.arp_announce" % interface) == 2


def test_answers_go_back_through_the_router_not_the_director(host):
    routes = json.loads(host.check_output("ip -j route get 198.51.100.50 from 203.0.113.100"))
    assert routes[0]["gateway"] == "192.0.2.1"
