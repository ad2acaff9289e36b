"""Command line of lvs-lab."""
import argparse
import contextlib
import fcntl
import os
import sys

from . import image, lab, topology
from .state import State
from .util import LabError, die


MUTATING_COMMANDS = ("up", "reset", "reboot", "down")


@contextlib.contextmanager
def _lab_lock(state):
    """One mutating command per lab at a time (two `up`s would fight over the VM)."""
    os.makedirs(state.dir, exist_ok=True)
    with open(os.path.join(state.dir, "lock"), "w", encoding="utf-8") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as exc:
            raise LabError(f"another lvs-lab command is working on lab {state.lab!r}") from exc
        yield


def _parser():
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--lab", default=argparse.SUPPRESS,
                        help="lab name (default: $LVS_LAB_NAME or 'default'); state in ${LVS_LAB_DIR:-<repo>/.lab}/LAB")
    parser = argparse.ArgumentParser(
        prog="lvs-lab", parents=[common],
        description="IPVS lab: a qemu guest with Debian's kernel holding systemd-nspawn lab hosts.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    build = sub.add_parser("build", parents=[common], help="build the guest image (cached; cold: about 2-3 min)")
    build.add_argument("--force", action="store_true", help="rebuild even when cached")
    up = sub.add_parser("up", parents=[common], help="boot the guest if needed and create the topology's hosts")
    up.add_argument("--topology", "-t", required=True, choices=topology.available())
    up.add_argument("--fresh", action="store_true",
                    help="always give fresh hosts, even when the lab is already up with this topology")
    reset = sub.add_parser("reset", parents=[common], help="fresh hosts (new filesystems) without rebooting the VM")
    reset.add_argument("--topology", "-t", choices=topology.available(), help="default: the current one")
    reboot = sub.add_parser("reboot", parents=[common], help="reboot one host like a real machine")
    reboot.add_argument("host")
    sub.add_parser("status", parents=[common], help="show the guest and the hosts (exit 0 when all healthy)")
    ssh = sub.add_parser("ssh", parents=[common], help="ssh to HOST ('guest' for the VM), optionally run CMD")
    ssh.add_argument("host")
    ssh.add_argument("cmd", nargs=argparse.REMAINDER)
    sub.add_parser("down", parents=[common], help="stop the guest and remove its runtime files")
    sub.add_parser("inventory", parents=[common], help="print the inventory path (rewritten by up/reset)")
    sub.add_parser("topologies", parents=[common], help="list topologies")
    sub.add_parser("clean-cache", parents=[common], help="remove cached images")
    return parser


def main(argv=None):
    args = _parser().parse_args(argv)
    lab_name = getattr(args, "lab", None) or os.environ.get("LVS_LAB_NAME") or "default"
    try:
        state = State(lab_name)
        if args.command in MUTATING_COMMANDS:
            with _lab_lock(state):
                return _dispatch(args, state) or 0
        return _dispatch(args, state) or 0
    except LabError as exc:
        die(str(exc))
    except KeyboardInterrupt:
        die("interrupted")


def _dispatch(args, state):
    command = args.command
    if command == "build":
        image.build(force=args.force)
    elif command == "up":
        lab.up(state, args.topology, fresh=args.fresh)
    elif command == "reset":
        lab.reset(state, args.topology)
    elif command == "reboot":
        lab.reboot(state, args.host)
    elif command == "status":
        return lab.status(state)
    elif command == "ssh":
        lab.ssh_exec(state, args.host, args.cmd)
    elif command == "down":
        lab.down(state)
    elif command == "inventory":
        if not os.path.exists(state.inventory):
            raise LabError(f"no inventory for lab {state.lab!r}; run: lvs-lab up --topology NAME")
        print(state.inventory)
    elif command == "topologies":
        for name in topology.available():
            print(f"{name:<8} {topology.load(name).description}")
    elif command == "clean-cache":
        lab.clean_cache()
    return 0


if __name__ == "__main__":
    sys.exit(main())
