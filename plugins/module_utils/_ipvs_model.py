# -*- coding: utf-8 -*-
# Copyright (c) 2026, lvs.cluster contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The one description of IPVS virtual services that every layer shares.

Private to the lvs.cluster collection: no stability promise.

User input is parsed and normalised here once (addresses, defaults, scheduler names); the netlink layer,
the planner, the facts and the rendered configuration files all read these objects. Objects are frozen so
that equality means "the kernel would hold the same thing" and sets/dicts of them are safe.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import ipaddress
from dataclasses import dataclass, field, fields, replace
from operator import attrgetter
from functools import lru_cache

FAMILIES = ("ipv4", "ipv6")
PROTOCOLS = ("tcp", "udp", "sctp")
SCHEDULERS = ("rr", "wrr", "lc", "wlc", "lblc", "lblcr", "dh", "sh", "sed", "nq", "fo", "ovf", "mh", "twos")
# Scheduler flags are generic bits (SCHED1/SCHED2) that only sh and mh give a meaning to.
SCHEDULER_FLAGS = {
    "sh-fallback": "sh",
    "sh-port": "sh",
    "mh-fallback": "mh",
    "mh-port": "mh",
}
PERSISTENCE_ENGINES = ("sip",)
# 'local' and 'bypass' are set by the kernel itself; users choose among the first three.
FORWARDING_METHODS = ("dr", "nat", "tun")
KERNEL_FORWARDING_METHODS = FORWARDING_METHODS + ("local", "bypass")
TUNNEL_TYPES = ("ipip", "gue", "gre")
TUNNEL_FLAGS = ("nocsum", "csum", "remcsum")

DEFAULT_SCHEDULER = "wlc"
DEFAULT_FORWARDING = "dr"
DEFAULT_PERSISTENCE_TIMEOUT = 300
MAX_U32 = 0xFFFFFFFF
MAX_WEIGHT = 0x7FFFFFFF
FULL_PREFIX = {"ipv4": 32, "ipv6": 128}


class IpvsError(Exception):
    """Base class of every error this collection raises about IPVS."""


class IpvsValidationError(IpvsError, ValueError):
    """User input that cannot describe a valid IPVS object; names the option and the value."""

    def __init__(self, option, value, reason):
        self.option = option
        self.value = value
        self.reason = reason
        # A missing value is said as such ("port is required"), never as Python's None.
        if value is None:
            message = "%s %s" % (option, reason)
        else:
            message = "%s: %r %s" % (option, value, reason)
        super(IpvsValidationError, self).__init__(message)


# ---------------------------------------------------------------------------------------------------------------
# Objects
# ---------------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ServiceKey:
    """What identifies a virtual service in the kernel: protocol + address + port, or fwmark + family."""

    family: str
    protocol: "str | None" = None
    address: "str | None" = None
    port: "int | None" = None
    fwmark: "int | None" = None

    @property
    def is_fwmark(self):
        return self.fwmark is not None

    def sort_key(self):
        return (self.is_fwmark, self.family, self.protocol or "", _address_sort(self.address), self.port or 0,
                self.fwmark or 0)

    def to_dict(self):
        if self.is_fwmark:
            return {"fwmark": self.fwmark, "family": self.family}
        return {"protocol": self.protocol, "address": self.address, "port": self.port, "family": self.family}

    def __str__(self):
        # ipvsadm's notation, so that messages read like `ipvsadm -Ln`.
        if self.is_fwmark:
            return "FWM %d %s" % (self.fwmark, "IPv6" if self.family == "ipv6" else "IPv4")
        return "%s %s" % (self.protocol.upper(), format_endpoint(self.address, self.port))


@dataclass(frozen=True)
class Stats:
    """Counters and rates as the kernel reports them (read-only; never part of a comparison)."""

    conns: int = 0
    inpkts: int = 0
    outpkts: int = 0
    inbytes: int = 0
    outbytes: int = 0
    cps: int = 0
    inpps: int = 0
    outpps: int = 0
    inbps: int = 0
    outbps: int = 0

    def to_dict(self):
        return dict(self.__dict__)


