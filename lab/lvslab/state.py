"""Where a lab keeps its runtime files: ${LVS_LAB_DIR:-<repo>/.lab}/<lab>/."""
import os
import re

from .util import LabError, state_root

LAB_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,31}$")


class State:
    def __init__(self, lab):
        if not LAB_NAME_RE.match(lab):
            raise LabError(f"invalid lab name {lab!r} (letters, digits, - and _)")
        self.lab = lab
        self.dir = os.path.join(state_root(), lab)

        def join(name):
            return os.path.join(self.dir, name)

        self.pid_file = join("qemu.pid")
        self.port_file = join("port")
        self.overlay = join("overlay.qcow2")
        self.console = join("console.log")
        self.ssh_config = join("ssh_config")
        self.inventory = join("inventory.yml")
        self.ansible_cfg = join("ansible.cfg")
        self.key = join("id_ed25519")
        self.topology_file = join("topology")
        self.image_file = join("image")

    def read(self, path):
        try:
            with open(path, encoding="utf-8") as handle:
                return handle.read().strip()
        except FileNotFoundError:
            return None

    @property
    def port(self):
        return self.read(self.port_file)

    @property
    def topology(self):
        return self.read(self.topology_file)

    @property
    def pid(self):
        text = self.read(self.pid_file)
        return int(text) if text and text.isdigit() else None
