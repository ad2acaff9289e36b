"""Testinfra: what the director role leaves on the director (dr scenario)."""
import json

testinfra_hosts = ["ansible://directors"]


def test_vips_are_on_the_lab_interface(host):
    variables = host.ansible.get_variables()
    assert "%s/32" % variables["lab_vip_ipv4"] in host.check_output("ip -o -4 addr show dev eth1")
    assert "192.0.2.101/32" in host.check_output("ip -o -4 addr show dev eth1")
    assert "%s/128" % variables["lab_vip_ipv6"] in host.check_output("ip -o -6 addr show dev eth1")


def test_sysctls_for_drained_and_deleted_real_servers(host):
    assert host.sysctl("net.ipv4.vs.expire_nodest_conn") == 1
    assert host.sysctl("net.ipv4.vs.expire_quiescent_template") == 1


def test_the_state_is_kept_by_the_netstate_unit_at_boot(host):
    unit = host.service("lvs-netstate@director")
    assert unit.is_enabled
    assert unit.is_running or host.run("systemctl is-active lvs-netstate@director").stdout.strip() == "active"
    state = json.loads(host.file("/etc/lvs-cluster/director.json").content_string)
    assert state["ipvs_rules"] == "/etc/lvs-cluster/director.ipvsadm"


def test_the_boot_rules_file_is_what_the_kernel_holds(host):
    rules = host.file("/etc/lvs-cluster/director.ipvsadm").content_string.splitlines()
    # Mark 2 is built with the modules outside the description: not restored at boot, gone after a reboot.
    kernel = [line for line in host.check_output("ipvsadm -Sn").splitlines() if not line[:7] in ("-A -f 2", "-a -f 2")]
    assert sorted(rules) == sorted(kernel)
    assert len([line for line in rules if line.startswith("-A ")]) == 7


def test_ipvs_modules_load_at_boot(host):
    modules = host.file("/etc/modules-load.d/lvs-director.conf").content_string.split()
    assert "ip_vs" in modules and "ip_vs_rr" in modules and "ip_vs_wrr" in modules
