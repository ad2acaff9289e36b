"""Small helpers shared by the lab: logging with timings, running commands, preconditions."""
import os
import shutil
import subprocess
import sys
import time

_START = time.monotonic()

# Which Debian package provides each external tool, for the error message when it is missing.
TOOL_PACKAGES = {
    "debootstrap": "debootstrap",
    "qemu-system-x86_64": "qemu-system-x86",
    "qemu-img": "qemu-utils",
    "mkfs.ext4": "e2fsprogs",
    "ssh": "openssh-client",
    "ssh-keygen": "openssh-client",
    "systemctl": "systemd",
}


class LabError(Exception):
    """An error the user can act on; printed without a traceback."""


def log(message):
    print(f"[{time.monotonic() - _START:6.1f}s] {message}", flush=True)


class Step:
    """Context manager that prints a step's start and how long it took."""

    def __init__(self, title):
        self.title = title

    def __enter__(self):
        self.started = time.monotonic()
        log(f"{self.title} ...")
        return self

    def __exit__(self, exc_type, exc, tb):
        elapsed = time.monotonic() - self.started
        if exc_type is None:
            log(f"{self.title}: done in {elapsed:.1f}s")
        else:
            log(f"{self.title}: FAILED after {elapsed:.1f}s")
        return False


def run(args, *, capture=False, input=None, env=None, check=True, timeout=None):
    """Run a command given as an argument list; raise LabError with its stderr tail when it fails."""
    args = [str(a) for a in args]
    try:
        proc = subprocess.run(  # the return code is checked below, with stderr in the message
            args,
            check=False,
            input=input,
            env=env,
            text=True,
            timeout=timeout,
            stdout=subprocess.PIPE if capture else None,
            stderr=subprocess.PIPE if capture else None,
        )
    except subprocess.TimeoutExpired as exc:
        raise LabError(f"timed out after {timeout}s: {' '.join(args)}") from exc
    if check and proc.returncode != 0:
        detail = ""
        if capture:
            detail = "\n" + tail(proc.stderr or proc.stdout or "", 20)
        raise LabError(f"command failed (exit {proc.returncode}): {' '.join(args)}{detail}")
    return proc


def tail(text, lines):
    return "\n".join(text.splitlines()[-lines:])


def file_tail(path, lines=30):
    try:
        with open(path, encoding="utf-8", errors="replace") as handle:
            return tail(handle.read(), lines)
    except OSError:
        return f"(no {path})"


def require_root(why):
    if os.geteuid() != 0:
        raise LabError(f"must run as root: {why}")


def require_tools(*tools):
    missing = [t for t in tools if shutil.which(t) is None]
    if missing:
        packages = sorted({TOOL_PACKAGES.get(t, t) for t in missing})
        raise LabError(
            f"missing tool(s): {', '.join(missing)}; install with: apt-get install {' '.join(packages)}"
        )


def repo_root():
    return os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def cache_dir():
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "lvs-lab")


def state_root():
    return os.environ.get("LVS_LAB_DIR") or os.path.join(repo_root(), ".lab")


def write_file(path, content, mode=0o644):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", encoding="utf-8") as handle:
        handle.write(content)
    os.chmod(path, mode)


def die(message):
    print(f"lvs-lab: error: {message}", file=sys.stderr, flush=True)
    sys.exit(1)
