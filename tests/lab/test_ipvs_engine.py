"""The IPVS engine's error paths against the lab's real IPVS kernel (tests/unit covers them against fakes and the
host's own generic netlink controller). Boots a VM, so it only runs when asked (see conftest.py).
"""
import io
import json
import os
import tarfile

from conftest import NEEDS_LAB, REPO

pytestmark = NEEDS_LAB

# Runs in the director: 1 service and 100 reals that the kernel accepts, 3,000 edits of reals it does not have
# (each answered with an error) and one more add, in one batch, through a 4 KiB receive buffer - the errors
# overflow it (ENOBUFS) while the kernel is still processing the batch.
OVERFLOW = """
import errno, json, sys
sys.path.insert(0, "/root/engine-test")
from ansible_collections.lvs.cluster.plugins.module_utils._ipvs_kernel import IpvsKernel, IpvsOperationError
from ansible_collections.lvs.cluster.plugins.module_utils._ipvs_model import Real, Service, ServiceKey
from ansible_collections.lvs.cluster.plugins.module_utils._ipvs_plan import Operation
from ansible_collections.lvs.cluster.plugins.module_utils._netlink import NetlinkSocket

service = Service(key=ServiceKey(family="ipv4", protocol="tcp", address="198.18.0.1", port=80))
def real(prefix, index):
    return Real(address="%s.%d.%d" % (prefix, index // 256, index % 256), port=80, family="ipv4")
operations = ([Operation("add_service", service)] + [Operation("add_real", service, real("198.19", i)) for i in range(1, 101)]
              + [Operation("edit_real", service, real("198.20", i)) for i in range(1, 3001)]
              + [Operation("add_real", service, real("198.21", 1))])
kernel = IpvsKernel(socket=NetlinkSocket(rcvbuf=4096), batch_size=5000)
outcome = {"raised": False}
try:
    kernel.apply(operations)
except IpvsOperationError as err:
    outcome = dict(raised=True, errno=err.errno, message=str(err), applied=[str(op) for op in err.applied],
                   failed=len(err.failed), unknown=len(err.unknown), not_applied=len(err.not_applied))
table = kernel.read_table()  # the same socket, still usable
outcome["reals_in_kernel"] = sorted(r.address for s in table.services for r in s.reals)
outcome["operations"] = len(operations)
print(json.dumps(outcome))
"""


def test_a_receive_buffer_overflow_mid_batch_fails_cleanly_and_names_every_operation(lab):
    archive = io.BytesIO()
    with tarfile.open(fileobj=archive, mode="w") as tar:
        tar.add(os.path.join(REPO, "plugins", "module_utils"),
                arcname="ansible_collections/lvs/cluster/plugins/module_utils")
        script = OVERFLOW.encode()
        info = tarfile.TarInfo("overflow.py")
        info.size = len(script)
        tar.addfile(info, io.BytesIO(script))
    try:
        lab.sh("director", "ipvsadm -C && rm -rf /root/engine-test && mkdir -p /root/engine-test")
        lab.sh_with_input("director", "tar -C /root/engine-test -xf -", archive.getvalue())
        output = lab.sh("director", "python3 /root/engine-test/overflow.py")
    finally:
        lab.sh("director", "ipvsadm -C; rm -rf /root/engine-test", check=False)
    outcome = json.loads(output.strip().splitlines()[-1])
    assert outcome["raised"], outcome
    assert outcome["errno"] in (105, 2), outcome  # ENOBUFS, or ENOENT when the first error's answer got through
    assert outcome["unknown"] > 0, outcome  # answers lost to the overflow are reported as such, not as success
    assert len(outcome["applied"]) + outcome["failed"] + outcome["unknown"] + outcome["not_applied"] \
        == outcome["operations"]
    # What was reported applied is in the kernel; the 100 accepted reals are there whatever was reported.
    reals = set(outcome["reals_in_kernel"])
    for operation in outcome["applied"]:
        if operation.startswith("add real "):
            assert operation.split()[2].rsplit(":", 1)[0] in reals
    assert len([address for address in reals if address.startswith("198.19.")]) == 100
    assert not any(address.startswith("198.20.") for address in reals)
