# -*- coding: utf-8 -*-
# Copyright (c) 2026, lvs.cluster contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Test helpers shared by the ipvs_* module tests (imported as ``test_ipvs_fakes``), and tests of the helpers.

* ``FakeKernel``: an in-memory IPVS with the interface of ``_ipvs_kernel.IpvsKernel``; it applies operations the
  way the kernel does (refusing to add what exists, to edit or delete what does not) and records every call.
* ``run_module(module, args, kernel, monkeypatch, check_mode=False, diff=False)``: runs ``module.main()`` with
  the args and returns the result dict (``failed`` is True when the module called fail_json).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
from dataclasses import replace

import pytest

from ansible.module_utils import basic

from ansible_collections.lvs.cluster.plugins.module_utils import _ipvs_module
from ansible_collections.lvs.cluster.plugins.module_utils._ipvs_model import (
    IpvsError,
    Real,
    Service,
    ServiceKey,
    Stats,
    Table,
    Timeouts,
)
from ansible_collections.lvs.cluster.plugins.module_utils._ipvs_plan import Operation, PlanError, apply_operations

try:
    from ansible.module_utils.testing import patch_module_args
except ImportError:  # ansible-core < 2.19
    import contextlib

    from ansible.module_utils.common.text.converters import to_bytes

    @contextlib.contextmanager
    def patch_module_args(args=None):
        old = basic._ANSIBLE_ARGS
        basic._ANSIBLE_ARGS = to_bytes(json.dumps({"ANSIBLE_MODULE_ARGS": args or {}}))
        try:
            yield
        finally:
            basic._ANSIBLE_ARGS = old


class FakeOperationError(IpvsError):
    """Like _ipvs_kernel.IpvsOperationError: ``operation`` failed, ``applied`` went through before it."""

    def __init__(self, message, operation, applied):
        super(FakeOperationError, self).__init__(message)
        self.operation = operation
        self.applied = list(applied)


class FakeUnavailable(IpvsError):
    pass


class FakeKernel:
    """In-memory IPVS. ``fail_on(operation) -> message or None`` makes an operation fail like the kernel would.

    ``counters`` maps (ServiceKey, (address, port)) to a list of (active, inactive, persistent) tuples handed out
    one per read (the last one repeats), to script draining.
    """

    def __init__(self, services=(), timeouts=None, unavailable=False, fail_on=None, daemons=(), missing=()):
        self.table = Table(services=tuple(services))
        self.current_timeouts = timeouts or Timeouts(tcp=900, tcp_fin=120, udp=300)
        self.unavailable = unavailable
        self.fail_on = fail_on
        self.daemon_list = list(daemons)
        self.counters = {}
        self.batches = []        # every apply() call: (list of operations, batch_size)
        self.applied = []        # every operation that went through
        self.timeout_sets = []   # every set_timeouts() argument
        self.opened = 0
        self.closed = 0
        self.reads_with_stats = []
        self.reads_only = []     # the ``only`` of every read_table()
        self.missing = missing   # kernel modules the fake kernel lacks (None: it cannot tell)
        self.module_queries = []  # every missing_modules() argument

    # context manager
    def __enter__(self):
        if self.unavailable:
            raise FakeUnavailable("IPVS is not available: the ip_vs kernel module is not loaded")
        self.opened += 1
        return self

    def __exit__(self, *exc):
        self.closed += 1
        return False

    @property
    def writes(self):
        return len(self.batches) + len(self.timeout_sets)

    # reading
    def _with_counters(self, service):
        reals = []
        for real in service.reals:
            script = self.counters.get((service.key, real.key))
            if script:
                active, inactive, persistent = script.pop(0) if len(script) > 1 else script[0]
            else:
                active, inactive, persistent = 0, 0, 0
            reals.append(replace(real, active_conns=active, inactive_conns=inactive, persistent_conns=persistent))
        return service.with_reals(reals)

    def read_table(self, stats=False, with_timeouts=False, expected=None, only=None):
        # ``expected`` only makes the real kernel's read cheaper: a decoded copy is the same answer.
        self.reads_with_stats.append(stats)
        self.reads_only.append(only)
        services = []
        for service in self.table.services:
            if only is not None and service.key not in only:
                continue
            service = self._with_counters(service)
            if stats:
                service = replace(service, stats=Stats(conns=7, inpkts=70),
                                  reals=tuple(replace(r, stats=Stats(conns=7)) for r in service.reals))
            services.append(service)
        return Table(services=tuple(services), timeouts=self.current_timeouts if with_timeouts else None)

    def read_service(self, key, stats=False):
        service = self.table.get(key)
        return self._with_counters(service) if service is not None else None

    def info(self):
        return {"version": "1.2.1", "version_code": 66049, "conn_tab_size": 4096}

    def missing_modules(self, names):
        self.module_queries.append(list(names))
        if self.missing is None:
            return "6.1.0-fake", None
        return "6.1.0-fake", sorted(set(names) & set(self.missing))

    def timeouts(self):
        return self.current_timeouts

    def daemons(self):
        return list(self.daemon_list)

    # writing
    def set_timeouts(self, timeouts):
        self.timeout_sets.append(timeouts)
        self.current_timeouts = replace(self.current_timeouts,
                                        **dict((k, v) for k, v in timeouts.to_dict().items() if v))

    def apply(self, operations, batch_size=None):
        operations = list(operations)
        self.batches.append((operations, batch_size))
        applied = []
        for operation in operations:
            message = self.fail_on(operation) if self.fail_on else None
            if message is None:
                try:
                    self.table = apply_operations(self.table, [operation])
                except PlanError as err:
                    message = str(err)
            if message is not None:
                raise FakeOperationError(message, operation, applied)
            applied.append(operation)
            self.applied.append(operation)
        return applied