@dataclass(frozen=True)
class Real:
    """A real server (destination) of a virtual service.

    Only the configurable attributes take part in equality; counters ride along for the facts.
    Tunnel attributes are None unless ``forwarding == 'tun'``.
    """

    address: str
    port: int
    family: str
    forwarding: str = DEFAULT_FORWARDING
    weight: int = 1
    u_threshold: int = 0
    l_threshold: int = 0
    tun_type: "str | None" = None
    tun_port: "int | None" = None
    tun_flags: tuple = ()
    active_conns: "int | None" = field(default=None, compare=False)
    inactive_conns: "int | None" = field(default=None, compare=False)
    persistent_conns: "int | None" = field(default=None, compare=False)
    stats: "Stats | None" = field(default=None, compare=False)

    @property
    def key(self):
        return (self.address, self.port)

    def sort_key(self):
        return (_address_sort(self.address), self.port)

    def to_dict(self, with_counters=False):
        result = {
            "address": self.address,
            "port": self.port,
            "family": self.family,
            "forwarding": self.forwarding,
            "weight": self.weight,
            "u_threshold": self.u_threshold,
            "l_threshold": self.l_threshold,
        }
        if self.forwarding == "tun":
            result.update(tun_type=self.tun_type, tun_port=self.tun_port, tun_flags=list(self.tun_flags))
        if with_counters:
            result.update(active_conns=self.active_conns, inactive_conns=self.inactive_conns,
                          persistent_conns=self.persistent_conns,
                          stats=self.stats.to_dict() if self.stats else None)
        return result

    def __str__(self):
        return format_endpoint(self.address, self.port)


@dataclass(frozen=True)
class Service:
    """A virtual service and its real servers.

    ``persistent`` is the persistence timeout in seconds, or None for a non-persistent service;
    ``persistence_prefix`` is the client-address prefix length that persistence groups by (ipvsadm's
    ``-M netmask``), always the full length when the service is not persistent so that it never causes a diff.
    """

    key: ServiceKey
    scheduler: str = DEFAULT_SCHEDULER
    persistent: "int | None" = None
    persistence_prefix: "int | None" = None
    one_packet: bool = False
    scheduler_flags: tuple = ()
    pe_name: "str | None" = None
    reals: tuple = ()
    stats: "Stats | None" = field(default=None, compare=False)

    def __post_init__(self):
        if self.persistence_prefix is None:
            object.__setattr__(self, "persistence_prefix", FULL_PREFIX[self.key.family])
        # A canonical order makes equality independent of the order reals were given or dumped in.
        object.__setattr__(self, "reals", tuple(sorted(self.reals, key=Real.sort_key)))
        object.__setattr__(self, "scheduler_flags", tuple(sorted(self.scheduler_flags)))

    @property
    def persistence_netmask(self):
        """The persistence netmask as ipvsadm shows it: dotted for IPv4, the prefix length for IPv6."""
        if self.key.family == "ipv4":
            return str(ipaddress.IPv4Network("0.0.0.0/%d" % self.persistence_prefix).netmask)
        return str(self.persistence_prefix)

    def reals_by_key(self):
        return dict((real.key, real) for real in self.reals)

    def attributes_equal(self, other):
        """True when the service's own attributes match, reals aside."""
        return _service_attributes(self) == _service_attributes(other)

    def without_reals(self):
        return replace(self, reals=())

    def with_reals(self, reals):
        return replace(self, reals=tuple(reals))

    def sort_key(self):
        return self.key.sort_key()

    def to_dict(self, with_reals=True, with_counters=False):
        result = self.key.to_dict()
        result.update(
            scheduler=self.scheduler,
            persistent=self.persistent,
            persistence_netmask=self.persistence_netmask if self.persistent is not None else None,
            one_packet=self.one_packet,
            scheduler_flags=list(self.scheduler_flags),
            pe_name=self.pe_name,
        )
        if with_reals:
            result["reals"] = [real.to_dict(with_counters=with_counters) for real in self.reals]
        if with_counters:
            result["stats"] = self.stats.to_dict() if self.stats else None
        return result

    def __str__(self):
        return str(self.key)


@dataclass(frozen=True)
class Timeouts:
    """Connection timeouts (``ipvsadm --set tcp tcpfin udp``), in seconds; 0 means 'leave as is' when set."""

    tcp: int = 0
    tcp_fin: int = 0
    udp: int = 0

    def to_dict(self):
        return {"tcp": self.tcp, "tcp_fin": self.tcp_fin, "udp": self.udp}


