# -*- coding: utf-8 -*-
# Copyright (c) 2026, lvs.cluster contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Scale-out: a director's BIRD 2 configuration and the keepalived quorum hooks that drive it.

Private to the lvs.cluster collection: no stability promise.

Several active directors sit behind a router that spreads flows over them by ECMP. Each director announces the
VIPs (/32, /128) by BGP while it can serve them. "Can serve" is decided by keepalived, per virtual server, with
its ``quorum``: while a virtual server has enough healthy real-server weight, its ``quorum_up`` command puts a
blackhole route for the VIP into a kernel table of its own (``table 100`` by default; no ``ip rule`` points at
it, so forwarding never sees it); ``quorum_down`` deletes it. BIRD learns that table and announces exactly what
is in it. The state therefore lives in the kernel, not in BIRD: ``birdc configure`` (every Ansible run) and
BIRD restarts cannot re-announce a VIP that keepalived withdrew, and the BIRD configuration never changes at run
time (``birdc disable`` would be undone by the next ``configure``).

Nothing here does I/O; the role writes the text (checked first by ``bird -p -c`` and
``keepalived --config-test``) and reloads the daemons.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import ipaddress
import math
import re
from dataclasses import dataclass
from fractions import Fraction

from ansible_collections.lvs.cluster.plugins.module_utils._ipvs_model import (
    FULL_PREFIX,
    IpvsValidationError,
    address_family,
    parse_address,
    parse_int,
)

DEFAULT_KERNEL_TABLE = 100
# Routing table ids the kernel reserves (unspec, default, main, local): a VIP table there would be forwarded on.
_RESERVED_TABLES = (0, 253, 254, 255)
MAX_ASN = 0xFFFFFFFF
# /bin/ip is what Debian's iproute2 installs (/sbin/ip and /usr/sbin/ip are links to it); keepalived's script
# security checks the real path, which must be root's all the way up.
IP_COMMAND = "/bin/ip"
# The hook for a VIP with several virtual servers (see quorum_settings); a root-owned directory.
VIP_ROUTE_HOOK = "/usr/libexec/lvs-cluster-vip-route"
# Where the hook keeps which virtual servers of a VIP have quorum; emptied whenever keepalived starts or stops.
VIP_ROUTE_STATE = "/run/lvs-cluster/vip-route"
# A session's name, rendered as the BIRD symbol lvs_NAME (letters, digits, underscores; BIRD allows 64 characters).
_NAME_RE = re.compile(r"^[A-Za-z0-9_]{1,40}$")
_NEIGHBOR_KEYS = ("address", "as", "name", "source", "password", "hold_time", "keepalive_time", "error_wait")


@dataclass(frozen=True)
class Neighbor:
    """One BGP session. One session per address family: IPv4 VIPs go over IPv4 sessions and IPv6 VIPs over IPv6
    ones, so no extended next hops or IPv4-mapped IPv6 next hops are involved."""

    name: str
    address: str
    family: str
    asn: int
    source: "str | None" = None
    password: "str | None" = None
    hold_time: "int | None" = None  # None: BIRD's default (240 s)
    keepalive_time: "int | None" = None  # None: a third of the hold time
    error_wait: "tuple | None" = None  # (min, max) seconds; None: BIRD's default (60, 300)


@dataclass(frozen=True)
class Bgp:
    """A director's BGP speaker, checked by ``parse_bgp``."""

    router_id: str
    asn: int
    neighbors: tuple
    vips: tuple  # (address, family), sorted
    kernel_table: int = DEFAULT_KERNEL_TABLE

    def vips_of(self, family):
        return [address for address, vip_family in self.vips if vip_family == family]


def _asn(value, option):
    # 0 is reserved; AS_TRANS (23456) is only a stand-in for a 4-byte AS on 2-byte speakers.
    number = parse_int(value, option, 1, MAX_ASN, "an AS number (1-4294967295)")
    if number == 23456:
        raise IpvsValidationError(option, value, "is AS_TRANS, reserved for 2-byte speakers; use your real AS")
    return number


