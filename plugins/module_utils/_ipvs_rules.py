# -*- coding: utf-8 -*-
# Copyright (c) 2026, lvs.cluster contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Render the service model in ``ipvsadm --save -n`` format, which ``ipvsadm --restore`` reads.

Private to the lvs.cluster collection: no stability promise.

This is how a table survives a reboot with standard tooling: the director role writes this text to the rules
file that the distribution's ipvsadm service restores at boot. It is rendered from the same model objects the
netlink engine applies, so the two can never describe different tables.
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
