"""Self-test of the lab tool (lab/lvs-lab). Boots a VM, so it only runs when asked:

    LVS_LAB=1 pytest tests/lab                  # boots lab 'selftest' (topology dr), downs it at the end
    LVS_LAB_NAME=default pytest tests/lab       # reuses that lab (brought to topology dr), leaves it running

LVS_LAB_KEEP=1 keeps a lab the test booted itself.
"""
import os
import subprocess
import sys
import tempfile

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
LAB_TOOL = os.path.join(REPO, "lab", "lvs-lab")
sys.path.insert(0, os.path.join(REPO, "lab"))

from lvslab import topology as lab_topology  # noqa: E402

pytestmark = pytest.mark.skipif(
    not (os.environ.get("LVS_LAB") == "1" or os.environ.get("LVS_LAB_NAME")),
    reason="boots a VM: set LVS_LAB=1 (or LVS_LAB_NAME=<running lab>) to run",
)

TOPOLOGY = "dr"


def lab_cli(lab, *args, timeout=600, check=True):
    # Output to temp files: an SSH ControlPersist master may inherit pipes and keep them open.
    with tempfile.TemporaryFile("w+") as out:
        proc = subprocess.run([LAB_TOOL, "--lab", lab, *args], stdout=out, stderr=subprocess.STDOUT,
                              text=True, timeout=timeout, check=False)
        out.seek(0)
        output = out.read()
    if check and proc.returncode != 0:
        pytest.fail(f"lvs-lab {' '.join(args)} failed ({proc.returncode}):\n{output}")
    return proc.returncode, output


class Lab:
    def __init__(self, name):
        self.name = name
        self.topology = lab_topology.load(TOPOLOGY)

    def sh(self, host, command, check=True):
        rc, output = lab_cli(self.name, "ssh", host, command, timeout=120, check=False)
        if check and rc != 0:
            pytest.fail(f"{host}: {command!r} exited {rc}:\n{output}")
        return output

    def host(self, name):
        return self.topology.host(name)


@pytest.fixture(scope="module")
def lab():
    name = os.environ.get("LVS_LAB_NAME") or "selftest"
    reused = bool(os.environ.get("LVS_LAB_NAME"))
    # Fresh hosts: a reused lab may hold what the demo or a scenario left (units that set sysctls at boot).
    lab_cli(name, "up", "--fresh", "--topology", TOPOLOGY, timeout=900)
    yield Lab(name)
    if not reused and os.environ.get("LVS_LAB_KEEP") != "1":
        lab_cli(name, "down", timeout=120)


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
