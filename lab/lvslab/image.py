"""Build the lab's guest image: debootstrap → configure → mkfs.ext4 -d → qcow2, cached by recipe hash."""
import glob
import hashlib
import json
import os
import shutil
import tempfile
import time

from .util import LabError, Step, cache_dir, log, require_root, require_tools, run, write_file

# Bump when the build steps change in a way the package list and files below do not show.
BUILD_VERSION = 3
SUITE = "bookworm"
# The suite's own kernel (bookworm: 6.1, every IPVS scheduler but twos, which came in Linux 6.2). Another suite's
# kernel can be named here, e.g. "bookworm-backports" (6.12, with twos); but 6.12 under qemu TCG with two threads
# was seen to panic in the lab ("Oops: int3" in code being live-patched), so the lab stays on the stock kernel.
KERNEL_SUITE = ""
IMAGE_SIZE = "4G"
PIP_PACKAGES = ["pyroute2==0.9.7"]
GUEST_PYTHON_SITE = "usr/local/lib/python3.11/dist-packages"

PACKAGES = [
    "linux-image-amd64", "systemd-sysv", "udev", "dbus", "kmod", "procps",
    "openssh-server", "python3", "python3-apt", "python3-cryptography", "ca-certificates", "openssl",
    "iproute2", "ipvsadm", "nftables", "iptables", "conntrack", "tcpdump",
    "iputils-ping", "iputils-arping", "netcat-openbsd", "socat", "curl",
    "apache2", "nginx", "keepalived", "ldirectord", "systemd-container",
    # debootstrap does not resolve virtual packages: perl-openssl-abi-3 (for ldirectord) and
    # python3-cffi-backend-api-* (for python3-cryptography, which community.crypto needs) come from these.
    "perl-openssl-defaults", "python3-cffi-backend",
    # BGP for the scale-out directors (and the ecmp topology's router, which the scenario configures).
    "bird2",
]

# Services the roles enable themselves; apache2 and nginx both want port 80.
DISABLED_UNITS = [
    "apache2.service", "nginx.service", "keepalived.service", "ldirectord.service",
    "systemd-networkd-wait-online.service", "apt-daily.timer", "apt-daily-upgrade.timer",
    "e2scrub_all.timer", "e2scrub_reap.service", "fstrim.timer", "man-db.timer",
    "apache-htcacheclean.service", "bird.service",
]
ENABLED_UNITS = ["systemd-networkd.service", "ssh.service"]


def _read_guest_file(name):
    with open(os.path.join(os.path.dirname(__file__), "guest_files", name)) as handle:
        return handle.read()


# Files written into the guest's root. The lab hosts see them too (their lower layer is the guest's root).
GUEST_FILES = {
    "etc/hostname": "lvs-lab-guest\n",
    "etc/hosts": "127.0.0.1 localhost\n127.0.1.1 lvs-lab-guest\n::1 localhost ip6-localhost ip6-loopback\n",
    "etc/fstab": "# root is mounted by the kernel (root=/dev/vda rw)\n",
    # Lab hosts mask this file in their own /etc: they have no eth0.
    "etc/systemd/network/10-guest-eth0.network":
        "[Match]\nName=eth0\n\n[Network]\nDHCP=ipv4\nIPv6AcceptRA=no\n",
    "etc/ssh/sshd_config.d/lvs-lab.conf":
        "PermitRootLogin prohibit-password\nPasswordAuthentication no\nKbdInteractiveAuthentication no\n"
        "UseDNS no\nMaxSessions 64\nMaxStartups 64:30:128\n",
    "etc/systemd/journald.conf.d/lvs-lab.conf": "[Journal]\nStorage=volatile\nRuntimeMaxUse=32M\n",
    # Bridges in the guest must not hand frames to iptables/nftables.
    "etc/modprobe.d/lvs-lab.conf": "blacklist br_netfilter\n",
    # Lab-only speed-up of Ansible tasks: a bytecode cache for AnsiballZ payloads (see the module's docstring);
    # the lab hosts share its directory (guest.sh binds it into each).
    GUEST_PYTHON_SITE + "/lvs_lab_pycode.py": _read_guest_file("lvs_lab_pycode.py"),
    GUEST_PYTHON_SITE + "/lvs_lab_pycode.pth": "import lvs_lab_pycode\n",
    "etc/dpkg/dpkg.cfg.d/01-lvs-lab-nodoc":
        "path-exclude /usr/share/doc/*\npath-exclude /usr/share/man/*\npath-exclude /usr/share/info/*\n"
        "path-exclude /usr/share/locale/*\npath-include /usr/share/locale/locale.alias\n",
}

