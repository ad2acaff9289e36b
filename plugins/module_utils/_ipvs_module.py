# -*- coding: utf-8 -*-
# Copyright (c) 2026, lvs.cluster contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""What the ipvs_* modules share: argument spec fragments, parameters -> model, and the one algorithm

    read current -> build desired (validated before anything changes) -> plan -> changed = bool(operations)
    -> apply unless check mode -> result with operations, diff and the state after.

Outside check mode the writers hold the host lock (_host_lock) from the read to the last change.

Private to the lvs.cluster collection: no stability promise.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import time
from contextlib import contextmanager
from dataclasses import replace

from ansible_collections.lvs.cluster.plugins.module_utils._host_lock import (
    DEFAULT_TIMEOUT as DEFAULT_LOCK_TIMEOUT,
    HostLockError,
    check_timeout,
    writer_lock as host_writer_lock,
)
from ansible_collections.lvs.cluster.plugins.module_utils._ipvs_model import (
    FAMILIES,
    FORWARDING_METHODS,
    PERSISTENCE_ENGINES,
    PROTOCOLS,
    SCHEDULER_FLAGS,
    SCHEDULERS,
    TUNNEL_FLAGS,
    TUNNEL_TYPES,
    IpvsError,
    IpvsValidationError,
    Service,
    Table,
    Timeouts,
    format_endpoint,
    parse_address,
    parse_int,
    parse_real,
    parse_service,
    parse_service_key,
)
from ansible_collections.lvs.cluster.plugins.module_utils._ipvs_plan import (
    apply_operations,
    count_operations,
    describe_timeouts,
    kernel_modules_needed,
    merge_timeouts,
    plan_real,
    plan_service,
    plan_table,
    plan_timeouts,
)
from ansible_collections.lvs.cluster.plugins.module_utils._ipvs_rules import ipvsadm_diff, parse_rules

DEFAULT_BATCH_SIZE = 100
# Ansible echoes a module's arguments in its result (``invocation``), then censors and stores the result per host:
# for a big description that doubles the cost of the task, so past this many services ipvs_table echoes a count.
ECHO_SERVICES_LIMIT = 100
# The kernel keeps timeouts as jiffies in an int: seconds * HZ (at most 1000) must fit.
MAX_TIMEOUT = 2147483
DRAIN_COUNTERS = ("active", "inactive", "persistent")

# ---------------------------------------------------------------------------------------------------------------
# Argument spec fragments (keep DOCUMENTATION of the modules in step: ansible-test validate-modules compares them)
# ---------------------------------------------------------------------------------------------------------------

SERVICE_KEY_OPTIONS = dict(
    protocol=dict(type="str", choices=list(PROTOCOLS)),
    address=dict(type="str"),
    port=dict(type="int"),
    fwmark=dict(type="int"),
    family=dict(type="str", choices=list(FAMILIES)),
)

SERVICE_KEY_CONSTRAINTS = dict(
    mutually_exclusive=[("fwmark", "address"), ("fwmark", "port"), ("fwmark", "protocol")],
    required_one_of=[("address", "fwmark")],
    required_together=[("address", "port")],
)

SERVICE_ATTRIBUTE_OPTIONS = dict(
    scheduler=dict(type="str", default="wlc", choices=list(SCHEDULERS)),
    persistent=dict(type="int"),
    persistence_netmask=dict(type="str"),
    one_packet=dict(type="bool", default=False),
    scheduler_flags=dict(type="list", elements="str", choices=list(SCHEDULER_FLAGS)),
    pe_name=dict(type="str", choices=list(PERSISTENCE_ENGINES)),
)

# The attributes of a real as ipvs_table's nested reals spell them (ipvs_real prefixes address/port with real_).
REAL_ATTRIBUTE_OPTIONS = dict(
    forwarding=dict(type="str", default="dr", choices=list(FORWARDING_METHODS)),
    weight=dict(type="int", default=1),
    u_threshold=dict(type="int", default=0),
    l_threshold=dict(type="int", default=0),
    tun_type=dict(type="str", choices=list(TUNNEL_TYPES)),
    tun_port=dict(type="int"),
    tun_flags=dict(type="list", elements="str", choices=list(TUNNEL_FLAGS)),
)

TABLE_REAL_OPTIONS = dict(address=dict(type="str", required=True), port=dict(type="int"), **REAL_ATTRIBUTE_OPTIONS)

TIMEOUT_OPTIONS = dict(tcp=dict(type="int"), tcp_fin=dict(type="int"), udp=dict(type="int"))

