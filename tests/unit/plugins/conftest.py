# -*- coding: utf-8 -*-
# Copyright (c) 2026, lvs.cluster contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Fixtures for the host lock.

* ``lock_path`` (automatic): every test gets its own lock file, so tests never touch /run/lock nor wait for each
  other (or for a run on this machine).
* ``lock_holder``: ``with lock_holder(what) as pid:`` another process holds the lock for the block;
  ``record=False`` holds it the way ``flock(1)`` does, writing nothing into the file.

``lock_helpers.read_lock_state(path)`` (beside this file) tells who holds a lock file.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import fcntl
import multiprocessing
import os
from contextlib import contextmanager

import pytest

from ansible_collections.lvs.cluster.plugins.module_utils import _host_lock

# fork: the children inherit the patched LOCK_PATH and the modules this process imported.
FORK = multiprocessing.get_context("fork")


@pytest.fixture(autouse=True)
def lock_path(tmp_path, monkeypatch):
    """The path of this test's host lock (its directory does not exist yet)."""
    path = str(tmp_path / "run-lock" / "lvs-cluster.lock")
    monkeypatch.setattr(_host_lock, "LOCK_PATH", path)
    return path


@pytest.fixture
def lock_holder(lock_path):
    @contextmanager
    def hold(what="lvs.cluster.ipvs_table", record=True):
        ready, done = FORK.Event(), FORK.Event()
        process = FORK.Process(target=_hold_lock, args=(what, record, ready, done), daemon=True)
        process.start()
        try:
            assert ready.wait(10), "the holder process did not take the lock"
            yield process.pid
        finally:
            done.set()
            process.join(10)
    return hold


def _hold_lock(what, record, ready, done):
    if record:
        fd = _host_lock.acquire(what, 5)
    else:
        os.makedirs(os.path.dirname(_host_lock.LOCK_PATH), exist_ok=True)
        fd = os.open(_host_lock.LOCK_PATH, os.O_RDONLY | os.O_CREAT, 0o644)
        fcntl.flock(fd, fcntl.LOCK_EX)
    ready.set()
    done.wait(60)
    os.close(fd)
