"""Testinfra: the director of the tun scenario tunnels to the real servers (ipip, gre, IPv6) and masquerades NAT."""

testinfra_hosts = ["ansible://directors"]


def test_every_service_tunnels_to_both_real_servers(host):
    rules = host.check_output("ipvsadm -Sn").splitlines()
    tunnelled = [line for line in rules if line.startswith("-a ") and "203.0.113.102" not in line]
    assert len(tunnelled) == 8
    assert all(" -i " in line for line in tunnelled)
    assert len([line for line in tunnelled if "--tun-type gre" in line]) == 2
    assert len([line for line in tunnelled if "--tun-type gue --tun-port 6080" in line]) == 2


def test_the_vips_are_on_the_director_not_in_its_subnet(host):
    addresses = host.check_output("ip -4 -o addr show dev eth1")
    assert "203.0.113.100/32" in addresses
    assert "203.0.113.101/32" in addresses
    assert "203.0.113.103/32" in addresses
    assert "192.0.2.10/24" in addresses


def test_the_fullnat_like_service_is_nat_and_masqueraded(host):
    rules = host.check_output("ipvsadm -Sn").splitlines()
    assert len([line for line in rules if line.startswith("-a -t 203.0.113.102:80 ") and " -m " in line]) == 2
    masquerade = host.check_output("nft list table inet lvs_cluster_nat")
    assert "ip daddr 192.0.2.21 masquerade" in masquerade
    assert "ip daddr 192.0.2.22 masquerade" in masquerade
    assert host.sysctl("net.ipv4.vs.conntrack") == 1
    assert host.sysctl("net.ipv4.ip_forward") == 1