# The modules that change the kernel (documented by the doc fragment lvs.cluster.attributes.lock).
LOCK_OPTIONS = dict(lock_timeout=dict(type="int", default=DEFAULT_LOCK_TIMEOUT))


def service_argument_spec():
    spec = dict(SERVICE_KEY_OPTIONS)
    spec.update(SERVICE_ATTRIBUTE_OPTIONS)
    return spec


def table_service_options():
    """Suboptions of ipvs_table's ``services``: the key and attributes of ipvs_service, plus ``reals``."""
    spec = service_argument_spec()
    spec["reals"] = dict(type="list", elements="dict", default=[], options=TABLE_REAL_OPTIONS)
    return spec


# ---------------------------------------------------------------------------------------------------------------
# Parameters -> model. Every function raises IpvsValidationError naming the option (with its path) and value.
# ---------------------------------------------------------------------------------------------------------------


def validated(module, function, *args, **kwargs):
    """Call a parser; a validation error fails the module (before the kernel is even opened)."""
    try:
        return function(*args, **kwargs)
    except IpvsValidationError as err:
        module.fail_json(msg=str(err), option=err.option)


def _check_key_options(params, path):
    if params.get("fwmark") is not None and params.get("protocol") is not None:
        raise IpvsValidationError("%s.protocol" % path if path else "protocol", params["protocol"],
                                  "cannot be combined with fwmark: a fwmark service covers every protocol")


def service_from_params(params, path=""):
    """A Service (no reals) from the key and attribute options; ``protocol`` and ``fwmark`` exclude each other."""
    _check_key_options(params, path)
    return parse_service(params, path)


def service_key_from_params(params, path=""):
    """Just the ServiceKey (ipvs_real names a service without describing it)."""
    _check_key_options(params, path)
    return parse_service_key(params, path)


def real_endpoint_from_params(params):
    """``(address, port or None)`` of ipvs_real's real_address/real_port, for state absent and drained."""
    address = parse_address(params.get("real_address"), "real_address")
    port = params.get("real_port")
    if port is not None:
        port = parse_int(port, "real_port", 0, 65535, "a port")
    return address, port


def find_real(service, address, port):
    """The real of ``service`` at address:port; with port None the only real at that address (or None).
    Several reals at the address and no port given is an error naming real_port."""
    found = [real for real in service.reals if real.address == address and (port is None or real.port == port)]
    if len(found) > 1:
        raise IpvsValidationError("real_port", port, "is needed: %s has several reals at %s (%s)" % (
            service, address, ", ".join(str(real) for real in found)))
    return found[0] if found else None


def table_from_params(services, timeouts=None):
    """The described Table (every service with its complete reals) and the desired Timeouts (or None)."""
    result = []
    seen = {}
    for index, params in enumerate(services or ()):
        path = "services[%d]" % index
        if not isinstance(params, dict):
            raise IpvsValidationError(path, params, "is not a dictionary")
        service = service_from_params(params, path)
        if service.key in seen:
            raise IpvsValidationError(path, str(service.key), "duplicates %s: a service is described once" %
                                      seen[service.key])
        seen[service.key] = path
        reals = []
        real_seen = {}
        for real_index, real_params in enumerate(params.get("reals") or ()):
            real_path = "%s.reals[%d]" % (path, real_index)
            if not isinstance(real_params, dict):
                raise IpvsValidationError(real_path, real_params, "is not a dictionary")
            real = parse_real(real_params, service.key, real_path)
            if real.key in real_seen:
                raise IpvsValidationError(real_path, str(real), "duplicates %s: a real is listed once per service" %
                                          real_seen[real.key])
            real_seen[real.key] = real_path
            reals.append(real)
        result.append(service.with_reals(reals))
    return Table(services=tuple(result)), timeouts_from_params(timeouts)


def removed_keys_from_params(entries, desired, path="remove_services"):
    """The service keys of ``remove_services``; none of them may also be a service of ``desired``."""
    wanted = desired.by_key()
    keys = []
    for index, entry in enumerate(entries or ()):
        option = "%s[%d]" % (path, index)
        key = service_key_from_params(entry, option)
        if key in wanted:
            raise IpvsValidationError(option, str(key), "is also in services: a service is either wanted or removed")
        keys.append(key)
    return keys


