# -*- coding: utf-8 -*-
# Copyright (c) 2026, lvs.cluster contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Current state vs desired state -> the ordered list of IPVS operations that turns one into the other.

Private to the lvs.cluster collection: no stability promise. Pure: no I/O, no Ansible.

Rules the planner keeps:

* minimal: nothing that already matches is touched; a changed attribute of a service (scheduler, persistence,
  netmask, flags, persistence engine) is one ``edit_service``, a changed attribute of a real (forwarding, weight,
  thresholds, tunnel) one ``edit_real`` -- never delete + add, which would drop the established connections;
* deleting a service deletes its reals with it (the kernel does that), so no ``delete_real`` precedes it;
* safe order: add services, edit services, add reals, edit reals, delete reals, delete services -- new capacity
  exists before the old goes; within each group the model's sort keys give a deterministic order.

A real is identified by (address, port) and its address determines its family, so the kernel's "cannot change
a real's address family in place" can never be asked of it; a service is identified by its key (which holds
the family), so a different family is a different service (add the new one, delete the old one).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from dataclasses import dataclass, field, replace

from ansible_collections.lvs.cluster.plugins.module_utils._ipvs_model import FULL_PREFIX, Service, Table, Timeouts

ADD_SERVICE = "add_service"
EDIT_SERVICE = "edit_service"
DELETE_SERVICE = "delete_service"
ADD_REAL = "add_real"
EDIT_REAL = "edit_real"
DELETE_REAL = "delete_real"
# The order in which the groups are applied (see the module docstring).
ACTIONS = (ADD_SERVICE, EDIT_SERVICE, ADD_REAL, EDIT_REAL, DELETE_REAL, DELETE_SERVICE)
SERVICE_ACTIONS = (ADD_SERVICE, EDIT_SERVICE, DELETE_SERVICE)
REAL_ACTIONS = (ADD_REAL, EDIT_REAL, DELETE_REAL)
_RANK = dict((action, rank) for rank, action in enumerate(ACTIONS))


@dataclass(frozen=True)
class Operation:
    """One IPVS command.

    ``service`` is the service the operation is about, always without its reals (service operations never
    carry reals: they are added by their own ``add_real`` operations, and deleted by the kernel with the
    service). For the real operations it is the service the real belongs to. ``real`` is the real to add, the
    new state of the real to edit, or the real to delete; None for service operations.

    ``previous`` is the state before an edit (a Service for ``edit_service``, a Real for ``edit_real``); it
    only serves the human-readable description and takes no part in equality.
    """

    action: str
    service: Service
    real: "Real | None" = None
    previous: "Service | Real | None" = field(default=None, compare=False)

    def __post_init__(self):
        if self.action not in _RANK:
            raise ValueError("unknown IPVS operation %r" % (self.action,))
        if (self.real is None) != (self.action in SERVICE_ACTIONS):
            raise ValueError("%s needs %s" % (self.action, "no real" if self.real is not None else "a real"))
        if self.service.reals:
            object.__setattr__(self, "service", self.service.without_reals())

    def sort_key(self):
        return (_RANK[self.action], self.service.sort_key(), self.real.sort_key() if self.real is not None else ())

    def __str__(self):
        if self.action == ADD_SERVICE:
            return "add service %s (%s)" % (self.service, describe_service(self.service))
        if self.action == EDIT_SERVICE:
            return "edit service %s (%s)" % (self.service, _changes(self.previous, self.service, _service_attributes))
        if self.action == DELETE_SERVICE:
            return "delete service %s" % self.service
        if self.action == ADD_REAL:
            return "add real %s to %s (%s)" % (self.real, self.service, real_attributes_text(self.real))
        if self.action == EDIT_REAL:
            return "edit real %s of %s (%s)" % (self.real, self.service,
                                                _changes(self.previous, self.real, _real_attributes))
        return "delete real %s from %s" % (self.real, self.service)


