# -*- coding: utf-8 -*-
# Copyright (c) 2026, lvs.cluster contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""A director's status for operators: the kernel's table (lvs.cluster.ipvs_info) joined with the description's
names and the admin state, as rows (for set_stats and workflows) and as a text table (for the job output).

Private to the lvs.cluster collection: no stability promise.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

COLUMNS = (("service", "SERVICE"), ("name", "NAME"), ("real", "REAL"), ("host", "HOST"), ("weight", "WEIGHT"),
           ("admin", "ADMIN"), ("active_conns", "ACTIVE"), ("inactive_conns", "INACTIVE"), ("cps", "CPS"),
           ("inbps", "IN B/S"))


def _endpoint(address, port):
    return "[%s]:%s" % (address, port) if ":" in address else "%s:%s" % (address, port)


def service_label(service):
    """``fwmark 1`` or ``tcp 192.0.2.100:80``: the same for an ipvs_info service and a planned one."""
    if service.get("fwmark"):
        return "fwmark %s" % service["fwmark"]
    return "%s %s" % (service.get("protocol", "tcp"), _endpoint(service["address"], service["port"]))


def _admin(host, weight, drained, described):
    # The drain applies to the services of the description only: a service built outside it keeps its weights.
    if described and host in drained:
        return "drained"
    return "quiescent" if weight == 0 else "active"


def status_rows(services, plan, admin_state=None):
    """One row per real server of every service in the kernel's table (``services`` from ipvs_info), and one
    for a service with no real server. ``plan`` is what the director_config filter returns for the description."""
    names = dict((service_label(service), name)
                 for service, name in zip(plan.get("services", []), plan.get("service_names", [])))
    hosts = dict((address, host) for host, addresses in plan.get("real_server_addresses", {}).items()
                 for address in addresses)
    drained = set(((admin_state or {}).get("drained") or {}).keys())
    rows = []
    for service in services:
        label = service_label(service)
        base = {"service": label, "name": names.get(label, "(not described)"), "scheduler": service.get("scheduler")}
        if not service.get("reals"):
            rows.append(dict(base, real=None, host=None, weight=None, admin=None, active_conns=0, inactive_conns=0,
                             persistent_conns=0, cps=0, inbps=0))
        for real in service.get("reals") or []:
            host = hosts.get(real["address"])
            stats = real.get("stats") or {}
            rows.append(dict(base, real=_endpoint(real["address"], real["port"]), host=host, weight=real["weight"],
                             forwarding=real.get("forwarding"), admin=_admin(host, real["weight"], drained, label in names),
                             active_conns=real.get("active_conns", 0), inactive_conns=real.get("inactive_conns", 0),
                             persistent_conns=real.get("persistent_conns", 0), cps=stats.get("cps", 0),
                             inbps=stats.get("inbps", 0)))
    return rows


def status_lines(rows):
    """The rows as an aligned text table, a header first."""
    table = [[header for _key, header in COLUMNS]]
    for row in rows:
        table.append(["-" if row.get(key) is None else str(row[key]) for key, _header in COLUMNS])
    widths = [max(len(line[index]) for line in table) for index in range(len(COLUMNS))]
    return ["  ".join(cell.ljust(width) for cell, width in zip(line, widths)).rstrip() for line in table]