class AnsibleExitJson(Exception):
    pass


class AnsibleFailJson(Exception):
    pass


def run_module(module, args, kernel, monkeypatch, check_mode=False, diff=False):
    """Run ``module.main()`` against ``kernel``; return the result dict (with ``failed``)."""
    monkeypatch.setattr(_ipvs_module, "open_kernel", lambda: kernel)

    def exit_json(self, **kwargs):
        kwargs.setdefault("changed", False)
        kwargs["failed"] = False
        # What the real exit_json adds: the warnings the module gave with module.warn().
        kwargs["warnings"] = list(warnings)
        raise AnsibleExitJson(kwargs)

    def fail_json(self, msg, **kwargs):
        kwargs["msg"] = msg
        kwargs["failed"] = True
        raise AnsibleFailJson(kwargs)

    warnings = []
    monkeypatch.setattr(basic.AnsibleModule, "warn", lambda self, warning: warnings.append(warning))
    monkeypatch.setattr(basic.AnsibleModule, "exit_json", exit_json)
    monkeypatch.setattr(basic.AnsibleModule, "fail_json", fail_json)
    args = dict(args)
    if check_mode:
        args["_ansible_check_mode"] = True
    if diff:
        args["_ansible_diff"] = True
    with patch_module_args(args):
        try:
            module.main()
        except (AnsibleExitJson, AnsibleFailJson) as outcome:
            result = outcome.args[0]
            json.dumps(result)  # what a module returns must serialise
            return result
    raise AssertionError("the module returned without exit_json or fail_json")


# Shorthands for building model objects in tests.
def tcp(address="192.0.2.10", port=80):
    return ServiceKey(family="ipv6" if ":" in address else "ipv4", protocol="tcp", address=address, port=port)


def svc(key=None, reals=(), **attrs):
    return Service(key=key or tcp(), reals=tuple(reals), **attrs)


def real(address="192.0.2.21", port=80, **attrs):
    return Real(address=address, port=port, family="ipv6" if ":" in address else "ipv4", **attrs)


# ---------------------------------------------------------------------------------------------------------------
# The fake must refuse what the kernel refuses, or module tests would pass against impossible plans.
# ---------------------------------------------------------------------------------------------------------------


def test_fake_kernel_refuses_duplicates_and_missing_objects():
    kernel = FakeKernel(services=[svc(reals=[real()])])
    with pytest.raises(FakeOperationError) as err:
        kernel.apply([Operation("add_real", svc(), real(weight=3))])
    assert err.value.applied == []
    with pytest.raises(FakeOperationError):
        kernel.apply([Operation("edit_service", svc(tcp(port=81)))])
    with pytest.raises(FakeOperationError) as err:
        kernel.apply([Operation("add_real", svc(), real("192.0.2.22")),
                      Operation("delete_real", svc(), real("192.0.2.99"))])
    assert [str(op) for op in err.value.applied] == ["add real 192.0.2.22:80 to TCP 192.0.2.10:80 (dr, weight 1)"]
    assert sorted(r.address for r in kernel.table.services[0].reals) == ["192.0.2.21", "192.0.2.22"]


def test_fake_kernel_scripts_counters():
    kernel = FakeKernel(services=[svc(reals=[real()])])
    kernel.counters[(tcp(), ("192.0.2.21", 80))] = [(3, 1, 0), (0, 1, 0)]
    first = kernel.read_service(tcp()).reals[0]
    second = kernel.read_service(tcp()).reals[0]
    third = kernel.read_service(tcp()).reals[0]
    assert (first.active_conns, second.active_conns, third.active_conns) == (3, 0, 0)
    assert third.inactive_conns == 1
