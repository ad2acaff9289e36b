# -*- coding: utf-8 -*-
# Copyright (c) 2026, lvs.cluster contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Health checks and sorry servers of the cluster description, and what each engine can express.

Private to the lvs.cluster collection: no stability promise.

A virtual service of ``lvs_virtual_services`` may have ``health_check`` (a dict, below) and ``sorry_server``
(``ADDRESS`` or ``ADDRESS:PORT``); a real server may override any key of the service's ``health_check``. The
engines (keepalived, ldirectord) render their configuration from the parsed result; an option an engine cannot
express is refused here, before anything changes, naming the option and the engine.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from dataclasses import dataclass, replace

from ansible_collections.lvs.cluster.plugins.module_utils._ipvs_model import (
    IpvsValidationError,
    parse_address,
    parse_choice,
    parse_int,
)

CHECK_TYPES = ("http", "https", "tcp", "dns", "exec", "none")
ON_FAILURE = ("quiescent", "remove")
ENGINES = ("netlink", "keepalived", "ldirectord")
DNS_TYPES = ("A", "AAAA", "NS", "MX", "SOA", "TXT", "CNAME", "PTR")


@dataclass(frozen=True)
class HealthCheck:
    """How an engine decides that a real server is up. ``port`` None means the real server's own port."""

    type: str = "none"
    path: str = "/"
    status: int = 200
    body: "str | None" = None
    virtualhost: "str | None" = None
    port: "int | None" = None
    interval: int = 5
    timeout: int = 3
    retries: int = 3
    on_failure: str = "quiescent"
    dns_name: "str | None" = None
    dns_type: str = "A"
    command: "str | None" = None
    dynamic_weight: bool = False


_KEYS = tuple(HealthCheck.__dataclass_fields__)


def _bool(value, option):
    if value not in (True, False):
        raise IpvsValidationError(option, value, "must be true or false")
    return value


def _text(value, option):
    if not isinstance(value, str) or not value or "\n" in value or '"' in value:
        raise IpvsValidationError(option, value, "must be a non-empty string on one line without double quotes")
    return value


def parse_health_check(value, path, base=None):
    """``value`` (a dict; None: not set) over ``base`` (the service's check, for a real server's override)."""
    base = base or HealthCheck()
    if value is None:
        return base
    if not isinstance(value, dict):
        raise IpvsValidationError(path, value, "must be a dictionary")
    unknown = sorted(set(value) - set(_KEYS))
    if unknown:
        raise IpvsValidationError("%s.%s" % (path, unknown[0]), value[unknown[0]], "is not a health_check option "
                                  "(known: %s)" % ", ".join(_KEYS))
    given = dict((key, item) for key, item in value.items() if item is not None)

    def opt(name):
        return "%s.%s" % (path, name)

    checks = {
        "type": lambda v: parse_choice(v, opt("type"), CHECK_TYPES),
        "path": lambda v: _path_value(v, opt("path")),
        "status": lambda v: parse_int(v, opt("status"), 100, 599, "an HTTP status"),
        "body": lambda v: _text(v, opt("body")),
        "virtualhost": lambda v: _text(v, opt("virtualhost")),
        "port": lambda v: parse_int(v, opt("port"), 1, 65535, "a port"),
        "interval": lambda v: parse_int(v, opt("interval"), 1, 86400, "a number of seconds"),
        "timeout": lambda v: parse_int(v, opt("timeout"), 1, 3600, "a number of seconds"),
        "retries": lambda v: parse_int(v, opt("retries"), 1, 100, "a number of checks"),
        "on_failure": lambda v: parse_choice(v, opt("on_failure"), ON_FAILURE),
        "dns_name": lambda v: _text(v, opt("dns_name")),
        "dns_type": lambda v: parse_choice(v, opt("dns_type"), DNS_TYPES),
        "command": lambda v: _text(v, opt("command")),
        "dynamic_weight": lambda v: _bool(v, opt("dynamic_weight")),
    }
    check = replace(base, **dict((key, checks[key](item)) for key, item in given.items()))
    if check.type == "dns" and not check.dns_name:
        raise IpvsValidationError(opt("dns_name"), check.dns_name, "is required with type dns")
    if check.type == "exec" and not check.command:
        raise IpvsValidationError(opt("command"), check.command, "is required with type exec")
    if check.dynamic_weight and check.type != "exec":
        raise IpvsValidationError(opt("dynamic_weight"), True, "only applies to type exec, not %s" % check.type)
    return check


def _path_value(value, option):
    value = _text(value, option)
    if not value.startswith("/"):
        raise IpvsValidationError(option, value, "must start with /")
    return value


def parse_sorry_server(value, path, family):
    """``ADDRESS``, ``ADDRESS:PORT`` or ``[IPV6]:PORT`` -> (address, port or None)."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise IpvsValidationError(path, value, "must be ADDRESS or ADDRESS:PORT")
    text, port = value, None
    if text.startswith("["):
        address, _sep, rest = text[1:].partition("]")
        if rest:
            if not rest.startswith(":"):
                raise IpvsValidationError(path, value, "must be ADDRESS, ADDRESS:PORT or [IPV6]:PORT")
            port = rest[1:]
        text = address
    elif text.count(":") == 1:
        text, port = text.split(":")
    address = parse_address(text, path, family)
    if port is not None:
        port = parse_int(port, path, 1, 65535, "a port")
    return address, port


def check_engine(engine, option_path, service_check, real_checks, sorry_server):
    """Refuse what ``engine`` cannot express for one virtual service; ``real_checks`` maps a real's path to its
    check (only those that differ from the service's)."""
    engine = parse_choice(engine, "director_engine", ENGINES)
    if engine == "netlink":
        if service_check.type != "none" or real_checks:
            raise IpvsValidationError(option_path + ".health_check", service_check.type,
                                      "needs director_engine keepalived or ldirectord: the netlink engine programs "
                                      "the table once and checks nothing")
        if sorry_server:
            raise IpvsValidationError(option_path + ".sorry_server", "%s" % (sorry_server,),
                                      "needs director_engine keepalived or ldirectord")
        return
    checks = [(option_path + ".health_check", service_check)] + sorted(real_checks.items())
    for path, check in checks:
        if engine == "keepalived" and check.body is not None:
            raise IpvsValidationError(path + ".body", check.body,
                                      "cannot be expressed by keepalived (its HTTP_GET checks the status or a "
                                      "digest of the whole page); use director_engine ldirectord or leave body out")
        if engine == "ldirectord":
            if check.type == "exec" and check.dynamic_weight:
                raise IpvsValidationError(path + ".dynamic_weight", True,
                                          "cannot be expressed by ldirectord (its external checks only say up or "
                                          "down); use director_engine keepalived")
            if check.type in ("http", "https") and check.status != 200:
                raise IpvsValidationError(path + ".status", check.status,
                                          "cannot be expressed by ldirectord (it accepts any 2xx answer); use "
                                          "director_engine keepalived or status 200")
    if engine == "ldirectord" and real_checks:
        path = sorted(real_checks)[0]
        raise IpvsValidationError(path + ".health_check", "(a per-real override)",
                                  "cannot be expressed by ldirectord (one check per virtual service); use "
                                  "director_engine keepalived or the same check for every real server")
