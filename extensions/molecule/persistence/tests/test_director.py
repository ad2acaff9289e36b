"""Testinfra: persistent and fwmark services on the director (persistence scenario)."""

testinfra_hosts = ["ansible://directors"]


def test_the_services_are_persistent_with_the_described_timeout(host):
    vip = host.ansible.get_variables()["lab_vip_ipv4"]
    rules = host.check_output("ipvsadm -Sn").splitlines()
    assert "-A -t %s:80 -s rr -p 10" % vip in rules
    assert "-A -t 192.0.2.103:0 -s rr -p 10" in rules
    assert "-A -f 1 -s rr -p 10" in rules


def test_the_module_built_mark_is_a_plain_rr_service(host):
    rules = host.check_output("ipvsadm -Sn").splitlines()
    assert "-A -f 2 -s rr" in rules
    assert len([line for line in rules if line.startswith("-a -f 1 ")]) == 2
    assert len([line for line in rules if line.startswith("-a -f 2 ")]) == 2


def test_both_marks_are_set_in_prerouting(host):
    rules = host.check_output("nft list table inet lvs_cluster_fwmark")
    assert 'comment "lvs.cluster fwmark 1 web-both-ports"' in rules
    assert 'comment "lvs.cluster fwmark 2 modules"' in rules
    assert "tcp dport { 80, 8080 }" in rules


def test_the_marks_of_the_description_are_restored_at_boot(host):
    script = host.file("/etc/lvs-cluster/director-fwmark.nft").content_string
    assert 'comment "lvs.cluster fwmark 1 web-both-ports"' in script
    assert "modules" not in script
    assert host.run("nft -c -f /etc/lvs-cluster/director-fwmark.nft").rc == 0


def test_the_tcp_fin_timeout_is_set(host):
    assert "900 5 300" in host.check_output("ipvsadm -L --timeout").replace("  ", " ")


def test_persistence_templates_of_drained_servers_expire(host):
    assert host.sysctl("net.ipv4.vs.expire_quiescent_template") == 1
