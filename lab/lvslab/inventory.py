"""Write the files that let ssh and Ansible reach the lab: ssh_config, inventory.yml, ansible.cfg."""
import json
import os
import re

from .topology import KNOWN_GROUPS, MGMT_GUEST
from .util import repo_root, write_file

GUEST_ALIAS = "lab-guest"
_PLAIN_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_.-]*$")


def host_alias(name):
    return GUEST_ALIAS if name in ("guest", GUEST_ALIAS) else f"lab-{name}"


def _ssh_options(state):
    return [
        "User root",
        f"IdentityFile {state.key}",
        "IdentitiesOnly yes",
        "StrictHostKeyChecking no",
        "UserKnownHostsFile /dev/null",
        "LogLevel ERROR",
        "ControlMaster auto",
        "ControlPersist 10m",
        # %C is a hash: keeps the socket path short (unix sockets are limited to 108 bytes).
        f"ControlPath {state.dir}/cm-%C",
        "ServerAliveInterval 10",
        "ConnectTimeout 10",
    ]


def ssh_config(state, topology=None):
    options = _ssh_options(state)
    blocks = [f"# Written by lvs-lab for lab {state.lab!r}. Use: ssh -F {state.ssh_config} lab-HOST",
              f"Host {GUEST_ALIAS} guest", "  HostName 127.0.0.1", f"  Port {state.port}",
              *[f"  {o}" for o in options], ""]
    for host in (topology.hosts if topology else []):
        blocks += [f"Host {host_alias(host.name)}", f"  HostName {host.mgmt.ip}",
                   # Hosts are reached through the guest; -F keeps the jump on this config.
                   f"  ProxyCommand ssh -F {state.ssh_config} -W %h:%p {GUEST_ALIAS}",
                   *[f"  {o}" for o in options], ""]
    return "\n".join(blocks)


def ansible_cfg(state):
    collections = os.path.join(repo_root(), ".build", "collections")
    return "\n".join([
        f"# Written by lvs-lab. Use: ANSIBLE_CONFIG={state.ansible_cfg} ansible-playbook ...",
        "[defaults]",
        f"inventory = {state.inventory}",
        "host_key_checking = False",
        "interpreter_python = /usr/bin/python3",
        f"collections_path = {collections}",
        "forks = 10",
        "timeout = 30",
        "",
        "[ssh_connection]",
        "pipelining = True",
        "ssh_args = -o ControlMaster=auto -o ControlPersist=10m",
        # Same sockets as the ssh_config: Ansible and `lvs-lab ssh` share one connection per host.
        f"control_path = {state.dir}/cm-%%C",
        "",
    ])


def inventory_data(state, topology):
    networks = {
        net.name: {"ipv4": str(net.ipv4), "ipv6": str(net.ipv6), "bridge": net.bridge}
        for net in topology.networks.values()
    }
    hostvars = {}
    for host in topology.hosts:
        primary = host.interfaces[0]
        hostvars[host.name] = {
            "ansible_host": host_alias(host.name),
            "ansible_user": "root",
            "ansible_ssh_common_args": f"-F {state.ssh_config}",
            "ansible_python_interpreter": "/usr/bin/python3",
            "lab_mgmt_ipv4": str(host.mgmt.ip),
            "lab_ipv4": str(primary.ipv4.ip),
            "lab_ipv6": str(primary.ipv6.ip),
            "lab_interfaces": {
                i.name: {"network": i.network.name, "ipv4": str(i.ipv4), "ipv6": str(i.ipv6)}
                for i in host.interfaces
            },
        }
    all_vars = {
        "lab_name": state.lab,
        "lab_topology": topology.name,
        "lab_vip_ipv4": topology.vip["ipv4"],
        "lab_vip_ipv6": topology.vip["ipv6"],
        "lab_vip": topology.vip,
        "lab_networks": networks,
        "lab_mgmt_guest_ipv4": str(MGMT_GUEST.ip),
    }
    children = {
        group: {"hosts": {h.name: None for h in topology.hosts if group in h.groups}}
        for group in KNOWN_GROUPS
    }
    return {"all": {"vars": all_vars, "hosts": hostvars, "children": children}}


def to_yaml(value, indent=0):
    """A tiny YAML emitter: block mappings, JSON scalars and flow lists (JSON is valid YAML)."""
    pad = "  " * indent
    lines = []
    for key, item in value.items():
        key_text = key if _PLAIN_KEY.match(key) else json.dumps(key)
        if isinstance(item, dict) and item:
            lines.append(f"{pad}{key_text}:")
            lines.append(to_yaml(item, indent + 1))
        elif isinstance(item, dict):
            lines.append(f"{pad}{key_text}: {{}}")
        elif item is None:
            lines.append(f"{pad}{key_text}:")
        else:
            lines.append(f"{pad}{key_text}: {json.dumps(item)}")
    return "\n".join(lines)


def write_all(state, topology):
    write_file(state.ssh_config, ssh_config(state, topology))
    write_file(state.ansible_cfg, ansible_cfg(state))
    header = (f"# Written by lvs-lab for lab {state.lab!r}, topology {topology.name!r}; rewritten by every `up`.\n"
              f"# ANSIBLE_CONFIG={state.ansible_cfg} ansible-playbook -i {state.inventory} PLAYBOOK\n")
    write_file(state.inventory, header + to_yaml(inventory_data(state, topology)) + "\n")
    _ensure_collection_link()


def _ensure_collection_link():
    # The repository root is the collection root; Ansible finds it as lvs.cluster through this link
    # (the same one tests/unit/conftest.py makes).
    link = os.path.join(repo_root(), ".build", "collections", "ansible_collections", "lvs", "cluster")
    if not os.path.islink(link):
        os.makedirs(os.path.dirname(link), exist_ok=True)
        try:
            os.symlink(repo_root(), link)
        except FileExistsError:
            pass