@dataclass(frozen=True)
class Daemon:
    """A connection synchronisation daemon (``ipvsadm --start-daemon``)."""

    state: str
    mcast_interface: str
    syncid: int = 0
    sync_maxlen: "int | None" = None
    mcast_group: "str | None" = None
    mcast_port: "int | None" = None
    mcast_ttl: "int | None" = None

    def to_dict(self):
        return dict(self.__dict__)


# The attributes that make two services equal, reals aside (a tuple getter: no copies of the service).
_service_attributes = attrgetter(*[f.name for f in fields(Service) if f.compare and f.name != "reals"])


@dataclass(frozen=True)
class Table:
    """A whole IPVS table: services (with reals) in a canonical order, and optionally timeouts."""

    services: tuple = ()
    timeouts: "Timeouts | None" = None

    def __post_init__(self):
        object.__setattr__(self, "services", tuple(sorted(self.services, key=Service.sort_key)))

    def by_key(self):
        return dict((service.key, service) for service in self.services)

    def get(self, key):
        return self.by_key().get(key)

    def to_dict(self, with_counters=False):
        result = {"services": [service.to_dict(with_counters=with_counters) for service in self.services]}
        if self.timeouts is not None:
            result["timeouts"] = self.timeouts.to_dict()
        return result


# ---------------------------------------------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------------------------------------------


def format_endpoint(address, port):
    if address is not None and ":" in address:
        return "[%s]:%d" % (address, port)
    return "%s:%d" % (address, port)


@lru_cache(maxsize=8192)
def _address_sort(address):
    # Cached: sorting a bulk table parses the same few addresses thousands of times.
    if address is None:
        return (0, 0)
    parsed = ipaddress.ip_address(address)
    return (parsed.version, int(parsed))


def family_of(address):
    return _parsed_address(address)[1]


@lru_cache(maxsize=8192)
def _parsed_address(text):
    """(compressed form, family) of an address text; ValueError if it is none. Cached: a big description names
    the same few real servers thousands of times, and ipaddress parsing dominated reading it."""
    parsed = ipaddress.ip_address(text)
    return str(parsed), "ipv6" if parsed.version == 6 else "ipv4"


# ---------------------------------------------------------------------------------------------------------------
# Parsing user input. ``path`` prefixes option names in errors, e.g. ``services[2].reals[0].port``.
# ---------------------------------------------------------------------------------------------------------------


def _opt(path, name):
    return "%s.%s" % (path, name) if path else name


def address_family(address):
    """``ipv4`` or ``ipv6`` for an address already parsed (``parse_address``)."""
    return _parsed_address(address)[1]


def parse_address(value, option, family=None):
    """Normalise an IP address (compressed form); reject prefixes, names and family mismatches."""
    if value is None:
        raise IpvsValidationError(option, None, "is required")
    if not isinstance(value, str) or not value.strip():
        raise IpvsValidationError(option, value, "is not an IP address")
    text = value.strip()
    if text.startswith("[") and text.endswith("]"):
        text = text[1:-1]
    try:
        normalised, found = _parsed_address(text)
    except ValueError:
        raise IpvsValidationError(option, value, "is not an IPv4 or IPv6 address")
    if family is not None and family != found:
        raise IpvsValidationError(option, value, "is an %s address but family is %s"
                                  % ("IPv6" if found == "ipv6" else "IPv4", family))
    return normalised


def parse_int(value, option, minimum, maximum, what="a number"):
    if isinstance(value, bool):
        raise IpvsValidationError(option, value, "is not %s" % what)
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise IpvsValidationError(option, value, "is not %s" % what)
    if isinstance(value, float) and value != number:
        raise IpvsValidationError(option, value, "is not a whole number")
    if number < minimum or number > maximum:
        raise IpvsValidationError(option, value, "must be between %d and %d" % (minimum, maximum))
    return number


def parse_choice(value, option, choices):
    text = str(value).strip().lower() if value is not None else value
    if text not in choices:
        raise IpvsValidationError(option, value, "is not one of: %s" % ", ".join(choices))
    return text


def parse_persistence_prefix(value, option, family):
    """Accept a prefix length (24, '/24', '64') or, for IPv4, a dotted netmask ('255.255.255.0')."""
    full = FULL_PREFIX[family]
    if value is None:
        return full
    text = str(value).strip().lstrip("/")
    if family == "ipv4" and "." in text:
        try:
            return ipaddress.IPv4Network("0.0.0.0/%s" % text).prefixlen
        except ValueError:
            raise IpvsValidationError(option, value, "is not a contiguous IPv4 netmask")
    return parse_int(text, option, 1, full, "a prefix length")