def parse_kernel_table(value, option="director_bgp_kernel_table"):
    table = parse_int(DEFAULT_KERNEL_TABLE if value is None else value, option, 1, MAX_ASN, "a routing table id")
    if table in _RESERVED_TABLES:
        raise IpvsValidationError(option, value, "is a table the kernel routes with (253 default, 254 main, "
                                  "255 local); the VIP routes need a table no rule looks up, e.g. 100")
    return table


def _password(value, option):
    # BIRD quotes it; the kernel's TCP MD5 keys are at most 80 bytes. Never echo the value in an error.
    if (not isinstance(value, str) or not 0 < len(value) <= 80 or '"' in value or "\\" in value
            or not all(" " <= char <= "~" for char in value)):
        raise IpvsValidationError(option, "(hidden)", "must be 1 to 80 printable ASCII characters without \" "
                                  "or \\ (a TCP MD5 key)")
    return value


def _parse_neighbor(params, index, prefix, local_asn):
    path = "%sneighbors[%d]" % (prefix, index)

    def opt(name):
        return "%s.%s" % (path, name)

    if not isinstance(params, dict):
        raise IpvsValidationError(path, params, "must be a dictionary")
    unknown = sorted(set(params) - set(_NEIGHBOR_KEYS))
    if unknown:
        raise IpvsValidationError(opt(unknown[0]), params[unknown[0]], "is not a neighbor option (known: %s)"
                                  % ", ".join(_NEIGHBOR_KEYS))
    address = parse_address(params.get("address"), opt("address"))
    family = address_family(address)
    asn = _asn(params.get("as"), opt("as"))
    if asn == local_asn:
        # The route the director announces has no gateway (a blackhole); iBGP would need next hop handling and
        # a route reflector design that the lab does not prove. eBGP is what the router's multipath expects.
        raise IpvsValidationError(opt("as"), params.get("as"), "is the director's own AS (iBGP); use eBGP: a "
                                  "private AS for the directors, another for the router")
    name = params.get("name") or "peer%d" % (index + 1)
    if not isinstance(name, str) or not _NAME_RE.match(name):
        raise IpvsValidationError(opt("name"), name, "must be 1 to 40 letters, digits or underscores (BIRD "
                                  "calls the session lvs_NAME)")
    source = params.get("source")
    if source is not None:
        source = parse_address(source, opt("source"), family)
    password = params.get("password")
    if password is not None:
        password = _password(password, opt("password"))
    hold = params.get("hold_time")
    if hold is not None:
        hold = parse_int(hold, opt("hold_time"), 3, 65535, "a hold time in seconds (3-65535)")
    keepalive = params.get("keepalive_time")
    if keepalive is not None:
        keepalive = parse_int(keepalive, opt("keepalive_time"), 1, 65535, "a keepalive time in seconds")
        # BIRD refuses it ("Keepalive time must be at most hold time"); said here with the option's name.
        if keepalive > (hold if hold is not None else 240):
            raise IpvsValidationError(opt("keepalive_time"), keepalive, "must be at most hold_time (%d)"
                                      % (hold if hold is not None else 240))
    error_wait = params.get("error_wait")
    if error_wait is not None:
        if not isinstance(error_wait, (list, tuple)) or len(error_wait) != 2:
            raise IpvsValidationError(opt("error_wait"), error_wait, "must be [MIN, MAX] seconds")
        low, high = (parse_int(item, opt("error_wait"), 1, 86400, "a number of seconds") for item in error_wait)
        if low > high:
            raise IpvsValidationError(opt("error_wait"), error_wait, "must have MIN <= MAX")
        error_wait = (low, high)
    return Neighbor(name=name, address=address, family=family, asn=asn, source=source, password=password,
                    hold_time=hold, keepalive_time=keepalive, error_wait=error_wait)


