"""Testinfra: the director of the tun scenario tunnels to the real servers (ipip and gre)."""

testinfra_hosts = ["ansible://directors"]


def test_both_services_tunnel_to_both_real_servers(host):
    rules = host.check_output("ipvsadm -Sn").splitlines()
    tunnelled = [line for line in rules if line.startswith("-a ")]
    assert len(tunnelled) == 4
    assert all(" -i " in line for line in tunnelled)
    assert len([line for line in tunnelled if "--tun-type gre" in line]) == 2


def test_the_vips_are_on_the_director_not_in_its_subnet(host):
    addresses = host.check_output("ip -4 -o addr show dev eth1")
    assert "203.0.113.100/32" in addresses
    assert "203.0.113.101/32" in addresses
    assert "192.0.2.10/24" in addresses
