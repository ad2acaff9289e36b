"""Testinfra: persistent services on the director (persistence scenario)."""

testinfra_hosts = ["ansible://directors"]


def test_the_services_are_persistent_with_the_described_timeout(host):
    vip = host.ansible.get_variables()["lab_vip_ipv4"]
    rules = host.check_output("ipvsadm -Sn").splitlines()
    assert "-A -t %s:80 -s rr -p 10" % vip in rules
    assert "-A -t 192.0.2.103:0 -s rr -p 10" in rules


def test_the_tcp_fin_timeout_is_set(host):
    assert "900 5 300" in host.check_output("ipvsadm -L --timeout").replace("  ", " ")


def test_persistence_templates_of_drained_servers_expire(host):
    assert host.sysctl("net.ipv4.vs.expire_quiescent_template") == 1