TRIM_DIRS = ["usr/share/doc", "usr/share/man", "usr/share/info", "usr/share/locale", "var/cache/apt",
             "var/lib/apt/lists", "usr/share/lintian", "usr/share/linda"]


def recipe():
    return {
        "build_version": BUILD_VERSION,
        "suite": SUITE,
        "kernel_suite": KERNEL_SUITE,
        "packages": PACKAGES,
        "pip": PIP_PACKAGES,
        "disabled": DISABLED_UNITS,
        "enabled": ENABLED_UNITS,
        "files": GUEST_FILES,
        "size": IMAGE_SIZE,
    }


def recipe_hash():
    blob = json.dumps(recipe(), sort_keys=True).encode()
    return hashlib.sha256(blob).hexdigest()


def image_dir():
    return os.path.join(cache_dir(), "images", recipe_hash())


def image_ready(path=None):
    path = path or image_dir()
    return os.path.exists(os.path.join(path, "manifest.json"))


def debian_mirror():
    """The Debian mirror the host's apt uses (never hard-coded); LVS_LAB_MIRROR overrides."""
    override = os.environ.get("LVS_LAB_MIRROR")
    if override:
        return override
    for path in sorted(glob.glob("/etc/apt/sources.list.d/*.sources")):
        uri = _mirror_from_deb822(path)
        if uri:
            return uri
    for path in ["/etc/apt/sources.list"] + sorted(glob.glob("/etc/apt/sources.list.d/*.list")):
        uri = _mirror_from_one_line_format(path)
        if uri:
            return uri
    raise LabError("cannot find a Debian mirror in the host's apt sources; set LVS_LAB_MIRROR")


def _mirror_from_deb822(path):
    try:
        text = open(path, encoding="utf-8").read()
    except OSError:
        return None
    for stanza in text.split("\n\n"):
        fields = {}
        for line in stanza.splitlines():
            if ":" in line and not line.startswith(("#", " ")):
                key, value = line.split(":", 1)
                fields[key.strip().lower()] = value.split()
        suites = fields.get("suites", [])
        # The main entry carries a plain suite name (not -security / -updates).
        if "deb" in fields.get("types", []) and any("-" not in s for s in suites) and fields.get("uris"):
            return fields["uris"][0]
    return None


def _mirror_from_one_line_format(path):
    try:
        lines = open(path, encoding="utf-8").read().splitlines()
    except OSError:
        return None
    for line in lines:
        words = line.split()
        if not words or words[0] != "deb":
            continue
        words = [w for w in words[1:] if not w.startswith("[") and not w.endswith("]") and "=" not in w]
        if len(words) >= 2 and "-" not in words[1]:
            return words[0]
    return None