def timeouts_from_params(params, path="timeouts"):
    if params is None:
        return None
    values = {}
    for name in ("tcp", "tcp_fin", "udp"):
        if params.get(name) is not None:
            values[name] = parse_int(params[name], "%s.%s" % (path, name), 0, MAX_TIMEOUT, "a timeout in seconds")
    return Timeouts(**values)


# ---------------------------------------------------------------------------------------------------------------
# The kernel
# ---------------------------------------------------------------------------------------------------------------


def open_kernel():
    """A new IpvsKernel (a context manager). Imported here so that this file loads without it (unit tests
    replace this function with a fake)."""
    from ansible_collections.lvs.cluster.plugins.module_utils._ipvs_kernel import IpvsKernel

    return IpvsKernel()


@contextmanager
def kernel_session(module):
    """The kernel, open for the block; an IpvsError (e.g. ip_vs unavailable) fails the module with its message."""
    try:
        with open_kernel() as kernel:
            yield kernel
    except IpvsError as err:
        fail_with_kernel_error(module, err)


def fail_with_kernel_error(module, err, planned=()):
    """fail_json for an IpvsError. For an IpvsOperationError the message names the failed operation and what
    was applied before it (``operations`` lists the applied ones, so ``changed`` tells the truth)."""
    applied = [str(operation) for operation in (getattr(err, "applied", None) or ())]
    unknown = [str(operation) for operation in (getattr(err, "unknown", None) or ())]
    failed = getattr(err, "operation", None)
    msg = str(err)
    if failed is not None and str(failed) not in msg:
        msg = "%s failed: %s" % (failed, msg)
    if planned or applied:
        msg += "; applied before the failure: %s" % ("; ".join(applied) if applied else "nothing")
    if failed is None and not applied and not unknown:
        module.fail_json(msg=msg)
    extra = {}
    if unknown:
        extra["unknown_operations"] = unknown
    module.fail_json(msg=msg, changed=bool(applied or unknown), operations=applied,
                     failed_operation=str(failed) if failed is not None else None, **extra)


# ---------------------------------------------------------------------------------------------------------------
# The host lock (see _host_lock): one writer at a time from reading the table to the last change
# ---------------------------------------------------------------------------------------------------------------


def lock_timeout_from_params(module):
    """lock_timeout, checked with the other options (before the kernel is opened)."""
    try:
        return check_timeout(module.params["lock_timeout"])
    except HostLockError as err:
        module.fail_json(msg=str(err), option="lock_timeout")


@contextmanager
def writer_lock(module, what, timeout):
    """Hold the host lock for the block, unless check mode (which only reads). A lock that cannot be taken fails
    the module before anything is read or changed."""
    try:
        with host_writer_lock(what, timeout, module.check_mode):
            yield
    except HostLockError as err:
        module.fail_json(msg=str(err), changed=False, operations=[])


# ---------------------------------------------------------------------------------------------------------------
# The algorithm
# ---------------------------------------------------------------------------------------------------------------


def refuse_missing_kernel_modules(module, kernel, operations):
    """Fail, before any change and in check mode too, when a scheduler or persistence engine the operations need
    is a module this kernel does not have: the kernel would refuse the service only once the operations before
    it in the batch were applied."""
    needed = kernel_modules_needed(operations)
    if not needed:
        return
    release, missing = kernel.missing_modules(sorted(needed))
    if not missing:
        return
    problems = ["%s of service %s is not available: kernel %s has no module %s (not loaded, not built in, not in "
                "/lib/modules/%s)" % (needed[name][0], needed[name][1].key, release, name, release)
                for name in missing]
    module.fail_json(msg="%s; nothing was changed" % "; ".join(problems), changed=False, operations=[],
                     missing_kernel_modules=missing)


def execute(module, kernel, operations, current, timeouts=None, current_timeouts=None,
            batch_size=DEFAULT_BATCH_SIZE):
    """Apply ``operations`` (and set ``timeouts``, a Timeouts or None) unless check mode; return the common
    result: changed, operations (what was or would be done, in words) and, with --diff, the changed objects
    before and after in ipvsadm notation (``current`` is the Table the operations start from)."""
    refuse_missing_kernel_modules(module, kernel, operations)
    words = [str(operation) for operation in operations]
    if timeouts is not None:
        words.append(describe_timeouts(timeouts))
    changed = bool(words)
    if changed and not module.check_mode:
        if operations:
            try:
                kernel.apply(operations, batch_size=batch_size)
            except IpvsError as err:
                fail_with_kernel_error(module, err, planned=operations)
        if timeouts is not None:
            try:
                kernel.set_timeouts(timeouts)
            except IpvsError as err:
                module.fail_json(msg="%s failed: %s; applied before the failure: %s" % (
                    describe_timeouts(timeouts), err, "; ".join(words[:-1]) or "nothing"),
                    changed=bool(operations), operations=words[:-1], failed_operation=words[-1])
    result = dict(changed=changed, operations=words)
    if module._diff:
        timeouts_diff = None
        if timeouts is not None:
            timeouts_diff = (current_timeouts, merge_timeouts(current_timeouts, timeouts))
        result["diff"] = ipvsadm_diff(current, operations, timeouts_diff)
    return result