def parse_bgp(params, vips, prefix="director_bgp_"):
    """``params``: ``router_id``, ``as``, ``neighbors`` (a list of dicts: ``address``, ``as``, and optionally
    ``name``, ``source``, ``password``, ``hold_time``, ``keepalive_time``, ``error_wait``), ``kernel_table``;
    the role's ``director_bgp_*`` options, so errors name them with ``prefix``.
    ``vips``: the description's VIPs (addresses; ``director_config``'s ``vips`` entries are accepted too)."""
    router_id = params.get("router_id")
    router_id = parse_address(router_id, prefix + "router_id", "ipv4") if router_id is not None else None
    if router_id is None:
        raise IpvsValidationError(prefix + "router_id", None, "is required (an IPv4 address of the director, "
                                  "unique among the router's peers)")
    asn = _asn(params.get("as"), prefix + "as")
    table = parse_kernel_table(params.get("kernel_table"), prefix + "kernel_table")
    entries = params.get("neighbors")
    if not isinstance(entries, (list, tuple)) or not entries:
        raise IpvsValidationError(prefix + "neighbors", entries, "must be a non-empty list of {address, as}")
    neighbors = []
    for index, entry in enumerate(entries):
        neighbor = _parse_neighbor(entry, index, prefix, asn)
        for other in neighbors:
            if neighbor.address == other.address:
                raise IpvsValidationError("%sneighbors[%d].address" % (prefix, index), neighbor.address,
                                          "is already a neighbor")
            if neighbor.name == other.name:
                raise IpvsValidationError("%sneighbors[%d].name" % (prefix, index), neighbor.name,
                                          "is already the name of another neighbor")
        neighbors.append(neighbor)
    checked = set()
    for vip in vips:
        address = vip["address"] if isinstance(vip, dict) else vip
        address = parse_address(address, "lvs_virtual_services (vip)")
        checked.add((address, address_family(address)))
    families = set(neighbor.family for neighbor in neighbors)
    for address, family in sorted(checked):
        if family not in families:
            raise IpvsValidationError(prefix + "neighbors", [n.address for n in neighbors],
                                      "has no %s neighbor to announce the VIP %s to"
                                      % ("IPv6" if family == "ipv6" else "IPv4", address))
    vips = tuple(sorted(checked, key=lambda item: (item[1], _sort_key(item[0]))))
    return Bgp(router_id=router_id, asn=asn, neighbors=tuple(neighbors), vips=vips, kernel_table=table)


def _sort_key(address):
    return int(ipaddress.ip_address(address))


def _prefix_set(addresses, family):
    return "[ %s ]" % ", ".join("%s/%d" % (address, FULL_PREFIX[family]) for address in addresses)


_TABLES = {"ipv4": "lvs_vip4", "ipv6": "lvs_vip6"}