def build(force=False):
    """Build the image unless the cache already holds one for this recipe; return its directory."""
    target = image_dir()
    if image_ready(target) and not force:
        log(f"image cached: {target}")
        return target
    require_root("debootstrap and mkfs need root")
    require_tools("debootstrap", "mkfs.ext4", "qemu-img", "ssh-keygen", "systemctl")
    mirror = debian_mirror()
    log(f"building the guest image (a cold build takes about 2-3 minutes); mirror from host apt: {mirror}")
    started = time.monotonic()
    os.makedirs(os.path.dirname(target), exist_ok=True)
    work = tempfile.mkdtemp(prefix="build-", dir=os.path.dirname(target))
    try:
        rootfs = os.path.join(work, "rootfs")
        out = os.path.join(work, "out")
        os.makedirs(out)
        _debootstrap(rootfs, mirror)
        if KERNEL_SUITE:
            _install_kernel(rootfs, mirror)
        _install_pip_packages(rootfs)
        _configure(rootfs, out)
        _extract_kernel(rootfs, out)
        _trim(rootfs)
        _make_disk(rootfs, out)
        _write_manifest(out, mirror, time.monotonic() - started)
        if force and os.path.isdir(target):
            shutil.rmtree(target)
        try:
            os.rename(out, target)  # atomic: the cache never holds a half image
        except OSError:
            if not image_ready(target):
                raise
            log("another build finished first; using it")
    finally:
        _remove_work_dir(work)
    log(f"image ready in {time.monotonic() - started:.0f}s: {target}")
    return target


def _debootstrap(rootfs, mirror):
    debs = os.path.join(cache_dir(), "debs")
    os.makedirs(debs, exist_ok=True)
    with Step("debootstrap --variant=minbase " + SUITE):
        run(["debootstrap", "--variant=minbase", f"--include={','.join(PACKAGES)}", "--components=main",
             f"--cache-dir={debs}", SUITE, rootfs, mirror])


def _install_kernel(rootfs, mirror):
    """Replace the suite's kernel with KERNEL_SUITE's (still Debian's stock kernel, from Debian's packages)."""
    sources = os.path.join(rootfs, "etc/apt/sources.list.d/lvs-lab-kernel.list")
    apt = ["chroot", rootfs, "env", "DEBIAN_FRONTEND=noninteractive", "apt-get", "-q", "-y",
           "-o", "Dpkg::Options::=--force-confdef"]
    with Step(f"install linux-image-amd64 from {KERNEL_SUITE}"):
        write_file(sources, f"deb {mirror} {KERNEL_SUITE} main\n")
        proc_dir = os.path.join(rootfs, "proc")
        run(["mount", "-t", "proc", "proc", proc_dir])
        try:
            old = _kernel_packages(rootfs)
            run(apt + ["update"], capture=True)
            run(apt + ["install", "--no-install-recommends", "-t", KERNEL_SUITE, "linux-image-amd64"], capture=True)
            if set(_kernel_packages(rootfs)) - set(old):
                run(apt + ["purge", *old], capture=True)
        finally:
            run(["umount", proc_dir], check=False)
            os.remove(sources)


def _kernel_packages(rootfs):
    listed = run(["chroot", rootfs, "dpkg-query", "-W", "-f", "${Package} ${Status}\n", "linux-image-[0-9]*"],
                 capture=True, check=False).stdout
    return [line.split()[0] for line in listed.splitlines() if line.endswith(" installed")]


def _install_pip_packages(rootfs):
    # Pure-Python packages installed by the host's pip straight into the guest's site directory.
    with Step(f"pip install {' '.join(PIP_PACKAGES)} into the guest"):
        run(["python3", "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--no-warn-script-location",
             "--target", os.path.join(rootfs, GUEST_PYTHON_SITE), *PIP_PACKAGES])


def _configure(rootfs, out):
    with Step("configure the guest"):
        for relpath, content in GUEST_FILES.items():
            write_file(os.path.join(rootfs, relpath), content)
        # Empty machine-id: every boot (guest and each lab host) gets its own.
        write_file(os.path.join(rootfs, "etc/machine-id"), "", 0o444)
        dbus_id = os.path.join(rootfs, "var/lib/dbus/machine-id")
        if os.path.lexists(dbus_id):
            os.remove(dbus_id)
        run(["systemctl", f"--root={rootfs}", "disable", "--quiet", *_existing_units(rootfs, DISABLED_UNITS)],
            capture=True)
        run(["systemctl", f"--root={rootfs}", "enable", "--quiet", *ENABLED_UNITS], capture=True)
        run(["chroot", rootfs, "passwd", "--lock", "root"], capture=True)
        _install_ssh_key(rootfs, out)


