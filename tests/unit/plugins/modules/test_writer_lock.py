# -*- coding: utf-8 -*-
# Copyright (c) 2026, lvs.cluster contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The ipvs_* modules and the host lock: writers never interleave; check mode and ipvs_info never wait.

The race is run for real: two processes run ipvs_table with purge and different descriptions against one IPVS
kept in a file (``FileKernel``), started at the same moment. Without the lock both read the empty table, both
report success and the kernel ends with the union of both tables -- the bug; with it, the second run plans
against what the first left and the kernel ends as exactly one of the two descriptions. (The fwmark module's
use of the lock is tested in test_fwmark_module.py.)
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import fcntl
import multiprocessing
import os
import pickle
import time
import traceback
from contextlib import contextmanager

import pytest

from ansible_collections.lvs.cluster.plugins.module_utils import _host_lock, _ipvs_module
from ansible_collections.lvs.cluster.plugins.module_utils._ipvs_model import Table, Timeouts
from ansible_collections.lvs.cluster.plugins.module_utils._ipvs_module import table_from_params
from ansible_collections.lvs.cluster.plugins.module_utils._ipvs_plan import PlanError, apply_operations
from ansible_collections.lvs.cluster.plugins.modules import ipvs_info, ipvs_real, ipvs_service, ipvs_table

from test_ipvs_fakes import FakeKernel, FakeOperationError, real, run_module, svc, tcp
from lock_helpers import read_lock_state

# fork: the runs inherit this process's patches (the lock path, and the no-op lock of the test that needs it).
FORK = multiprocessing.get_context("fork")
# Long enough that two unserialised runs both read before either applies, even on a busy machine.
READ_PAUSE = 0.8


def description(vip_prefix, port, scheduler):
    return [dict(address="%s.%d" % (vip_prefix, number), port=port, scheduler=scheduler,
                 reals=[dict(address="203.0.113.%d" % (10 * number + real)) for real in (1, 2, 3)])
            for number in (1, 2, 3)]


TABLE_A = description("198.51.100", 80, "rr")
TABLE_B = description("198.51.100", 443, "wlc")


def table_of(services):
    return table_from_params(services)[0]


# ---------------------------------------------------------------------------------------------------------------
# Two processes, one IPVS
# ---------------------------------------------------------------------------------------------------------------


class FileKernel:
    """An IPVS table in a file, shared by processes.

    Each call is atomic, as each netlink request is in the kernel (it takes its own mutex, modelled by a flock on
    a file of the fake's own); nothing orders whole runs but the host lock. read_table() pauses after reading:
    the window between reading and applying that the host lock has to close.
    """

    def __init__(self, path):
        self.path = path

    @classmethod
    def create(cls, path, table=Table()):
        with open(path, "wb") as handle:
            pickle.dump(table, handle)
        return cls(path)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    @contextmanager
    def _kernel_mutex(self):
        with open(self.path + ".mutex", "a") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            yield

    def table(self):
        with self._kernel_mutex(), open(self.path, "rb") as handle:
            return pickle.load(handle)

    def read_table(self, stats=False, expected=None, only=None):
        table = self.table()
        if only is not None:
            table = Table(services=tuple(service for service in table.services if service.key in only))
        time.sleep(READ_PAUSE)
        return table

    def timeouts(self):
        return Timeouts(900, 120, 300)

    def missing_modules(self, names):
        return "6.1.0-fake", []

    def apply(self, operations, batch_size=None):
        applied = []
        for operation in operations:
            with self._kernel_mutex():
                with open(self.path, "rb") as handle:
                    table = pickle.load(handle)
                try:
                    table = apply_operations(table, [operation])
                except PlanError as err:
                    raise FakeOperationError(str(err), operation, applied)
                with open(self.path + ".new", "wb") as handle:
                    pickle.dump(table, handle)
                os.replace(self.path + ".new", self.path)
            applied.append(operation)
        return applied


def _run_table(name, services, kernel_path, start, results):
    """In a child process: wait for the other run, then run ipvs_table with purge; send back the result."""
    try:
        with pytest.MonkeyPatch.context() as patch:
            start.wait(10)
            result = run_module(ipvs_table, dict(services=services, purge=True, lock_timeout=30, return_table=True),
                                FileKernel(kernel_path), patch, diff=True)
        results.put((name, result))
    except BaseException:
        results.put((name, traceback.format_exc()))


