"""Testinfra: the marks and fwmark services on the director (fwmark scenario)."""

testinfra_hosts = ["ansible://directors"]


def test_both_marks_are_set_in_prerouting(host):
    rules = host.check_output("nft list table inet lvs_cluster_fwmark")
    assert 'comment "lvs.cluster fwmark 1 web-both-ports"' in rules
    assert 'comment "lvs.cluster fwmark 2 modules"' in rules
    assert "tcp dport { 80, 8080 }" in rules


def test_both_fwmark_services_exist_with_their_persistence(host):
    rules = host.check_output("ipvsadm -Sn").splitlines()
    assert "-A -f 1 -s rr -p 60" in rules
    assert "-A -f 2 -s rr" in rules
    assert len([line for line in rules if line.startswith("-a -f 1 ")]) == 2
    assert len([line for line in rules if line.startswith("-a -f 2 ")]) == 2


def test_the_marks_of_the_description_are_restored_at_boot(host):
    script = host.file("/etc/lvs-cluster/director-fwmark.nft").content_string
    assert 'comment "lvs.cluster fwmark 1 web-both-ports"' in script
    assert host.run("nft -c -f /etc/lvs-cluster/director-fwmark.nft").rc == 0