def _service_attributes(service):
    """(name, value) of a service's attributes in ipvsadm's vocabulary; None where not set."""
    persistent = service.persistent is not None
    return [
        ("scheduler", service.scheduler),
        ("persistent", service.persistent),
        ("netmask", service.persistence_netmask
         if persistent and service.persistence_prefix != FULL_PREFIX[service.key.family] else None),
        ("one-packet", "on" if service.one_packet else None),
        ("flags", ",".join(service.scheduler_flags) or None),
        ("pe", service.pe_name),
    ]


def _real_attributes(real):
    tunnel = real.forwarding == "tun"
    return [
        ("forwarding", real.forwarding),
        ("weight", real.weight),
        ("u-threshold", real.u_threshold or None),
        ("l-threshold", real.l_threshold or None),
        ("tun-type", real.tun_type if tunnel else None),
        ("tun-port", real.tun_port or None if tunnel else None),
        ("tun-flags", ",".join(real.tun_flags) or None if tunnel else None),
    ]


def _describe(attributes):
    """'sh, persistent 300, flags sh-port': the set attributes; the first one (scheduler, forwarding) bare."""
    parts = []
    for index, (name, value) in enumerate(attributes):
        if value is not None:
            parts.append(str(value) if index == 0 else "%s %s" % (name, value))
    return ", ".join(parts)


def describe_service(service):
    return _describe(_service_attributes(service))


def real_attributes_text(real):
    return _describe(_real_attributes(real))


def _changes(before, after, attributes):
    """'weight 5 -> 0, u-threshold 100 -> none': what an edit changes."""
    if before is None:
        return _describe(attributes(after))
    new = dict(attributes(after))
    changes = ["%s %s -> %s" % (name, "none" if value is None else value,
                                "none" if new[name] is None else new[name])
               for name, value in attributes(before) if new[name] != value]
    return ", ".join(changes) or "no change"


def sort_operations(operations):
    return sorted(operations, key=Operation.sort_key)


# ---------------------------------------------------------------------------------------------------------------
# Planning
# ---------------------------------------------------------------------------------------------------------------


def plan_real(service, current, desired):
    """Operations that turn the real ``current`` of ``service`` into ``desired`` (either may be None)."""
    if current is None and desired is None:
        return []
    if current is not None and desired is not None and current.key != desired.key:
        raise ValueError("plan_real compares one real: %s is not %s" % (current, desired))
    if desired is None:
        return [Operation(DELETE_REAL, service, current)]
    if current is None:
        return [Operation(ADD_REAL, service, desired)]
    if current == desired:
        return []
    return [Operation(EDIT_REAL, service, desired, previous=current)]


def plan_service(current, desired, manage_reals):
    """Operations that turn the service ``current`` into ``desired`` (either may be None).

    With ``manage_reals`` the reals of ``desired`` are the complete list (extra reals are deleted, missing ones
    added, changed ones edited); without it the reals are left alone and only the attributes count.
    Deleting a service deletes its reals with it.
    """
    if current is desired:  # also both None; a table read against the desired one returns matches as is
        return []
    if current is not None and desired is not None and current.key != desired.key:
        raise ValueError("plan_service compares one service: %s is not %s" % (current, desired))
    if desired is None:
        return [Operation(DELETE_SERVICE, current)]
    operations = []
    if current is None:
        operations.append(Operation(ADD_SERVICE, desired))
        current_reals = {}
    else:
        if not current.attributes_equal(desired):
            operations.append(Operation(EDIT_SERVICE, desired, previous=current.without_reals()))
        current_reals = current.reals_by_key()
    if manage_reals:
        desired_reals = desired.reals_by_key()
        owner = desired.without_reals()  # once, not once per real operation (Operation strips reals)
        for key in set(current_reals) | set(desired_reals):
            operations.extend(plan_real(owner, current_reals.get(key), desired_reals.get(key)))
    return sort_operations(operations)


def plan_table(current, desired, purge, remove=()):
    """Operations that turn the table ``current`` into ``desired``.

    Every service of ``desired`` is complete: its reals are exactly those listed. With ``purge`` the services
    that ``desired`` does not mention are deleted; without it they are left alone, except those whose keys are in
    ``remove`` (services the caller created earlier and no longer describes). Timeouts are not operations (see
    plan_timeouts).
    """
    current_services = current.by_key()
    desired_services = desired.by_key()
    operations = []
    for key, service in desired_services.items():
        operations.extend(plan_service(current_services.get(key), service, manage_reals=True))
    removed = set(remove)
    for key, service in current_services.items():
        if key not in desired_services and (purge or key in removed):
            operations.extend(plan_service(service, None, manage_reals=True))
    return sort_operations(operations)


