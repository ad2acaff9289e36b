"""What the subcommands do: up, reset, reboot, status, down, ssh."""
import concurrent.futures
import os
import shutil
import subprocess
import sys
import time

from . import hosts, image, inventory, topology, vm
from .util import LabError, Step, log, write_file

HOST_SSH_TIMEOUT = 60
GUEST_SCRIPT_TIMEOUT = 600  # every wait inside the script has its own, shorter timeout


def _guest_script(state, script, title):
    """Send one generated script to the guest over the shared SSH connection; its output streams through."""
    with Step(title):
        try:
            proc = subprocess.run(["ssh", "-F", state.ssh_config, inventory.GUEST_ALIAS, "bash", "-s"],
                                  input=script, text=True, timeout=GUEST_SCRIPT_TIMEOUT, check=False)
        except subprocess.TimeoutExpired as exc:
            raise LabError(f"{title}: no result after {GUEST_SCRIPT_TIMEOUT}s") from exc
        if proc.returncode != 0:
            raise LabError(f"{title}: failed in the guest (exit {proc.returncode}); see the messages above")


def _require_running(state):
    if not vm.is_running(state):
        raise LabError(f"lab {state.lab!r} is not running; start it with: lvs-lab up --topology NAME")


def _current_topology(state):
    name = state.topology
    if not name:
        raise LabError(f"lab {state.lab!r} has no hosts; run: lvs-lab reset --topology NAME")
    return topology.load(name)


def _check_hosts_over_ssh(state, topo, names=None):
    """SSH to each host through the guest, in parallel; also opens the ControlMasters Ansible will reuse."""
    names = names or topo.host_names

    def check(name):
        deadline = time.monotonic() + HOST_SSH_TIMEOUT
        while True:
            proc = vm.ssh(state, inventory.host_alias(name), "hostname", timeout=30, check=False)
            if proc.returncode == 0 and proc.stdout.strip() == name:
                return
            if time.monotonic() > deadline:
                raise LabError(f"{name}: not reachable over SSH: {proc.stderr.strip() or proc.stdout.strip()}")
            time.sleep(1)

    with Step(f"ssh to {', '.join(names)}"):
        with concurrent.futures.ThreadPoolExecutor(max_workers=len(names)) as pool:
            for future in [pool.submit(check, n) for n in names]:
                future.result()


def _healthy(state, topo):
    proc = vm.ssh(state, inventory.GUEST_ALIAS, "bash -s", input=hosts.status_script(topo), check=False,
                  timeout=60)
    lines = proc.stdout.splitlines()
    return proc.returncode == 0 and lines[:1] == [f"topology={topo.name}"] and all(
        "running=yes sshd=yes" in line for line in lines[1:])


def create_hosts(state, topo):
    vm.close_connections(state, [inventory.host_alias(h) for h in _old_host_names(state)])
    if os.path.exists(state.topology_file):
        os.remove(state.topology_file)
    inventory.write_all(state, topo)
    _guest_script(state, hosts.create_script(topo), f"create the {topo.name!r} hosts ({', '.join(topo.host_names)})")
    write_file(state.topology_file, topo.name + "\n")
    _check_hosts_over_ssh(state, topo)


def _old_host_names(state):
    try:
        return _current_topology(state).host_names
    except LabError:
        return []


def up(lab_state, topology_name, fresh=False):
    """Boot the guest if needed and make sure the hosts of the topology run.

    A lab already up with this topology is reused as it is (whatever ran in it before), unless ``fresh``:
    then its hosts are re-created, so nothing an earlier run left in them (tables, VIPs, enabled units) remains.
    """
    topo = topology.load(topology_name)
    started = time.monotonic()
    image_dir = image.build()
    if vm.is_running(lab_state):
        log(f"lab {lab_state.lab!r} already running (qemu pid {lab_state.pid}, port {lab_state.port})")
        if not fresh and lab_state.topology == topo.name and _healthy(lab_state, topo):
            inventory.write_all(lab_state, topo)
            log(f"topology {topo.name!r} is up and healthy: nothing to do")
            print_access(lab_state, topo)
            return
        log(f"re-creating the hosts for topology {topo.name!r}")
    else:
        vm.start(lab_state, image_dir)
    create_hosts(lab_state, topo)
    log(f"lab {lab_state.lab!r} up with topology {topo.name!r} in {time.monotonic() - started:.0f}s")
    print_access(lab_state, topo)


