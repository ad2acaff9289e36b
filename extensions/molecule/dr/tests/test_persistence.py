"""Testinfra: persistent and fwmark services on the director, after the converge and after a reboot (dr scenario).

Mark 2, built with the modules and not in the description, is checked by verify.yml before the reboot: nothing
restores it at boot, by design.
"""

testinfra_hosts = ["ansible://directors"]


def test_the_services_are_persistent_with_the_described_timeout(host):
    rules = host.check_output("ipvsadm -Sn").splitlines()
    assert "-A -t 192.0.2.105:80 -s rr -p 10" in rules
    assert "-A -t 192.0.2.103:0 -s rr -p 10" in rules
    assert "-A -f 1 -s rr -p 10" in rules
    assert len([line for line in rules if line.startswith("-a -f 1 ")]) == 2


def test_the_mark_of_the_description_is_set_in_prerouting(host):
    rules = host.check_output("nft list table inet lvs_cluster_fwmark")
    assert 'comment "lvs.cluster fwmark 1 web-both-ports"' in rules
    assert "tcp dport { 80, 8080 }" in rules


def test_the_marks_of_the_description_are_restored_at_boot(host):
    script = host.file("/etc/lvs-cluster/director-fwmark.nft").content_string
    assert 'comment "lvs.cluster fwmark 1 web-both-ports"' in script
    assert "modules" not in script
    assert host.run("nft -c -f /etc/lvs-cluster/director-fwmark.nft").rc == 0


def test_the_described_timeouts_are_set_and_come_back_at_boot(host):
    # ipvsadm -S does not save timeouts: lvs-netstate sets them again (ipvs_timeouts of director.json).
    assert "900 5 300" in host.check_output("ipvsadm -L --timeout").replace("  ", " ")


def test_persistence_templates_of_drained_servers_expire(host):
    assert host.sysctl("net.ipv4.vs.expire_quiescent_template") == 1