def render_bird(bgp):
    """The whole bird.conf of a director (BIRD 2.0).

    Per family with VIPs: a BIRD table that only holds VIP routes, a kernel protocol that ``learn``s the kernel
    table's routes into it (``learn`` takes routes other daemons or ``ip route`` added; keepalived's hooks add
    them with ``proto static``) and exports nothing to the kernel, and the BGP sessions of that family, which
    import nothing and export the described VIPs only. Filters are written out for eBGP (RFC 8212: BIRD sends
    nothing without them). ``next hop self`` because the learned route is a blackhole with no gateway to pass on.
    Graceful restart stays at BIRD's default (aware, not on): after a crash the router must drop the director's
    routes at once, not keep them for the restart time and black-hole its share of flows.
    """
    lines = ["router id %s;" % bgp.router_id, ""]
    families = [family for family in ("ipv4", "ipv6") if bgp.vips_of(family)]
    lines.append("# VIP routes only: learned from kernel table %d, where keepalived's quorum hooks keep a blackhole"
                 % bgp.kernel_table)
    lines.append("# route per VIP while this director can serve it.")
    for family in families:
        lines.append("%s table %s;" % (family, _TABLES[family]))
    lines += ["", "protocol device {", "}"]
    for family in families:
        vips = _prefix_set(bgp.vips_of(family), family)
        lines += ["", "protocol kernel lvs_kernel%s {" % family[-1],
                  "    kernel table %d;" % bgp.kernel_table,
                  "    learn;",
                  "    %s {" % family,
                  "        table %s;" % _TABLES[family],
                  "        import where net ~ %s;" % vips,
                  "        export none;",
                  "    };",
                  "}"]
    for neighbor in bgp.neighbors:
        if neighbor.family not in families:
            continue  # no VIP of its family: nothing to announce (parse_bgp refuses the reverse)
        local = "local %s as %d;" % (neighbor.source, bgp.asn) if neighbor.source else "local as %d;" % bgp.asn
        body = ["    " + local, "    neighbor %s as %d;" % (neighbor.address, neighbor.asn)]
        if neighbor.hold_time is not None:
            body.append("    hold time %d;" % neighbor.hold_time)
        if neighbor.keepalive_time is not None:
            body.append("    keepalive time %d;" % neighbor.keepalive_time)
        if neighbor.error_wait is not None:
            body.append("    error wait time %d, %d;" % neighbor.error_wait)
        if neighbor.password is not None:
            body.append('    password "%s";' % neighbor.password)
        body += ["    %s {" % neighbor.family,
                 "        table %s;" % _TABLES[neighbor.family],
                 "        next hop self;",
                 "        import none;",
                 "        export where net ~ %s;" % _prefix_set(bgp.vips_of(neighbor.family), neighbor.family),
                 "    };"]
        lines += ["", "protocol bgp lvs_%s {" % neighbor.name] + body + ["}"]
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------------------------------------------------------
# keepalived's side: quorum per virtual server, and the commands that add and delete the VIP's route.
# ---------------------------------------------------------------------------------------------------------------


def parse_fraction(value, option):
    """A fraction of the healthy weight, 0 to 1 (``0.5``, ``"0.75"``, ``1``), kept exact: 0.3 of 10 is 3, not the
    4 that ``ceil(0.3 * 10)`` gives in floating point."""
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise IpvsValidationError(option, value, "is not a fraction between 0 and 1")
    try:
        fraction = Fraction(str(value).strip())
    except (ValueError, ZeroDivisionError):
        raise IpvsValidationError(option, value, "is not a fraction between 0 and 1")
    if not 0 <= fraction <= 1:
        raise IpvsValidationError(option, value, "must be between 0 and 1")
    return fraction


def quorum_of(weights, low, high=None, prefix="director_bgp_"):
    """keepalived's ``(quorum, hysteresis)`` for a virtual server whose real servers have ``weights``, so that the
    director withdraws the VIP when the healthy weight falls below ``low`` of the total and announces it again
    once it reaches ``high`` (Seesaw's low and high watermarks; ``high`` None: the same as ``low``).

    keepalived (check/ipwrapper.c ``update_quorum_state``) gains quorum when the live weight is at least
    ``quorum + hysteresis`` and loses it when the live weight is below ``quorum - hysteresis`` or 0. So with
    ``a = ceil(low * total)`` and ``b = ceil(high * total)``: ``hysteresis = (b - a) // 2`` and
    ``quorum = b - hysteresis``. Announcing starts exactly at ``b``; when ``b - a`` is odd, withdrawing starts one
    weight unit early (at ``a + 1``), the safe side. keepalived refuses quorum 0, so at least 1: a virtual server
    whose reals all have weight 0 (drained) never has quorum.
    The weights are the described ones (after drains); keepalived counts each live real's current weight, which
    an exec check's dynamic weight can change.
    """
    low = parse_fraction(low, prefix + "low_watermark")
    high = low if high is None else parse_fraction(high, prefix + "high_watermark")
    if high < low:
        raise IpvsValidationError(prefix + "high_watermark", float(high), "must not be below low_watermark (%s)"
                                  % float(low))
    total = sum(weights)
    withdraw = max(1, math.ceil(low * total))
    announce = max(1, math.ceil(high * total))
    hysteresis = (announce - withdraw) // 2
    return announce - hysteresis, hysteresis


