"""The running lab, shared by the tests of tests/lab (one fresh boot of topology dr for the whole session).

    LVS_LAB=1 pytest tests/lab                  # boots lab 'selftest' (topology dr), downs it at the end
    LVS_LAB_NAME=default pytest tests/lab       # reuses that lab (brought to topology dr), leaves it running

LVS_LAB_KEEP=1 keeps a lab the tests booted themselves.
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

NEEDS_LAB = pytest.mark.skipif(
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

    def sh_with_input(self, host, command, data):
        """Run ``command`` on ``host`` with ``data`` (bytes) on its standard input; return the output."""
        with tempfile.TemporaryFile() as source, tempfile.TemporaryFile("w+") as out:
            source.write(data)
            source.seek(0)
            proc = subprocess.run([LAB_TOOL, "--lab", self.name, "ssh", host, command], stdin=source, stdout=out,
                                  stderr=subprocess.STDOUT, timeout=300, check=False)
            out.seek(0)
            output = out.read()
        if proc.returncode != 0:
            pytest.fail(f"{host}: {command!r} exited {proc.returncode}:\n{output}")
        return output


@pytest.fixture(scope="session")
def lab():
    name = os.environ.get("LVS_LAB_NAME") or "selftest"
    reused = bool(os.environ.get("LVS_LAB_NAME"))
    # Fresh hosts: a reused lab may hold what the demo or a scenario left (units that set sysctls at boot).
    lab_cli(name, "up", "--fresh", "--topology", TOPOLOGY, timeout=900)
    yield Lab(name)
    if not reused and os.environ.get("LVS_LAB_KEEP") != "1":
        lab_cli(name, "down", timeout=120)
