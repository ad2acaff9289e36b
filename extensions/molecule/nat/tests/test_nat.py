"""Testinfra: the director of the nat scenario forwards and NATs for the inside real servers."""

testinfra_hosts = ["ansible://directors"]


def test_the_director_forwards_and_does_not_masquerade_by_default(host):
    assert host.sysctl("net.ipv4.ip_forward") == 1
    rules = host.check_output("ipvsadm -Sn").splitlines()
    assert len([line for line in rules if " -m -w 1" in line]) == 2
    assert host.run("nft list table inet lvs_cluster_nat").rc != 0