def race(tmp_path):
    """Run ipvs_table with TABLE_A and with TABLE_B in two processes at the same moment; return
    ({name: result}, the table the kernel ends with)."""
    kernel = FileKernel.create(str(tmp_path / "ipvs.pickle"))
    start, results = FORK.Barrier(2), FORK.Queue()
    processes = [FORK.Process(target=_run_table, args=(name, services, kernel.path, start, results))
                 for name, services in (("A", TABLE_A), ("B", TABLE_B))]
    for process in processes:
        process.start()
    outcome = dict(results.get(timeout=60) for _process in processes)
    for process in processes:
        process.join(10)
    for name, result in outcome.items():
        assert isinstance(result, dict), "run %s crashed:\n%s" % (name, result)
    return outcome, kernel.table()


@contextmanager
def no_lock(what, timeout):
    yield


class TestTwoRunsAtOnce:
    def test_with_the_lock_the_second_run_plans_against_the_first(self, tmp_path):
        outcome, final = race(tmp_path)
        for name, result in outcome.items():
            assert result["failed"] is False, (name, result["msg"])
            assert result["changed"] is True
        (first_name, first), (second_name, second) = sorted(
            outcome.items(), key=lambda item: item[1]["counts"]["delete_service"])
        descriptions = dict(A=TABLE_A, B=TABLE_B)
        # the first built its table on an empty kernel, the second replaced it whole
        assert first["counts"]["delete_service"] == 0
        assert first["table"] == table_of(descriptions[first_name]).to_dict()
        assert second["counts"]["delete_service"] == 3 and second["counts"]["add_service"] == 3
        assert final == table_of(descriptions[second_name])
        assert final.to_dict() == second["table"]

    def test_without_the_lock_the_runs_interleave(self, tmp_path, monkeypatch):
        """The same race with the lock made a no-op shows the bug, so the test above can fail."""
        monkeypatch.setattr(_host_lock, "host_lock", no_lock)  # inherited by the forked runs
        outcome, final = race(tmp_path)
        for result in outcome.values():
            assert result["failed"] is False and result["changed"] is True
            assert result["counts"]["add_service"] == 3  # both read the empty table
            assert result["counts"]["delete_service"] == 0
        assert len(final.services) == 6
        assert final == Table(services=table_of(TABLE_A).services + table_of(TABLE_B).services)


# ---------------------------------------------------------------------------------------------------------------
# Every writer holds the lock from reading to applying; the lock timeout fails cleanly; readers do not wait
# ---------------------------------------------------------------------------------------------------------------


class LockWatchingKernel(FakeKernel):
    """A FakeKernel that notes who holds the host lock at each read and each apply."""

    def __init__(self, lock_path, **kwargs):
        super(LockWatchingKernel, self).__init__(**kwargs)
        self.lock_path = lock_path
        self.seen = []  # (call, holder record or None)

    def _note(self, call):
        holder = read_lock_state(self.lock_path)
        self.seen.append((call, holder and holder["what"]))

    def read_table(self, stats=False, with_timeouts=False, expected=None, only=None):
        self._note("read")
        return super(LockWatchingKernel, self).read_table(stats, with_timeouts, expected, only)

    def read_service(self, key, stats=False):
        self._note("read")
        return super(LockWatchingKernel, self).read_service(key, stats)

    def apply(self, operations, batch_size=None):
        self._note("apply")
        return super(LockWatchingKernel, self).apply(operations, batch_size)


WEB = dict(address="192.0.2.10", port=80)
WRITERS = [
    pytest.param(ipvs_service, dict(WEB, scheduler="rr"), "lvs.cluster.ipvs_service", id="ipvs_service"),
    pytest.param(ipvs_real, dict(WEB, real_address="192.0.2.22"), "lvs.cluster.ipvs_real", id="ipvs_real"),
    pytest.param(ipvs_table, dict(services=[dict(WEB, reals=[dict(address="192.0.2.21")])], purge=True),
                 "lvs.cluster.ipvs_table", id="ipvs_table"),
]


def web_kernel(lock_path):
    return LockWatchingKernel(lock_path, services=[svc(reals=[real()]), svc(tcp(port=81))])