def _existing_units(rootfs, units):
    dirs = ["lib/systemd/system", "usr/lib/systemd/system", "etc/systemd/system"]
    return [u for u in units if any(os.path.exists(os.path.join(rootfs, d, u)) for d in dirs)]


def _install_ssh_key(rootfs, out):
    key = os.path.join(out, "id_ed25519")
    run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "lvs-lab", "-f", key])
    public = open(key + ".pub", encoding="utf-8").read()
    write_file(os.path.join(rootfs, "root/.ssh/authorized_keys"), public, 0o600)
    os.chmod(os.path.join(rootfs, "root/.ssh"), 0o700)


def _extract_kernel(rootfs, out):
    kernels = sorted(glob.glob(os.path.join(rootfs, "boot/vmlinuz-*")))
    initrds = sorted(glob.glob(os.path.join(rootfs, "boot/initrd.img-*")))
    if not kernels or not initrds:
        raise LabError("the guest has no kernel/initrd in /boot (linux-image-amd64 not installed?)")
    shutil.copy(kernels[-1], os.path.join(out, "vmlinuz"))
    shutil.copy(initrds[-1], os.path.join(out, "initrd.img"))
    log(f"kernel: {os.path.basename(kernels[-1])}")


def _trim(rootfs):
    with Step("trim docs, man pages, locales, apt caches"):
        for relpath in TRIM_DIRS:
            path = os.path.join(rootfs, relpath)
            if os.path.isdir(path):
                shutil.rmtree(path)
                os.makedirs(path)
        os.makedirs(os.path.join(rootfs, "var/lib/apt/lists/partial"), exist_ok=True)


def _make_disk(rootfs, out):
    raw = os.path.join(out, "image.raw")
    base = os.path.join(out, "base.qcow2")
    with Step(f"mkfs.ext4 -d (size {IMAGE_SIZE})"):
        run(["mkfs.ext4", "-q", "-F", "-L", "lvs-lab", "-d", rootfs, raw, IMAGE_SIZE], capture=True)
    with Step("convert to qcow2"):
        run(["qemu-img", "convert", "-f", "raw", "-O", "qcow2", raw, base], capture=True)
    os.remove(raw)
    os.chmod(base, 0o444)  # the base image is read-only; every boot writes to its own overlay


def _write_manifest(out, mirror, seconds):
    manifest = dict(recipe(), recipe_hash=recipe_hash(), built_at=time.strftime("%Y-%m-%dT%H:%M:%S%z"),
                    build_seconds=round(seconds, 1))
    manifest.pop("files")
    # The mirror is recorded only in the cache, never in the repository.
    manifest["mirror"] = mirror
    write_file(os.path.join(out, "manifest.json"), json.dumps(manifest, indent=2) + "\n")


def _remove_work_dir(work):
    # Keep debootstrap's own log for the post-mortem of a failed build.
    debootstrap_log = os.path.join(work, "rootfs", "debootstrap", "debootstrap.log")
    if os.path.exists(debootstrap_log):
        saved = os.path.join(cache_dir(), "last-failed-debootstrap.log")
        shutil.copy(debootstrap_log, saved)
        log(f"debootstrap's log kept in {saved}")
    # debootstrap may leave /proc or /sys mounted in the chroot when it fails: unmount before deleting.
    mounts = []
    with open("/proc/mounts", encoding="utf-8") as handle:
        for line in handle:
            point = line.split()[1].replace("\\040", " ")
            if point.startswith(work + "/"):
                mounts.append(point)
    for point in sorted(mounts, key=len, reverse=True):
        run(["umount", "-l", point], check=False)
    run(["rm", "-rf", "--one-file-system", work], check=False)