def run_service(module):
    """ipvs_service: the attributes of one service (its reals are left alone)."""
    params = module.params
    desired = validated(module, service_from_params, params)
    lock_timeout = lock_timeout_from_params(module)
    with kernel_session(module) as kernel, writer_lock(module, "lvs.cluster.ipvs_service", lock_timeout):
        current = kernel.read_service(desired.key)
        if params["state"] == "absent":
            desired = None
        else:
            desired = desired.with_reals(current.reals if current is not None else ())
        operations = plan_service(current, desired, manage_reals=False)
        result = execute(module, kernel, operations, Table(services=(current,) if current is not None else ()))
    result["service"] = desired.to_dict() if desired is not None else None
    module.exit_json(**result)


def run_real(module):
    """ipvs_real: one real of an existing service; state drained sets its weight to 0 and waits."""
    params = module.params
    state = params["state"]
    key = validated(module, service_key_from_params, params)
    if state == "drained":
        for name in ("forwarding", "weight", "u_threshold", "l_threshold", "tun_type", "tun_port", "tun_flags"):
            if params.get(name) not in (None, []):
                module.fail_json(msg="%s: %r cannot be combined with state drained: a drained real keeps its "
                                 "attributes and only its weight becomes 0" % (name, params[name]), option=name)
        if params["drain_timeout"] < 0:
            module.fail_json(msg="drain_timeout: %r must not be negative" % params["drain_timeout"],
                             option="drain_timeout")
        if params["drain_poll_interval"] <= 0:
            module.fail_json(msg="drain_poll_interval: %r must be greater than 0" % params["drain_poll_interval"],
                             option="drain_poll_interval")
    real_names = {"address": "real_address", "port": "real_port"}
    if state == "present":
        real_params = dict(params, address=params["real_address"], port=params["real_port"])
        desired = validated(module, parse_real, real_params, key, names=real_names)
        address, port = desired.address, desired.port
    else:
        address, port = validated(module, real_endpoint_from_params, params)
    lock_timeout = lock_timeout_from_params(module)
    with kernel_session(module) as kernel:
        # Draining can take minutes: the lock covers the weight change, not the wait for connections to end.
        with writer_lock(module, "lvs.cluster.ipvs_real", lock_timeout):
            service = kernel.read_service(key)
            if service is None:
                if not (module.check_mode and state == "present"):
                    module.fail_json(msg="service %s does not exist: create it first (lvs.cluster.ipvs_service or "
                                     "lvs.cluster.ipvs_table)" % key, service_key=key.to_dict())
                # An earlier task of the play may create the service, which check mode cannot know: the real is
                # predicted into a service of that key (a real run still fails when no task creates it).
                module.warn("service %s does not exist yet: check mode predicts adding the real server to it; a real "
                            "run fails unless an earlier task creates the service" % key)
                service = Service(key=key)
            current = validated(module, find_real, service, address, port)
            if state == "absent":
                desired = None
            elif state == "drained":
                if current is None:
                    module.fail_json(msg="real %s is not a real of %s: nothing to drain" % (
                        format_endpoint(address, port if port is not None else _service_port(key)), key))
                desired = replace(current, weight=0)
            operations = plan_real(service, current, desired)
            before = Table(services=(service,))
            after = apply_operations(before, operations).get(key)
            result = execute(module, kernel, operations, before)
        if state == "drained":
            result["drain"] = drain(module, kernel, key, desired, result)
    result["real"] = desired.to_dict() if desired is not None else None
    result["service"] = after.to_dict()
    module.exit_json(**result)


