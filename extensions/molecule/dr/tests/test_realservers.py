"""Testinfra: what the realserver role leaves on the real servers (dr scenario)."""

testinfra_hosts = ["ansible://realservers"]


def test_vips_are_on_lo_as_host_routes(host):
    variables = host.ansible.get_variables()
    addresses = host.check_output("ip -o addr show dev lo")
    assert "%s/32" % variables["lab_vip_ipv4"] in addresses
    assert "192.0.2.101/32" in addresses
    assert "%s/128" % variables["lab_vip_ipv6"] in addresses


def test_arp_for_the_vips_is_suppressed(host):
    for interface in ("all", "lo", "eth1"):
        assert host.sysctl("net.ipv4.conf.%s.arp_ignore" % interface) == 1
        assert host.sysctl("net.ipv4.conf.%s.arp_announce" % interface) == 2


def test_the_netstate_unit_keeps_it_across_reboots(host):
    assert host.service("lvs-netstate@realserver").is_enabled


def test_apache_listens_on_port_80(host):
    assert host.socket("tcp://0.0.0.0:80").is_listening or host.socket("tcp://:::80").is_listening