@pytest.mark.parametrize("module, args, what", WRITERS)
def test_writers_hold_the_lock_from_read_to_apply(monkeypatch, lock_path, module, args, what):
    kernel = web_kernel(lock_path)
    result = run_module(module, args, kernel, monkeypatch)
    assert result["failed"] is False and result["changed"] is True
    assert kernel.seen[0] == ("read", what) and kernel.seen[-1] == ("apply", what)
    assert set(kernel.seen) == {("read", what), ("apply", what)}
    assert read_lock_state(lock_path) is None  # released at the end


@pytest.mark.parametrize("module, args, what", WRITERS)
def test_lock_timeout_fails_cleanly_naming_the_holder(monkeypatch, lock_path, lock_holder, module, args, what):
    kernel = web_kernel(lock_path)
    before = kernel.table
    with lock_holder("lvs.cluster.ipvs_table") as pid:
        result = run_module(module, dict(args, lock_timeout=0), kernel, monkeypatch)
    assert result["failed"] is True and result["changed"] is False
    assert result["msg"].startswith("could not take the lvs.cluster host lock %s within 0 s: held by pid %d "
                                    "(lvs.cluster.ipvs_table, for " % (lock_path, pid))
    assert kernel.seen == [] and kernel.writes == 0 and kernel.table == before


@pytest.mark.parametrize("module, args, what", WRITERS)
def test_check_mode_does_not_take_the_lock(monkeypatch, lock_path, lock_holder, module, args, what):
    kernel = web_kernel(lock_path)
    with lock_holder("lvs.cluster.ipvs_table") as pid:
        result = run_module(module, dict(args, lock_timeout=0), kernel, monkeypatch, check_mode=True)
        assert read_lock_state(lock_path)["pid"] == pid  # still held by the other process throughout
    assert result["failed"] is False and result["changed"] is True
    assert kernel.writes == 0


def test_ipvs_info_does_not_take_the_lock(monkeypatch, lock_holder):
    with lock_holder("lvs.cluster.ipvs_table"):
        result = run_module(ipvs_info, {}, FakeKernel(services=[svc()]), monkeypatch)
    assert result["failed"] is False and len(result["ipvs"]["services"]) == 1


@pytest.mark.parametrize("module, args, what", WRITERS)
@pytest.mark.parametrize("value", [-1, 86401])
def test_bad_lock_timeout_names_the_option_and_value(monkeypatch, lock_path, module, args, what, value):
    kernel = web_kernel(lock_path)
    result = run_module(module, dict(args, lock_timeout=value), kernel, monkeypatch)
    assert result["failed"] is True
    assert result["msg"].startswith("lock_timeout: %d must be between 0 and 86400" % value)
    assert kernel.opened == 0


class FakeTime:
    """Stands in for _ipvs_module's ``time`` during a drain; notes whether the lock is free at each wait."""

    def __init__(self, lock_path):
        self.lock_path = lock_path
        self.now = 1000.0
        self.lock_free_while_waiting = []

    def monotonic(self):
        return self.now

    def sleep(self, seconds):
        self.lock_free_while_waiting.append(read_lock_state(self.lock_path) is None)
        self.now += seconds


def test_a_drain_releases_the_lock_before_waiting(monkeypatch, lock_path):
    kernel = web_kernel(lock_path)
    kernel.counters[(tcp(), ("192.0.2.21", 80))] = [(3, 0, 0), (2, 0, 0), (1, 0, 0), (0, 0, 0)]
    fake_time = FakeTime(lock_path)
    monkeypatch.setattr(_ipvs_module, "time", fake_time)
    result = run_module(ipvs_real, dict(WEB, real_address="192.0.2.21", state="drained", drain_poll_interval=1),
                        kernel, monkeypatch)
    assert result["failed"] is False and result["drain"]["timed_out"] is False
    assert result["operations"] == ["edit real 192.0.2.21:80 of TCP 192.0.2.10:80 (weight 1 -> 0)"]
    # the weight change under the lock, then every read of the counters without it
    assert kernel.seen[:2] == [("read", "lvs.cluster.ipvs_real"), ("apply", "lvs.cluster.ipvs_real")]
    assert kernel.seen[2:] and set(kernel.seen[2:]) == {("read", None)}
    assert fake_time.lock_free_while_waiting and all(fake_time.lock_free_while_waiting)