def kernel_modules_needed(operations):
    """The kernel modules the service operations make the kernel load: ``{module: (what, service)}`` with
    ``what`` like ``scheduler 'twos'``, for each scheduler and persistence engine a service gets (new, or changed
    by an edit), first service first."""
    needed = {}
    for operation in operations:
        if operation.action not in (ADD_SERVICE, EDIT_SERVICE):
            continue
        service, previous = operation.service, operation.previous
        if previous is None or previous.scheduler != service.scheduler:
            needed.setdefault("ip_vs_%s" % service.scheduler, ("scheduler '%s'" % service.scheduler, service))
        if service.pe_name and (previous is None or previous.pe_name != service.pe_name):
            needed.setdefault("ip_vs_pe_%s" % service.pe_name,
                              ("persistence engine '%s'" % service.pe_name, service))
    return needed


def plan_timeouts(current, desired):
    """The Timeouts to set so that ``current`` has every non-zero value of ``desired``, or None if it does.

    A zero (or None) in ``desired`` means "leave as is", as it does for the kernel.
    """
    if desired is None:
        return None
    current = current or Timeouts()
    wanted = dict((name, value) for name, value in desired.to_dict().items() if value)
    if all(getattr(current, name) == value for name, value in wanted.items()):
        return None
    return Timeouts(**wanted)


def merge_timeouts(current, change):
    """What the timeouts are after ``change`` is set on ``current`` (zero fields leave the current value)."""
    if change is None:
        return current
    current = current or Timeouts()
    return replace(current, **dict((name, value) for name, value in change.to_dict().items() if value))


def describe_timeouts(timeouts):
    return "set timeouts %s" % ", ".join("%s %d" % (name, value) for name, value in timeouts.to_dict().items()
                                         if value)


def count_operations(operations):
    """{action: number} for every action, zeros included."""
    counts = dict((action, 0) for action in ACTIONS)
    for operation in operations:
        counts[operation.action] += 1
    return counts


# ---------------------------------------------------------------------------------------------------------------
# Simulation: what a table looks like after the operations (the "after" of check mode and of diffs)
# ---------------------------------------------------------------------------------------------------------------


class PlanError(ValueError):
    """An operation that cannot apply to the table, as the kernel would refuse it (EEXIST, ESRCH, ENOENT)."""


def apply_operations(table, operations):
    """The table after ``operations``, applied in order the way the kernel would; raises PlanError where the
    kernel would refuse one (adding what exists, editing or deleting what does not)."""
    services = dict((service.key, service.without_reals()) for service in table.services)
    # Reals per service as mutable dicts until the end: rebuilding a service per real operation made a plan of
    # thousands of reals for one service quadratic.
    reals = dict((service.key, service.reals_by_key()) for service in table.services)
    for operation in operations:
        key = operation.service.key
        if operation.action == ADD_SERVICE:
            if key in services:
                raise PlanError("%s: the service already exists" % operation)
            services[key] = operation.service.without_reals()
            reals[key] = {}
            continue
        if key not in services:
            raise PlanError("%s: no such service" % operation)
        if operation.action == EDIT_SERVICE:
            services[key] = operation.service.without_reals()
        elif operation.action == DELETE_SERVICE:
            del services[key]
            del reals[key]
        else:
            current = reals[key]
            exists = operation.real.key in current
            if operation.action == ADD_REAL and exists:
                raise PlanError("%s: the real already exists" % operation)
            if operation.action != ADD_REAL and not exists:
                raise PlanError("%s: no such real" % operation)
            if operation.action == DELETE_REAL:
                del current[operation.real.key]
            else:
                current[operation.real.key] = operation.real
    return Table(services=tuple(service.with_reals(reals[key].values()) for key, service in services.items()),
                 timeouts=table.timeouts)