def route_commands(address, table=DEFAULT_KERNEL_TABLE):
    """The two commands that announce and withdraw one VIP: add (or keep) and delete its blackhole route in the
    kernel table BIRD learns. ``replace`` is idempotent; ``del`` of a missing route only fails (keepalived logs
    the exit status), so both are safe to repeat."""
    family = address_family(parse_address(address, "vip"))
    route = "blackhole %s/%d table %d proto static" % (address, FULL_PREFIX[family], table)
    flag = "-6" if family == "ipv6" else "-4"
    return ("%s %s route replace %s" % (IP_COMMAND, flag, route), "%s %s route del %s" % (IP_COMMAND, flag, route))


def _vs_id(key):
    """A virtual server's name in the hook's arguments and state files: tcp-80, udp-53, fwm-5."""
    return "fwm-%d" % key.fwmark if key.is_fwmark else "%s-%d" % (key.protocol, key.port)


def quorum_settings(services, low, high=None, table=DEFAULT_KERNEL_TABLE, hook=VIP_ROUTE_HOOK,
                    prefix="director_bgp_"):
    """The lines each keepalived ``virtual_server`` gets in ECMP mode, as ``{ServiceKey: [line, ...]}`` (indented
    for the virtual server's body). ``services``: (VIP address, _ipvs_model.Service) pairs - the cluster's
    ``(item.vip, item.service)``, drained reals at weight 0.

    - ``alpha``: every real counts as down until its first check passes, so a starting director announces nothing
      before it knows it can serve (the quorum starts down without calling ``quorum_down``);
    - ``omega``: at shutdown keepalived runs ``quorum_down``, withdrawing before it deletes its services;
    - ``quorum``/``hysteresis`` from ``quorum_of``;
    - ``quorum_up``/``quorum_down``: for a VIP with one virtual server, the ``route_commands`` themselves; for a
      VIP with several (tcp/80 and tcp/443), the hook, which announces the VIP only while *all* of them have
      quorum: withdrawing the VIP moves all its ports to other directors, and a port with no healthy real here
      would drop the flows ECMP sends to it. Its arguments: up|down, VIP, table, this server, all of the VIP's.
    They run as root (``ip route`` needs CAP_NET_ADMIN; ``script_user root`` in global_defs says so too).
    """
    table = parse_kernel_table(table, prefix + "kernel_table")
    by_vip = {}
    for vip, service in services:
        by_vip.setdefault(vip, []).append(service)
    result = {}
    for vip, vip_services in by_vip.items():
        ids = sorted(_vs_id(service.key) for service in vip_services)
        for service in vip_services:
            quorum, hysteresis = quorum_of([real.weight for real in service.reals], low, high, prefix)
            if len(vip_services) == 1:
                up, down = route_commands(vip, table)
            else:
                words = "%s %d %s %s" % (vip, table, _vs_id(service.key), ",".join(ids))
                up, down = "%s up %s" % (hook, words), "%s down %s" % (hook, words)
            result[service.key] = ["    alpha", "    omega", "    quorum %d" % quorum,
                                   "    hysteresis %d" % hysteresis,
                                   '    quorum_up "%s" root' % up, '    quorum_down "%s" root' % down]
    return result