def run_table(module):
    """ipvs_table: a whole table (or the described part of it with purge false), plus the timeouts."""
    params = module.params
    if params.get("rules") is not None:
        desired = validated(module, parse_rules, params["rules"])
        timeouts = validated(module, timeouts_from_params, params.get("timeouts"))
    else:
        desired, timeouts = validated(module, table_from_params, params["services"], params.get("timeouts"))
    batch_size = validated(module, parse_int, params["batch_size"], "batch_size", 1, 100000, "a batch size")
    lock_timeout = lock_timeout_from_params(module)
    remove = validated(module, removed_keys_from_params, params["remove_services"], desired)
    # Without purge, and unless the whole table is asked for, services neither described nor to remove are not
    # even read: the task's cost follows the description, not the table.
    return_table = params["return_table"]
    only = None if params["purge"] or return_table else set(desired.by_key()) | set(remove)
    with kernel_session(module) as kernel, writer_lock(module, "lvs.cluster.ipvs_table", lock_timeout):
        current = kernel.read_table(expected=desired, only=only)
        current_timeouts = kernel.timeouts() if timeouts is not None else None
        operations = plan_table(current, desired, params["purge"], remove)
        timeouts_change = plan_timeouts(current_timeouts, timeouts)
        result = execute(module, kernel, operations, current, timeouts=timeouts_change,
                         current_timeouts=current_timeouts, batch_size=batch_size)
    counts = count_operations(operations)
    counts["set_timeouts"] = 1 if timeouts_change is not None else 0
    result.update(counts=counts)
    if return_table:
        table = apply_operations(current, operations).to_dict()
        if timeouts is not None:
            table["timeouts"] = merge_timeouts(current_timeouts, timeouts_change).to_dict()
        result["table"] = table
    if len(desired.services) > ECHO_SERVICES_LIMIT:
        summary = "%d services with %d real servers (not echoed back: more than %d)" % (
            len(desired.services), sum(len(service.reals) for service in desired.services), ECHO_SERVICES_LIMIT)
        given = "rules" if params.get("rules") is not None else "services"
        result["invocation"] = dict(module_args=dict(params, **{given: summary}))
    module.exit_json(**result)


def run_info(module):
    """ipvs_info: everything the kernel holds, read only."""
    stats = module.params["stats"]
    with kernel_session(module) as kernel:
        table = kernel.read_table(stats=stats)
        info = kernel.info()
        timeouts = kernel.timeouts()
        daemons = kernel.daemons()
    ipvs = dict(
        version=info.get("version"),
        conn_tab_size=info.get("conn_tab_size"),
        services=[service.to_dict(with_counters=True) for service in table.services],
        timeouts=timeouts.to_dict(),
        daemons=[daemon.to_dict() for daemon in daemons],
    )
    module.exit_json(changed=False, ipvs=ipvs)


# ---------------------------------------------------------------------------------------------------------------
# Draining
# ---------------------------------------------------------------------------------------------------------------


def remaining_connections(real):
    if real is None:
        return dict((name, 0) for name in DRAIN_COUNTERS)
    return dict((name, getattr(real, "%s_conns" % name) or 0) for name in DRAIN_COUNTERS)


def drain(module, kernel, key, real, result):
    """Wait until the counters named by drain_wait_for of ``real`` reach 0, or drain_timeout seconds pass.

    Returns {waited_seconds, timed_out, remaining: {active, inactive, persistent}}. In check mode nothing is
    waited for (the weight was not changed). A timeout fails the module only with drain_fail_on_timeout.
    """
    params = module.params
    wait_for = params["drain_wait_for"] or ["active"]
    timeout = params["drain_timeout"]
    interval = params["drain_poll_interval"]
    started = time.monotonic()
    remaining = remaining_connections(_current_real(kernel, key, real))
    timed_out = False
    if not module.check_mode:
        while any(remaining[name] for name in wait_for):
            waited = time.monotonic() - started
            if waited >= timeout:
                timed_out = True
                break
            time.sleep(min(interval, timeout - waited))
            remaining = remaining_connections(_current_real(kernel, key, real))
    report = dict(waited_seconds=round(time.monotonic() - started, 1), timed_out=timed_out, remaining=remaining)
    if timed_out and params["drain_fail_on_timeout"]:
        module.fail_json(msg="real %s of %s still has connections after %s seconds: %s" % (
            real, key, timeout, ", ".join("%s %d" % (name, remaining[name]) for name in wait_for)),
            drain=report, changed=result["changed"], operations=result["operations"])
    return report


def _current_real(kernel, key, real):
    service = kernel.read_service(key)
    return service.reals_by_key().get(real.key) if service is not None else None


# ---------------------------------------------------------------------------------------------------------------
# Small helpers
# ---------------------------------------------------------------------------------------------------------------


def _service_port(key):
    return 0 if key.is_fwmark else key.port
