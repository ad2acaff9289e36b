# -*- coding: utf-8 -*-
# Copyright (c) 2026, lvs.cluster contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The host-wide writer lock: two runs that change IPVS or the marking rules of one host never interleave.

Private to the lvs.cluster collection: no stability promise. Standard library only.

Every writer (the modules ipvs_service, ipvs_real, ipvs_table and fwmark, and the standalone script
roles/netstate/files/lvs-netstate at boot, stop and reload) holds the lock from reading the host's state to the
last change, so a second writer plans against what the first one left, never against what it is replacing.
Readers (check mode, ipvs_info) do not take it. The protocol, which lvs-netstate implements too (keep both in
step):

1. The lock file is ``/run/lock/lvs-cluster.lock`` (``LOCK_PATH``). ``/run/lock`` is created when missing; the
   file is created with mode 0644.
2. Take it with ``fcntl.flock(fd, LOCK_EX | LOCK_NB)``, retrying every 0.05 to 0.2 seconds until a deadline
   ``timeout`` seconds away (a timeout of 0 tries once).
3. Once held, truncate the file and write one line of JSON, ``{"pid": <pid>, "what": "<who>", "since": <epoch
   seconds, int>}``, so that a waiter can name the holder.
4. Release by closing the file descriptor. The file is never deleted: a waiter may already have it open, and a
   deleted lock file would let two writers lock two different files. (This implementation also empties the
   file just before closing it, so the next waiter never reads a holder that has gone.)
5. A waiter that runs out of time fails with a message naming the lock file, the holder's pid, what it is and
   for how long it has held the lock, read from the file; when the file names no live process (``flock(1)``
   writes nothing, a holder may not have written yet) the message says "held by another process".

Opening the file refuses symbolic links, anything but a regular file and a file owned by another user:
``/run/lock`` is writable by everyone, and the lock file is written as root.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import errno
import fcntl
import json
import os
import random
import stat
import time
from contextlib import contextmanager

LOCK_PATH = "/run/lock/lvs-cluster.lock"
DEFAULT_TIMEOUT = 60
MAX_TIMEOUT = 86400
RETRY_INTERVAL = (0.05, 0.2)


class HostLockError(Exception):
    """The lock could not be used (bad option, unusable lock file); the message is fit for fail_json."""


class HostLockTimeout(HostLockError):
    """Another writer held the lock until the deadline. ``holder`` is what its file said (or None)."""

    def __init__(self, path, timeout, holder):
        self.path = path
        self.timeout = timeout
        self.holder = holder
        super(HostLockTimeout, self).__init__("could not take the lvs.cluster host lock %s within %s s: held by %s" % (
            path, _seconds(timeout), describe_holder(holder)))


def check_timeout(value, option="lock_timeout"):
    """``value`` as seconds to wait; HostLockError naming the option and the value when it is out of range."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= MAX_TIMEOUT:
        raise HostLockError("%s: %r must be between 0 and %d (seconds to wait for the host lock; 0 tries once)" % (
            option, value, MAX_TIMEOUT))
    return value


@contextmanager
def host_lock(what, timeout):
    """Hold the host lock for the block; ``what`` names the holder to waiters (e.g. ``lvs.cluster.ipvs_table``).

    Raises HostLockTimeout after ``timeout`` seconds, HostLockError when the lock file cannot be used.
    """
    fd = acquire(what, timeout)
    try:
        yield
    finally:
        release(fd)


@contextmanager
def writer_lock(what, timeout, check_mode=False):
    """``host_lock`` for a writer, nothing in check mode (which only reads and never waits)."""
    if check_mode:
        yield
    else:
        with host_lock(what, timeout):
            yield


def acquire(what, timeout):
    """Take the lock (see the protocol above) and return its file descriptor; ``release(fd)`` gives it back."""
    path = LOCK_PATH  # read at call time: tests point it elsewhere
    deadline = time.monotonic() + timeout
    fd = _open_lock_file(path)
    try:
        while not _try_lock(fd, path):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise HostLockTimeout(path, timeout, read_holder(fd))
            time.sleep(min(random.uniform(*RETRY_INTERVAL), remaining))
        record = json.dumps(dict(pid=os.getpid(), what=what, since=int(time.time())), sort_keys=True) + "\n"
        os.ftruncate(fd, 0)
        os.pwrite(fd, record.encode("utf-8"), 0)  # unbuffered: visible to waiters at once
    except BaseException:
        os.close(fd)
        raise
    return fd


def release(fd):
    """Give the lock back: empty the file (its holder is gone) and close it; the file itself stays."""
    try:
        os.ftruncate(fd, 0)
    except OSError:
        pass  # the record goes stale: waiters check that the pid it names still runs
    finally:
        os.close(fd)


def read_holder(fd):
    """What the lock file says about its holder: ``{"pid", "what", "since"}``, or None when it names no live
    process (empty, unreadable, half written, or left by a process that has ended)."""
    try:
        holder = json.loads(os.pread(fd, 4096, 0).decode("utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(holder, dict):
        return None
    pid, what, since = holder.get("pid"), holder.get("what"), holder.get("since")
    if not (_is_int(pid) and pid > 0 and isinstance(what, str) and _is_int(since)):
        return None
    if not _process_exists(pid):
        return None
    return dict(pid=pid, what=what, since=since)


def describe_holder(holder, now=None):
    """``pid 1234 (lvs.cluster.ipvs_table, for 75 s)``, or ``another process`` when the holder is unknown."""
    if holder is None:
        return "another process"
    held = max(0, int(now if now is not None else time.time()) - holder["since"])
    return "pid %d (%s, for %d s)" % (holder["pid"], holder["what"], held)


def _open_lock_file(path):
    directory = os.path.dirname(path)
    try:
        if directory:
            os.makedirs(directory, mode=0o755, exist_ok=True)
        flags = os.O_RDWR | os.O_NOFOLLOW | os.O_CLOEXEC
        try:
            fd = os.open(path, flags | os.O_CREAT | os.O_EXCL, 0o644)
            os.fchmod(fd, 0o644)  # whatever the umask: waiters of any user can read the holder
        except FileExistsError:
            fd = os.open(path, flags)
    except OSError as err:
        raise HostLockError("cannot open the lvs.cluster host lock %s: %s" % (path, err.strerror or err))
    info = os.fstat(fd)
    if not stat.S_ISREG(info.st_mode) or info.st_uid != os.geteuid():
        os.close(fd)
        raise HostLockError("the lvs.cluster host lock %s is not a regular file owned by uid %d; remove it" % (
            path, os.geteuid()))
    return fd


def _try_lock(fd, path):
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as err:
        if err.errno in (errno.EWOULDBLOCK, errno.EAGAIN):
            return False
        raise HostLockError("cannot lock the lvs.cluster host lock %s: %s" % (path, err.strerror or err))
    return True


def _process_exists(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # it exists, as another user
    except OSError:
        return False
    return True


def _is_int(value):
    return isinstance(value, int) and not isinstance(value, bool)


def _seconds(value):
    """60 -> '60', 0.3 -> '0.3'."""
    return "%d" % value if float(value).is_integer() else "%.1f" % value