def render_keepalived_dropin(table=DEFAULT_KERNEL_TABLE, after=()):
    """A systemd drop-in for keepalived.service: whatever way keepalived ends (stop, crash, kill), the VIP routes
    go with it and the router stops sending flows here; on stop they go first, and BGP has a moment to carry the
    withdrawal before keepalived deletes the IPVS services of flows still arriving. The hook's state goes too, so
    a restarted keepalived starts from "nothing announced", as ``alpha`` assumes. ``after``: units keepalived
    starts after at boot (the one that puts the VIPs on lo and sets the sysctls: announcing before would attract
    flows this director cannot take yet)."""
    clear = ["%s -4 route flush table %d" % (IP_COMMAND, table), "%s -6 route flush table %d" % (IP_COMMAND, table),
             "/bin/rm -rf %s" % VIP_ROUTE_STATE]
    lines = []
    if after:
        lines += ["[Unit]"] + ["After=%s" % unit for unit in after] + ["Wants=%s" % unit for unit in after] + [""]
    lines += ["[Service]"]
    lines += ["ExecStartPre=-%s" % command for command in clear]
    lines += ["ExecStop=-%s" % command for command in clear[:2]] + ["ExecStop=/bin/sleep 2"]
    lines += ["ExecStopPost=-%s" % command for command in clear]
    return "\n".join(lines) + "\n"


def check_ecmp(cluster):
    """Refuse what breaks flows when several directors share the VIPs (``cluster``: ``_lvs_cluster``'s parsed
    services). Every director must pick the same real server for a flow that ECMP moves to it, so:

    - scheduler ``mh`` with ``mh-fallback``: Maglev's table depends only on the reals, their order and weights,
      the same everywhere; a down real (weight kept, ``inhibit_on_failure``) is skipped by the fallback the same
      way on every director;
    - health checks that quiesce (``on_failure: quiescent``): a deleted and re-added real moves in the kernel's
      list on that director only, and the tables differ;
    - forwarding ``dr`` or ``tun``: NAT answers must come back through the director holding the connection,
      which ECMP does not guarantee;
    - no persistence, thresholds or sorry server: per-director state (templates, connection counts) and a
      quorum loss that would swap the pool for the sorry server.
    """
    for index, item in enumerate(cluster):
        path = "lvs_virtual_services[%d]" % index
        service = item.service
        if service.scheduler != "mh":
            raise IpvsValidationError(path + ".scheduler", service.scheduler, "must be mh (with scheduler_flags "
                                      "[mh-fallback]) when directors share the VIPs by ECMP")
        if "mh-fallback" not in service.scheduler_flags:
            raise IpvsValidationError(path + ".scheduler_flags", list(service.scheduler_flags), "must include "
                                      "mh-fallback when directors share the VIPs by ECMP (a failed real server is "
                                      "skipped the same way on every director)")
        if service.persistent is not None:
            raise IpvsValidationError(path + ".persistent", service.persistent, "is per-director state; with mh "
                                      "every director already sends a client to the same real server")
        if item.sorry_server:
            address, port = item.sorry_server
            raise IpvsValidationError(path + ".sorry_server", address if port is None else "%s:%d" % (address, port),
                                      "cannot be used with ECMP: the director withdraws the VIP instead")
        if item.health.type == "none":
            raise IpvsValidationError(path + ".health_check", "none", "cannot be used with ECMP: the VIP is "
                                      "announced while enough real servers pass their check; set a health check")
        checks = [(path + ".health_check", item.health)] + [
            (real_path + ".health_check", check) for real_path, check in item.real_health.values()]
        for check_path, check in checks:
            if check.on_failure != "quiescent":
                raise IpvsValidationError(check_path + ".on_failure", check.on_failure, "must be quiescent with "
                                          "ECMP: a removed real comes back in another place of the mh table")
        for real in service.reals:
            if real.forwarding not in ("dr", "tun"):
                raise IpvsValidationError(path + ".forwarding", real.forwarding, "(real server %s) must be dr or "
                                          "tun with ECMP: NAT answers must pass the director that holds the "
                                          "connection" % real.address)
            if real.u_threshold or real.l_threshold:
                raise IpvsValidationError(path + ".u_threshold", real.u_threshold or real.l_threshold,
                                          "(real server %s; l_threshold too) is per-director state (connection "
                                          "counts); leave it out with ECMP" % real.address)
