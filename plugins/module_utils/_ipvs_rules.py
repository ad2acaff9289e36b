# -*- coding: utf-8 -*-
# Copyright (c) 2026, lvs.cluster contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Render the service model in ``ipvsadm --save -n`` format, which ``ipvsadm --restore`` reads.

Private to the lvs.cluster collection: no stability promise.

This is how a table survives a reboot with standard tooling: the director role writes this text to the rules
file that the distribution's ipvsadm service restores at boot. It is rendered from the same model objects the
netlink engine applies, so the two can never describe different tables. The modules' ``--diff`` uses the same
notation for the objects a task changes (:func:`ipvsadm_diff`), and ``ipvs_table``'s ``rules`` option reads it
back into the same model (:func:`parse_rules`): a compact input for big tables.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.lvs.cluster.plugins.module_utils._ipvs_model import (
    IpvsValidationError,
    Table,
    format_endpoint,
    parse_real,
    parse_service,
    parse_service_key,
)

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


# ---------------------------------------------------------------------------------------------------------------
# Reading the notation back: ipvsadm restore lines (what ``ipvsadm -Sn`` prints) into the model
# ---------------------------------------------------------------------------------------------------------------

_ADD_SERVICE = ("-A", "--add-service")
_ADD_SERVER = ("-a", "--add-server")
_SELECTORS = {"-t": "tcp", "--tcp-service": "tcp", "-u": "udp", "--udp-service": "udp", "--sctp-service": "sctp",
              "-f": "fwmark", "--fwmark-service": "fwmark"}
# Options with a value: ipvsadm spelling -> the model's parameter name.
_SERVICE_VALUES = {"-s": "scheduler", "--scheduler": "scheduler", "-M": "persistence_netmask",
                   "--netmask": "persistence_netmask", "--pe": "pe_name", "-b": "scheduler_flags",
                   "--sched-flags": "scheduler_flags"}
_REAL_VALUES = {"-r": "real", "--real-server": "real", "-w": "weight", "--weight": "weight", "-x": "u_threshold",
                "--u-threshold": "u_threshold", "-y": "l_threshold", "--l-threshold": "l_threshold",
                "--tun-type": "tun_type", "--tun-port": "tun_port"}
_FORWARDING = {"-g": "dr", "--gatewaying": "dr", "-m": "nat", "--masquerading": "nat", "-i": "tun", "--ipip": "tun"}
_TUNNEL_FLAGS = {"--tun-nocsum": "nocsum", "--tun-csum": "csum", "--tun-remcsum": "remcsum"}


def _endpoint(text):
    """``192.0.2.1:80`` / ``[2001:db8::1]:80`` / an address alone -> (address, port text or None)."""
    if text.startswith("["):
        address, _bracket, rest = text[1:].partition("]")
        return address, (rest[1:] if rest.startswith(":") else None) if rest else None
    if text.count(":") == 1:
        address, _colon, port = text.partition(":")
        return address, port
    return text, None


def _rule_words(words, option):
    """(command, selector params, other params) of one line's words; IpvsValidationError naming ``option``."""
    command = words[0]
    params = {}
    selector = {}
    index = 1
    while index < len(words):
        word = words[index]
        following = words[index + 1] if index + 1 < len(words) else None
        has_value = following is not None and not following.startswith("-")
        if word in _SELECTORS:
            if not has_value:
                raise IpvsValidationError(option, word, "needs a service address (or a mark for -f)")
            kind = _SELECTORS[word]
            if kind == "fwmark":
                selector["fwmark"] = following
            else:
                address, port = _endpoint(following)
                selector.update(protocol=kind, address=address, port=port if port is not None else 0)
            index += 2
        elif word in ("-6", "--ipv6"):
            selector["family"] = "ipv6"
            index += 1
        elif command in _ADD_SERVICE and word in ("-p", "--persistent"):
            params["persistent"] = following if has_value else True  # ipvsadm's default timeout without one
            index += 2 if has_value else 1
        elif command in _ADD_SERVICE and word in ("-o", "--ops"):
            params["one_packet"] = True
            index += 1
        elif command in _ADD_SERVER and word in _FORWARDING:
            params["forwarding"] = _FORWARDING[word]
            index += 1
        elif command in _ADD_SERVER and word in _TUNNEL_FLAGS:
            params.setdefault("tun_flags", []).append(_TUNNEL_FLAGS[word])
            index += 1
        elif word in (_SERVICE_VALUES if command in _ADD_SERVICE else _REAL_VALUES):
            name = (_SERVICE_VALUES if command in _ADD_SERVICE else _REAL_VALUES)[word]
            if following is None:
                raise IpvsValidationError(option, word, "needs a value")
            params[name] = following.split(",") if name == "scheduler_flags" else following
            index += 2
        else:
            raise IpvsValidationError(option, word, "is not an option of an ipvsadm %s line that this module reads"
                                      % ("-A" if command in _ADD_SERVICE else "-a"))
    if not selector:
        raise IpvsValidationError(option, " ".join(words), "names no service (-t, -u, --sctp-service or -f)")
    return command, selector, params


def parse_rules(text, option="rules"):
    """The Table that ipvsadm restore lines describe (``-A`` services and their ``-a`` real servers, as
    ``ipvsadm -Sn`` prints them; blank lines and ``#`` comments are skipped). Each service's ``-a`` lines are its
    complete list of real servers. Errors name the line (``rules line 3``) and its text."""
    if not isinstance(text, str):
        raise IpvsValidationError(option, text, "is not a text of ipvsadm lines")
    services = {}  # key -> [service, its reals, line number]
    order = []
    keys_of_selectors = {}
    for number, line in enumerate(text.splitlines(), 1):
        words = line.split()
        if not words or words[0].startswith("#"):
            continue
        where = "%s line %d" % (option, number)
        if words[0] not in _ADD_SERVICE + _ADD_SERVER:
            raise IpvsValidationError(where, line.strip(), "is not an -A (add service) or -a (add server) line: "
                                      "only those describe a table")
        try:
            command, selector, params = _rule_words(words, where)
            if command in _ADD_SERVICE:
                service = parse_service(dict(params, **selector))
                if service.key in services:
                    raise IpvsValidationError(where, line.strip(), "describes %s again (line %d): a service is "
                                              "described once" % (service.key, services[service.key][2]))
                services[service.key] = [service, {}, number]
                order.append(service.key)
                continue
            selector_words = tuple(sorted(selector.items()))
            key = keys_of_selectors.get(selector_words)
            if key is None:  # parsed once per service, not once per real server line
                key = keys_of_selectors[selector_words] = parse_service_key(selector)
            if key not in services:
                raise IpvsValidationError(where, line.strip(), "adds a real server to %s, which no -A line before "
                                          "it describes" % (key,))
            endpoint = params.pop("real", None)
            if endpoint is None:
                raise IpvsValidationError(where, line.strip(), "names no real server (-r)")
            address, port = _endpoint(endpoint)
            real = parse_real(dict(params, address=address, port=port), key)
            reals = services[key][1]
            if real.key in reals:
                raise IpvsValidationError(where, line.strip(), "lists real server %s of %s again (line %d)"
                                          % (real, key, reals[real.key][1]))
            reals[real.key] = (real, number)
        except IpvsValidationError as err:
            if err.option == where:
                raise
            raise IpvsValidationError(where, line.strip(), "- %s" % err)
    return Table(services=tuple(services[key][0].with_reals(real for real, _number in services[key][1].values())
                                for key in order))