def reset(lab_state, topology_name=None):
    _require_running(lab_state)
    topo = topology.load(topology_name or _current_topology(lab_state).name)
    create_hosts(lab_state, topo)
    print_access(lab_state, topo)


def reboot(lab_state, host_name):
    _require_running(lab_state)
    topo = _current_topology(lab_state)
    host = topo.host(host_name)
    started = time.monotonic()
    vm.close_connections(lab_state, [inventory.host_alias(host.name)])
    _guest_script(lab_state, hosts.reboot_script(host), f"reboot {host.name}")
    _check_hosts_over_ssh(lab_state, topo, [host.name])
    log(f"{host.name} rebooted in {time.monotonic() - started:.1f}s")


def status(lab_state):
    print(f"lab:        {lab_state.lab}  ({lab_state.dir})")
    if not vm.is_running(lab_state):
        print("guest:      not running")
        return 3
    print(f"guest:      running, qemu pid {lab_state.pid}, ssh 127.0.0.1:{lab_state.port}")
    name = lab_state.topology
    print(f"topology:   {name or '(no hosts)'}")
    if not name:
        return 0
    topo = topology.load(name)
    proc = vm.ssh(lab_state, inventory.GUEST_ALIAS, "bash -s", input=hosts.status_script(topo), check=False,
                  timeout=60)
    ok = proc.returncode == 0
    for line in proc.stdout.splitlines()[1:]:
        fields = dict(item.split("=", 1) for item in line.split())
        host = topo.host(fields["host"])
        healthy = fields["running"] == "yes" and fields["sshd"] == "yes"
        ok = ok and healthy
        print(f"  {host.name:<10} {'up  ' if healthy else 'DOWN'}  mgmt {str(host.mgmt.ip):<13} "
              f"{', '.join(str(i.ipv4) + ' ' + str(i.ipv6) for i in host.interfaces)}")
    print(f"inventory:  {lab_state.inventory}")
    return 0 if ok else 1


def down(lab_state):
    aliases = [inventory.host_alias(n) for n in _old_host_names(lab_state)] + [inventory.GUEST_ALIAS]
    if vm.is_running(lab_state):
        vm.close_connections(lab_state, aliases)
    vm.stop(lab_state)
    vm.close_connections(lab_state, aliases)
    for path in (lab_state.overlay, lab_state.pid_file, lab_state.port_file, lab_state.topology_file,
                 lab_state.inventory, lab_state.ssh_config, lab_state.ansible_cfg, lab_state.image_file,
                 lab_state.key, lab_state.key + ".pub"):
        if os.path.exists(path):
            os.remove(path)
    for name in os.listdir(lab_state.dir) if os.path.isdir(lab_state.dir) else []:
        if name.startswith("cm-"):
            os.remove(os.path.join(lab_state.dir, name))
    log(f"lab {lab_state.lab!r} is down (console log kept: {lab_state.console})")


def ssh_exec(lab_state, host_name, command):
    """Replace this process with ssh to a host ('guest' for the VM itself)."""
    _require_running(lab_state)
    if host_name not in ("guest", inventory.GUEST_ALIAS):
        _current_topology(lab_state).host(host_name)
    args = ["ssh", "-F", lab_state.ssh_config]
    if not command and sys.stdin.isatty():
        args.append("-t")
    args.append(inventory.host_alias(host_name))
    args += command
    sys.stdout.flush()
    os.execvp("ssh", args)


def print_access(state, topo):
    print(f"\nLab {state.lab!r}, topology {topo.name!r}: {topo.description}")
    print(f"  VIP (reserved, not configured): {topo.vip['ipv4']}  {topo.vip['ipv6']}")
    for host in topo.hosts:
        addrs = ", ".join(f"{i.name} {i.ipv4} {i.ipv6}" for i in host.interfaces)
        print(f"  {host.name:<10} [{','.join(host.groups)}] {addrs}")
    lab_cmd = os.path.relpath(os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "lvs-lab"))
    lab_opt = "" if state.lab == "default" else f" --lab {state.lab}"
    print(f"\nReach a host:  {lab_cmd}{lab_opt} ssh {topo.hosts[0].name} [CMD]   or   "
          f"ssh -F {state.ssh_config} lab-{topo.hosts[0].name}")
    print(f"Ansible:       ANSIBLE_CONFIG={state.ansible_cfg} ansible all -m ping")
    print(f"               (inventory {state.inventory})")


def clean_cache():
    path = os.path.join(image.cache_dir(), "images")
    if os.path.isdir(path):
        shutil.rmtree(path)
    log(f"removed {path}")