def parse_service_key(params, path=""):
    """Build a ServiceKey from ``protocol``/``address``/``port`` or ``fwmark``/``family``."""
    family = params.get("family")
    if family is not None:
        family = parse_choice(family, _opt(path, "family"), FAMILIES)
    fwmark = params.get("fwmark")
    address = params.get("address")
    if fwmark is not None:
        if address is not None or params.get("port") is not None:
            raise IpvsValidationError(_opt(path, "fwmark"), fwmark,
                                      "cannot be combined with address/port: a service is keyed by one or the other")
        mark = parse_int(fwmark, _opt(path, "fwmark"), 1, MAX_U32, "a firewall mark")
        return ServiceKey(family=family or "ipv4", fwmark=mark)
    if address is None:
        raise IpvsValidationError(_opt(path, "address"), address, "is required unless fwmark is given")
    address = parse_address(address, _opt(path, "address"), family)
    protocol = parse_choice(params.get("protocol") or "tcp", _opt(path, "protocol"), PROTOCOLS)
    if params.get("port") is None:
        raise IpvsValidationError(_opt(path, "port"), None, "is required with address")
    port = parse_int(params.get("port"), _opt(path, "port"), 0, 65535, "a port")
    return ServiceKey(family=family_of(address), protocol=protocol, address=address, port=port)


def parse_service(params, path="", reals=()):
    """Build a Service (attributes only, plus the given reals) from module-style parameters.

    Recognised keys: the key options (see parse_service_key), ``scheduler``, ``persistent`` (timeout in seconds,
    or True for ipvsadm's default 300 s), ``persistence_netmask``, ``one_packet``, ``scheduler_flags``,
    ``pe_name``.
    """
    key = parse_service_key(params, path)
    scheduler = parse_choice(params.get("scheduler") or DEFAULT_SCHEDULER, _opt(path, "scheduler"), SCHEDULERS)

    persistent = params.get("persistent")
    if persistent is True:
        persistent = DEFAULT_PERSISTENCE_TIMEOUT
    elif persistent is False:
        persistent = None
    if persistent is not None:
        persistent = parse_int(persistent, _opt(path, "persistent"), 1, MAX_U32, "a timeout in seconds")

    netmask = params.get("persistence_netmask")
    if netmask is not None and persistent is None:
        raise IpvsValidationError(_opt(path, "persistence_netmask"), netmask, "needs persistent to be set")
    prefix = parse_persistence_prefix(netmask, _opt(path, "persistence_netmask"), key.family)

    if not key.is_fwmark and key.port == 0 and persistent is None:
        # ipvsadm: "Zero port specified for non-persistent service" — port 0 means "all ports", which only
        # makes sense when the client sticks to one real server.
        raise IpvsValidationError(_opt(path, "port"), 0, "(all ports) needs persistent to be set")

    one_packet = bool(params.get("one_packet"))
    if one_packet and key.protocol in ("tcp", "sctp"):
        raise IpvsValidationError(_opt(path, "one_packet"), True,
                                  "only applies to UDP services, not %s" % key.protocol.upper())

    flags = []
    for flag in params.get("scheduler_flags") or ():
        flag = parse_choice(flag, _opt(path, "scheduler_flags"), tuple(SCHEDULER_FLAGS))
        if SCHEDULER_FLAGS[flag] != scheduler:
            raise IpvsValidationError(_opt(path, "scheduler_flags"), flag,
                                      "only applies to the %s scheduler, not %s" % (SCHEDULER_FLAGS[flag], scheduler))
        if flag not in flags:
            flags.append(flag)

    pe_name = params.get("pe_name")
    if pe_name is not None:
        pe_name = parse_choice(pe_name, _opt(path, "pe_name"), PERSISTENCE_ENGINES)
        if persistent is None:
            raise IpvsValidationError(_opt(path, "pe_name"), pe_name, "needs persistent to be set")

    return Service(key=key, scheduler=scheduler, persistent=persistent, persistence_prefix=prefix,
                   one_packet=one_packet, scheduler_flags=tuple(flags), pe_name=pe_name, reals=tuple(reals))


