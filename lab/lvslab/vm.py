"""The qemu guest: start (daemonised, throwaway overlay), wait for SSH, stop by recorded PID."""
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time

from . import inventory
from .util import LabError, Step, file_tail, log, require_tools, run, write_file

BOOT_TIMEOUT = 180  # seconds; the guest answers SSH after about 22 s under TCG
MEMORY_MB = 3072
KERNEL_CMDLINE = "root=/dev/vda rw console=ttyS0 net.ifnames=0 quiet systemd.show_status=1"


def is_running(state):
    """True when the PID file names a live qemu that uses this lab's overlay (guards against PID reuse)."""
    pid = state.pid
    if not pid:
        return False
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as handle:
            argv = handle.read().split(b"\0")
    except OSError:
        return False
    return any(b"qemu-system" in a for a in argv[:1]) and any(state.overlay.encode() in a for a in argv)


def free_local_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def qemu_command(state, image_dir, port):
    return [
        "qemu-system-x86_64",
        # TCG: /dev/kvm here is a PVM device and -enable-kvm hangs with Debian's kernel.
        "-accel", "tcg,thread=multi", "-machine", "q35", "-cpu", "max", "-smp", "2", "-m", str(MEMORY_MB),
        "-name", f"lvs-lab-{state.lab}",
        "-kernel", os.path.join(image_dir, "vmlinuz"), "-initrd", os.path.join(image_dir, "initrd.img"),
        "-append", KERNEL_CMDLINE,
        "-drive", f"file={state.overlay},if=virtio,format=qcow2,cache=unsafe",
        # restrict=on: nothing leaves the VM; the only way in is SSH on 127.0.0.1.
        "-netdev", f"user,id=n0,restrict=on,hostfwd=tcp:127.0.0.1:{port}-:22",
        "-device", "virtio-net-pci,netdev=n0",
        "-device", "virtio-rng-pci",
        "-display", "none", "-monitor", "none", "-serial", f"file:{state.console}",
        "-daemonize", "-pidfile", state.pid_file,
    ]


def start(state, image_dir):
    require_tools("qemu-system-x86_64", "qemu-img", "ssh")
    os.makedirs(state.dir, exist_ok=True)
    _install_key(state, image_dir)
    for path in (state.overlay, state.console, state.pid_file):
        if os.path.exists(path):
            os.remove(path)
    run(["qemu-img", "create", "-q", "-f", "qcow2", "-F", "qcow2", "-b", os.path.join(image_dir, "base.qcow2"),
         state.overlay], capture=True)
    port = free_local_port()
    write_file(state.port_file, f"{port}\n")
    write_file(state.image_file, image_dir + "\n")
    write_file(state.ssh_config, inventory.ssh_config(state))
    with Step(f"boot the guest (qemu TCG, ssh on 127.0.0.1:{port}, console {state.console})"):
        run(qemu_command(state, image_dir, port), capture=True)
        wait_for_ssh(state)


def _install_key(state, image_dir):
    for name in ("id_ed25519", "id_ed25519.pub"):
        shutil.copy(os.path.join(image_dir, name), os.path.join(state.dir, name))
    os.chmod(state.key, 0o600)


def ssh(state, alias, command, *, input=None, capture=True, timeout=None, check=True):
    """Run a command over SSH; output goes to temp files, since a ControlPersist master keeps pipes open."""
    args = ["ssh", "-F", state.ssh_config, alias, command]
    if not capture:
        return run(args, input=input, timeout=timeout, check=check)
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        try:
            proc = subprocess.run(args, input=input, text=True, stdout=out, stderr=err, timeout=timeout,
                                  check=False)
        except subprocess.TimeoutExpired as exc:
            raise LabError(f"ssh {alias} {command!r}: no answer after {timeout}s") from exc
        out.seek(0)
        err.seek(0)
        proc.stdout, proc.stderr = out.read(), err.read()
    if check and proc.returncode != 0:
        raise LabError(f"ssh {alias} {command!r} failed (exit {proc.returncode}): {proc.stderr.strip()}")
    return proc


def wait_for_ssh(state, timeout=BOOT_TIMEOUT):
    deadline = time.monotonic() + timeout
    while True:
        if not is_running(state):
            raise LabError(f"qemu exited during boot; console.log tail:\n{file_tail(state.console)}")
        try:
            if ssh(state, inventory.GUEST_ALIAS, "true", timeout=20, check=False).returncode == 0:
                return
        except LabError:
            pass
        if time.monotonic() > deadline:
            raise LabError(f"the guest did not answer SSH within {timeout}s; console.log tail:\n"
                           f"{file_tail(state.console)}")
        time.sleep(1)


def close_connections(state, aliases):
    for alias in aliases:
        if os.path.exists(state.ssh_config):
            subprocess.run(["ssh", "-F", state.ssh_config, "-O", "exit", alias],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=10, check=False)


def stop(state, timeout=20):
    pid = state.pid
    if not is_running(state):
        log("no guest running")
        return
    with Step(f"stop qemu (pid {pid})"):
        os.kill(pid, signal.SIGTERM)  # the overlay is thrown away: no need for a clean guest shutdown
        deadline = time.monotonic() + timeout
        while is_running(state):
            if time.monotonic() > deadline:
                log(f"qemu {pid} ignored SIGTERM for {timeout}s: SIGKILL")
                os.kill(pid, signal.SIGKILL)
                deadline = time.monotonic() + 10
            time.sleep(0.2)
