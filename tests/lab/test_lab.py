"""Self-test of the lab tool (lab/lvs-lab): hosts, addresses, IPVS in a host, a real reboot. Boots a VM, so it only
runs when asked (see conftest.py): LVS_LAB=1 or LVS_LAB_NAME=<running lab>.
"""
from conftest import NEEDS_LAB, lab_cli

pytestmark = NEEDS_LAB


def test_every_host_answers_over_ssh_with_its_own_hostname(lab):
    for host in lab.topology.hosts:
        assert lab.sh(host.name, "hostname").strip() == host.name


def test_client_pings_rs1_over_ipv4_and_ipv6(lab):
    rs1 = lab.host("rs1").interfaces[0]
    lab.sh("client", f"ping -c 1 -W 3 {rs1.ipv4.ip}")
    lab.sh("client", f"ping -6 -c 1 -W 3 {rs1.ipv6.ip}")


def test_ipvs_table_in_the_director(lab):
    vip = lab.topology.vip["ipv4"]
    rs1 = lab.host("rs1").interfaces[0].ipv4.ip
    try:
        lab.sh("director", f"ipvsadm -A -t {vip}:80 -s rr && ipvsadm -a -t {vip}:80 -r {rs1}:80 -g")
        table = lab.sh("director", "ipvsadm -Ln")
        assert f"TCP  {vip}:80 rr" in table
        assert f"{rs1}:80" in table and "Route" in table
        # pyroute2 is baked into the image as an independent reader of the table.
        dump = lab.sh("director", "python3 -c 'from pyroute2 import IPVS; print(len(IPVS().service(\"dump\")))'")
        assert dump.strip().splitlines()[-1] == "1"
    finally:
        lab.sh("director", "ipvsadm -C", check=False)


def test_reboot_drops_runtime_state_and_keeps_files(lab):
    rs2 = lab.host("rs2")
    eth1 = rs2.interfaces[0]
    lab.sh("rs2", "ip addr add 198.51.100.222/32 dev eth1 && sysctl -qw net.ipv4.conf.all.arp_ignore=1"
                  " && ipvsadm -A -t 198.51.100.222:80 -s rr && echo kept > /root/reboot-marker")
    assert "198.51.100.222" in lab.sh("rs2", "ipvsadm -Ln")
    lab_cli(lab.name, "reboot", "rs2", timeout=300)
    assert "198.51.100.222" not in lab.sh("rs2", "ip -o addr show")
    assert lab.sh("rs2", "sysctl -n net.ipv4.conf.all.arp_ignore").strip() == "0"
    assert "198.51.100.222" not in lab.sh("rs2", "ipvsadm -Ln")
    assert lab.sh("rs2", "cat /root/reboot-marker").strip() == "kept"
    addresses = lab.sh("rs2", "ip -o addr show dev eth1")
    assert str(eth1.ipv4) in addresses and str(eth1.ipv6) in addresses
    lab.sh("client", f"ping -c 1 -W 3 {eth1.ipv4.ip}")
    lab.sh("client", f"ping -6 -c 1 -W 3 {eth1.ipv6.ip}")
    lab.sh("rs2", "rm -f /root/reboot-marker")
