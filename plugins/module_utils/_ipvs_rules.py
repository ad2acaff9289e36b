# -*- coding: utf-8 -*-
# Copyright (c) 2026, lvs.cluster contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Render the service model in ``ipvsadm --save -n`` format, which ``ipvsadm --restore`` reads.

Private to the lvs.cluster collection: no stability promise.

This is how a table survives a reboot with standard tooling: the director role writes this text to the rules
file that the distribution's ipvsadm service restores at boot. It is rendered from the same model objects the
netlink engine applies, so the two can never describe different tables. The modules' ``--diff`` uses the same
notation for the objects a task changes (:func:`ipvsadm_diff`).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.lvs.cluster.plugins.module_utils._ipvs_model import format_endpoint

_PROTOCOL_FLAG = {"tcp": "-t", "udp": "-u", "sctp": "--sctp-service"}
_FORWARDING_FLAG = {"dr": "-g", "nat": "-m", "tun": "-i"}
_FULL_PREFIX = {"ipv4": 32, "ipv6": 128}


def service_selector(key):
    """The ipvsadm arguments that name a service: ``-t 192.0.2.10:80`` or ``-f 1 -6``."""
    if key.is_fwmark:
        words = ["-f", str(key.fwmark)]
        if key.family == "ipv6":
            words.append("-6")
        return words
    return [_PROTOCOL_FLAG[key.protocol], format_endpoint(key.address, key.port)]


def service_line(service):
    words = ["-A"] + service_selector(service.key) + ["-s", service.scheduler]
    if service.scheduler_flags:
        words += ["-b", ",".join(service.scheduler_flags)]
    if service.persistent is not None:
        words += ["-p", str(service.persistent)]
        if service.persistence_prefix != _FULL_PREFIX[service.key.family]:
            words += ["-M", service.persistence_netmask]
        if service.pe_name:
            words += ["--pe", service.pe_name]
    if service.one_packet:
        words.append("-o")
    return " ".join(words)


def real_line(service, real):
    words = ["-a"] + service_selector(service.key)
    words += ["-r", format_endpoint(real.address, real.port), _FORWARDING_FLAG[real.forwarding], "-w", str(real.weight)]
    if real.u_threshold:
        words += ["-x", str(real.u_threshold)]
    if real.l_threshold:
        words += ["-y", str(real.l_threshold)]
    if real.forwarding == "tun" and real.tun_type != "ipip":
        words += ["--tun-type", real.tun_type]
        if real.tun_port:
            words += ["--tun-port", str(real.tun_port)]
        for flag in real.tun_flags:
            words.append("--tun-%s" % flag)
    return " ".join(words)


def render_rules(table):
    """The whole table as ipvsadm restore lines (services in the model's canonical order), newline-terminated."""
    lines = []
    for service in table.services:
        lines.append(service_line(service))
        lines.extend(real_line(service, real) for real in service.reals)
    return "".join(line + "\n" for line in lines)


# A diff shows at most this many changed objects (services and reals); the task's ``operations`` list them all.
DIFF_LIMIT = 200


def _timeouts_line(timeouts):
    return "--set %d %d %d" % (timeouts.tcp or 0, timeouts.tcp_fin or 0, timeouts.udp or 0)


def ipvsadm_diff(current, operations, timeouts=None, limit=DIFF_LIMIT):
    """Ansible's ``diff`` for ``operations`` applied to the Table ``current``: before and after texts holding only
    the objects the operations touch, one ipvsadm line each (``-A``/``-a`` as ``ipvsadm -Sn`` prints them), in
    table order so that a line-by-line diff pairs them; at most ``limit`` objects. ``timeouts`` is a pair
    (before, after) of Timeouts when they change.

    Costs a few lines per operation whatever the table's size, where a diff of the whole table before and after
    costs the controller a diff of megabytes.
    """
    entries = []  # (sort key, before line or None, after line or None)
    for operation in operations:
        service = operation.service
        real = operation.real
        position = service.sort_key()
        action = operation.action
        if action == "add_service":
            entries.append(((position, ()), None, service_line(service)))
        elif action == "edit_service":
            entries.append(((position, ()), service_line(operation.previous), service_line(service)))
        elif action == "delete_service":
            entries.append(((position, ()), service_line(service), None))
            removed = current.get(service.key)
            for gone in (removed.reals if removed is not None else ()):
                entries.append(((position, gone.sort_key()), real_line(service, gone), None))
        elif action == "add_real":
            entries.append(((position, real.sort_key()), None, real_line(service, real)))
        elif action == "edit_real":
            entries.append(((position, real.sort_key()), real_line(service, operation.previous),
                            real_line(service, real)))
        else:
            entries.append(((position, real.sort_key()), real_line(service, real), None))
    entries.sort(key=lambda entry: entry[0])
    hidden = max(0, len(entries) - limit)
    before = [line for _key, line, _after in entries[:limit] if line is not None]
    after = [line for _key, _before, line in entries[:limit] if line is not None]
    if timeouts is not None:
        before.append(_timeouts_line(timeouts[0]))
        after.append(_timeouts_line(timeouts[1]))
    if hidden:
        note = "# ... and %d more changed objects, not shown (the task's operations list every change)" % hidden
        before.append(note)
        after.append(note)
    return dict(
        before="".join(line + "\n" for line in before),
        after="".join(line + "\n" for line in after),
        before_header="IPVS table before (ipvsadm -Sn notation, changed objects only)",
        after_header="IPVS table after (ipvsadm -Sn notation, changed objects only)",
    )