def parse_real(params, service_key, path="", names=None):
    """Build a Real of the service ``service_key`` from module-style parameters.

    ``names`` maps the model's field names to the caller's option names (ipvs_real calls them
    ``real_address``/``real_port``; ipvs_table's nested reals call them ``address``/``port``).
    """
    names = names or {}

    def opt(name):
        return _opt(path, names.get(name, name))

    if not path and not names:
        opt = str  # the option is the field's own name (ipvs_table's rules); no formatting per field

    address = parse_address(params.get("address"), opt("address"))
    family = family_of(address)
    forwarding = parse_choice(params.get("forwarding") or DEFAULT_FORWARDING, opt("forwarding"), FORWARDING_METHODS)

    if family != service_key.family and forwarding != "tun":
        raise IpvsValidationError(opt("address"), address,
                                  "is %s but the service is %s: mixed families need forwarding tun"
                                  % (family, service_key.family))

    port = params.get("port")
    if port is not None:
        port = parse_int(port, opt("port"), 0, 65535, "a port")
    service_port = 0 if service_key.is_fwmark else service_key.port
    if forwarding == "nat":
        if port is None:
            port = service_port
    else:
        # DR and TUN deliver the packet unchanged: the real server sees the service's own port, so
        # another port would be silently ignored by the kernel. Say so instead.
        if port is not None and port != service_port and not service_key.is_fwmark:
            raise IpvsValidationError(opt("port"), port, "can only differ from the service port (%d) with "
                                      "forwarding nat, not %s" % (service_port, forwarding))
        port = service_port if port is None else port

    weight = parse_int(1 if params.get("weight") is None else params.get("weight"), opt("weight"), 0, MAX_WEIGHT,
                       "a weight")
    upper = parse_int(params.get("u_threshold") or 0, opt("u_threshold"), 0, MAX_U32, "a connection count")
    lower = parse_int(params.get("l_threshold") or 0, opt("l_threshold"), 0, MAX_U32, "a connection count")
    if upper and lower > upper:
        raise IpvsValidationError(opt("l_threshold"), lower, "must not exceed u_threshold (%d)" % upper)

    tun_type, tun_port, tun_flags = _parse_tunnel(params, forwarding, opt)
    return Real(address=address, port=port, family=family, forwarding=forwarding, weight=weight,
                u_threshold=upper, l_threshold=lower, tun_type=tun_type, tun_port=tun_port, tun_flags=tun_flags)


def _parse_tunnel(params, forwarding, opt):
    given = dict((name, params.get(name)) for name in ("tun_type", "tun_port", "tun_flags")
                 if params.get(name) not in (None, [], ()))
    if forwarding != "tun":
        if given:
            name = sorted(given)[0]
            raise IpvsValidationError(opt(name), given[name], "needs forwarding tun, not %s" % forwarding)
        return None, None, ()
    tun_type = parse_choice(given.get("tun_type", "ipip"), opt("tun_type"), TUNNEL_TYPES)
    tun_port = 0
    # Port 0 is how the kernel (and to_dict, and ipvs_info) says "no tunnel port" for ipip and gre: the same as not
    # giving one, so that what the model renders parses back to the same real.
    if tun_type != "gue" and given.get("tun_port") in (0, "0"):
        del given["tun_port"]
    if "tun_port" in given:
        if tun_type != "gue":
            raise IpvsValidationError(opt("tun_port"), given["tun_port"], "only applies to tun_type gue")
        tun_port = parse_int(given["tun_port"], opt("tun_port"), 1, 65535, "a port")
    elif tun_type == "gue":
        raise IpvsValidationError(opt("tun_port"), None, "is required with tun_type gue")
    flags = []
    for flag in given.get("tun_flags", ()):
        flag = parse_choice(flag, opt("tun_flags"), TUNNEL_FLAGS)
        if tun_type == "ipip":
            raise IpvsValidationError(opt("tun_flags"), flag, "only applies to tun_type gue or gre")
        if flag == "remcsum" and tun_type != "gue":
            raise IpvsValidationError(opt("tun_flags"), flag, "only applies to tun_type gue")
        if flag not in flags:
            flags.append(flag)
    if len(flags) > 1:
        raise IpvsValidationError(opt("tun_flags"), flags, "takes one of nocsum, csum, remcsum")
    # 'nocsum' is the kernel's absence of checksum bits: store it as no flag so it compares equal to a dump.
    return tun_type, tun_port, tuple(flag for flag in flags if flag != "nocsum")
