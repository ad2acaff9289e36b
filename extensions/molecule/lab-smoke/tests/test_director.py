"""Testinfra: what lab-smoke's converge set up by hand on the director."""

testinfra_hosts = ["ansible://directors"]


def test_the_vip_is_on_the_lab_interface(host):
    vip = host.ansible.get_variables()["lab_vip_ipv4"]
    assert "%s/32" % vip in host.check_output("ip -o -4 addr show dev eth1")


def test_the_table_balances_the_vip_rr_over_both_real_servers_by_dr(host):
    vip = host.ansible.get_variables()["lab_vip_ipv4"]
    rules = host.check_output("ipvsadm -Sn").splitlines()
    assert "-A -t %s:80 -s rr" % vip in rules
    reals = [line for line in rules if line.startswith("-a -t %s:80 " % vip)]
    assert len(reals) == 2
    assert all(" -g " in line for line in reals)
