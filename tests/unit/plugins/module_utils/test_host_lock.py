# -*- coding: utf-8 -*-
# Copyright (c) 2026, lvs.cluster contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The host lock protocol (plugins/module_utils/_host_lock.py), with real processes holding the lock.

How the modules use it (two concurrent ipvs_table runs, check mode, timeouts) is in
tests/unit/plugins/modules/test_writer_lock.py.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os
import re
import stat
import time

import pytest

from ansible_collections.lvs.cluster.plugins.module_utils import _host_lock
from ansible_collections.lvs.cluster.plugins.module_utils._host_lock import (
    HostLockError,
    HostLockTimeout,
    acquire,
    check_timeout,
    describe_holder,
    host_lock,
    release,
)
from lock_helpers import read_lock_state


def contents(path):
    with open(path) as handle:
        return handle.read()


def test_directory_is_created_and_holder_is_recorded(lock_path):
    assert not os.path.exists(os.path.dirname(lock_path))
    before = int(time.time())
    with host_lock("lvs.cluster.ipvs_table", 0):
        assert stat.S_IMODE(os.stat(lock_path).st_mode) == 0o644
        assert read_lock_state(lock_path) is not None
        text = contents(lock_path)
        assert text.endswith("\n") and text.count("\n") == 1
        record = json.loads(text)
        assert record["pid"] == os.getpid() and record["what"] == "lvs.cluster.ipvs_table"
        assert before <= record["since"] <= int(time.time())
    # released by closing; the file stays (deleting a flock file races) and no longer names a holder
    assert os.path.exists(lock_path) and contents(lock_path) == ""
    assert read_lock_state(lock_path) is None


def test_the_lock_is_released_when_the_block_fails(lock_path):
    with pytest.raises(RuntimeError):
        with host_lock("lvs.cluster.ipvs_real", 0):
            raise RuntimeError("boom")
    assert read_lock_state(lock_path) is None


def test_timeout_names_the_holder(lock_path, lock_holder):
    with lock_holder("lvs.cluster.ipvs_table") as pid:
        started = time.monotonic()
        with pytest.raises(HostLockTimeout) as err:
            acquire("lvs.cluster.fwmark", 0.3)
        waited = time.monotonic() - started
    assert 0.3 <= waited < 2
    assert re.match(r"could not take the lvs\.cluster host lock %s within 0\.3 s: held by pid %d "
                    r"\(lvs\.cluster\.ipvs_table, for [01] s\)$" % (re.escape(lock_path), pid), str(err.value))
    assert err.value.holder["pid"] == pid and err.value.path == lock_path


def test_timeout_zero_tries_once(lock_holder):
    with lock_holder() as pid:
        started = time.monotonic()
        with pytest.raises(HostLockTimeout) as err:
            acquire("lvs.cluster.ipvs_service", 0)
        assert time.monotonic() - started < 0.05
    assert "within 0 s: held by pid %d (" % pid in str(err.value)


def test_a_holder_that_writes_nothing_is_another_process(lock_holder):
    """flock(1) takes the lock without writing: the waiter cannot name it."""
    with lock_holder(record=False):
        with pytest.raises(HostLockTimeout) as err:
            acquire("lvs.cluster.ipvs_table", 0.2)
    assert str(err.value).endswith("within 0.2 s: held by another process")
    assert err.value.holder is None


def test_a_record_left_by_an_ended_process_is_not_believed(lock_path, lock_holder):
    """Another implementation may close without emptying the file; its record must not name the next holder."""
    child = os.fork()
    if child == 0:
        os._exit(0)
    os.waitpid(child, 0)  # a pid that no longer runs
    os.makedirs(os.path.dirname(lock_path))
    with open(lock_path, "w") as handle:
        handle.write(json.dumps(dict(pid=child, what="lvs-netstate boot", since=int(time.time()))) + "\n")
    with lock_holder(record=False):
        with pytest.raises(HostLockTimeout) as err:
            acquire("lvs.cluster.ipvs_table", 0)
    assert str(err.value).endswith("held by another process")


@pytest.mark.parametrize("text", ["", "{", "[]", '{"pid": "1", "what": "x", "since": 1}', '{"pid": 1, "what": "x"}',
                                  '{"pid": true, "what": "x", "since": 1}', "\xff"])
def test_unreadable_records_are_another_process(lock_path, text):
    os.makedirs(os.path.dirname(lock_path))
    with open(lock_path, "w", encoding="latin-1") as handle:
        handle.write(text)
    fd = os.open(lock_path, os.O_RDONLY)
    try:
        assert _host_lock.read_holder(fd) is None
    finally:
        os.close(fd)


def test_a_waiter_gets_the_lock_when_the_holder_lets_go(lock_path):
    fd = acquire("lvs.cluster.ipvs_table", 0)
    child = os.fork()
    if child == 0:  # the waiter
        os.close(fd)  # the copy fork gave it would keep the parent's lock alive
        try:
            with host_lock("lvs.cluster.fwmark", 5):
                os._exit(0 if json.loads(contents(lock_path))["what"] == "lvs.cluster.fwmark" else 2)
        except BaseException:
            os._exit(1)
    time.sleep(0.3)
    release(fd)
    _pid, status = os.waitpid(child, 0)
    assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0


def test_describe_holder():
    assert describe_holder(dict(pid=1234, what="lvs.cluster.ipvs_table", since=1000), now=1075) == \
        "pid 1234 (lvs.cluster.ipvs_table, for 75 s)"
    assert describe_holder(None) == "another process"


@pytest.mark.parametrize("value", [-1, -0.5, 86401, True, "60", None])
def test_bad_timeouts_name_the_option_and_value(value):
    with pytest.raises(HostLockError) as err:
        check_timeout(value)
    assert str(err.value).startswith("lock_timeout: %r must be between 0 and 86400" % (value,))


def test_good_timeouts():
    assert [check_timeout(value) for value in (0, 0.3, 60, 86400)] == [0, 0.3, 60, 86400]


def test_a_symlink_is_refused(lock_path, tmp_path):
    target = tmp_path / "elsewhere"
    target.write_text("precious\n")
    os.makedirs(os.path.dirname(lock_path))
    os.symlink(str(target), lock_path)
    with pytest.raises(HostLockError) as err:
        acquire("lvs.cluster.ipvs_table", 0)
    assert lock_path in str(err.value)
    assert target.read_text() == "precious\n"


def test_a_directory_in_place_of_the_file_is_refused(lock_path):
    os.makedirs(lock_path)
    with pytest.raises(HostLockError) as err:
        acquire("lvs.cluster.ipvs_table", 0)
    assert "cannot open the lvs.cluster host lock %s" % lock_path in str(err.value)


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to give the file to another user")
def test_a_file_of_another_user_is_refused(lock_path):
    os.makedirs(os.path.dirname(lock_path))
    with open(lock_path, "w") as handle:
        handle.write("mine\n")
    os.chown(lock_path, 65534, 65534)
    with pytest.raises(HostLockError) as err:
        acquire("lvs.cluster.ipvs_table", 0)
    assert "not a regular file owned by uid 0" in str(err.value)
    assert contents(lock_path) == "mine\n"
