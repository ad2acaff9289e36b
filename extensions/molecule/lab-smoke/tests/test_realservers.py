"""Testinfra: what lab-smoke's converge set up by hand on the real servers."""

testinfra_hosts = ["ansible://realservers"]


def test_arp_is_suppressed_and_the_vip_is_on_lo(host):
    vip = host.ansible.get_variables()["lab_vip_ipv4"]
    assert host.sysctl("net.ipv4.conf.all.arp_ignore") == 1
    assert host.sysctl("net.ipv4.conf.all.arp_announce") == 2
    assert "%s/32" % vip in host.check_output("ip -o -4 addr show dev lo")


def test_apache_serves_the_hosts_own_name_on_port_80(host):
    assert host.service("apache2").is_running
    assert host.socket("tcp://0.0.0.0:80").is_listening or host.socket("tcp://:::80").is_listening
    name = host.ansible.get_variables()["inventory_hostname"]
    assert host.file("/var/www/html/index.html").content_string.strip() == name
