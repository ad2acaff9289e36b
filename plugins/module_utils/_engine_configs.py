# -*- coding: utf-8 -*-
# Copyright (c) 2026, lvs.cluster contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""keepalived.conf and ldirectord.cf rendered from the parsed cluster description.

Private to the lvs.cluster collection: no stability promise.

Each virtual service is an ``EngineService``: the IPVS ``Service`` of the model (key, scheduler, persistence,
reals with weights and forwarding) plus the health check of the service, the checks of reals that override it,
and the sorry server. Nothing here decides anything the model or ``_lvs_health`` did not: the renderers only
spell the same facts in each daemon's syntax. Every value was validated before (no quotes, no newlines).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from dataclasses import dataclass, field

from ansible_collections.lvs.cluster.plugins.module_utils._ipvs_model import (
    IpvsValidationError,
    family_of,
    format_endpoint,
    parse_address,
    parse_int,
)
from ansible_collections.lvs.cluster.plugins.module_utils._ipvs_rules import service_selector
from ansible_collections.lvs.cluster.plugins.module_utils._lvs_health import HealthCheck

_KEEPALIVED_METHOD = {"dr": "DR", "nat": "NAT", "tun": "TUN"}
_LDIRECTORD_METHOD = {"dr": "gate", "nat": "masq", "tun": "ipip"}
# keepalived's names of the scheduler flags (ipvsadm's sh-fallback, sh-port, mh-fallback, mh-port).
_KEEPALIVED_FLAGS = {"sh-fallback": "sh-fallback", "sh-port": "sh-port", "mh-fallback": "mh-fallback",
                     "mh-port": "mh-port"}


@dataclass(frozen=True)
class EngineService:
    name: str
    service: object  # _ipvs_model.Service
    check: HealthCheck = HealthCheck()
    real_checks: dict = field(default_factory=dict)  # RealKey -> HealthCheck, only where it differs
    sorry_server: "tuple | None" = None  # (address, port or None)

    def check_of(self, real):
        return self.real_checks.get(real.key, self.check)


def _block(lines, name, body, indent):
    pad = "    " * indent
    lines.append("%s%s {" % (pad, name))
    lines.extend(body)
    lines.append("%s}" % pad)


def _keepalived_checker(check, real, indent):
    """The checker block of one real server, or nothing for type none."""
    if check.type == "none":
        return []
    pad = "    " * (indent + 1)
    port = check.port or real.port
    common = ["%sconnect_port %d" % (pad, port)] if check.type not in ("exec",) else []
    common += ["%sdelay_loop %d" % (pad, check.interval), "%sretry %d" % (pad, check.retries),
               "%sdelay_before_retry 1" % pad]
    lines = []
    if check.type in ("http", "https"):
        url = ["%s    path %s" % (pad, check.path), "%s    status_code %d" % (pad, check.status)]
        body = [pad + "url {"] + url + [pad + "}"] + common + ["%sconnect_timeout %d" % (pad, check.timeout)]
        if check.virtualhost:
            body.append("%svirtualhost %s" % (pad, check.virtualhost))
            if check.type == "https":
                body.append("%senable_sni" % pad)
        _block(lines, "HTTP_GET" if check.type == "http" else "SSL_GET", body, indent)
    elif check.type == "tcp":
        _block(lines, "TCP_CHECK", common + ["%sconnect_timeout %d" % (pad, check.timeout)], indent)
    elif check.type == "dns":
        body = common + ["%sconnect_timeout %d" % (pad, check.timeout), "%stype %s" % (pad, check.dns_type),
                         "%sname %s" % (pad, check.dns_name)]
        _block(lines, "DNS_CHECK", body, indent)
    elif check.type == "exec":
        body = ['%smisc_path "%s"' % (pad, check.command), "%smisc_timeout %d" % (pad, check.timeout)] + common
        if check.dynamic_weight:
            body.append("%smisc_dynamic" % pad)
        _block(lines, "MISC_CHECK", body, indent)
    return lines


def _keepalived_tunnel(real):
    words = ["lvs_method", "TUN"]
    if real.tun_type and real.tun_type != "ipip":
        words += ["type", real.tun_type]
        if real.tun_type == "gue":
            words += ["port", str(real.tun_port)]
        words += list(real.tun_flags)
    return " ".join(words)


def render_keepalived_services(services, quorum=None):
    """The ``virtual_server`` blocks of keepalived.conf for the ``EngineService`` list; ``quorum``: extra lines per
    service key (the ECMP mode's quorum and its hooks, ``_bgp_config.quorum_settings``)."""
    lines = []
    for item in services:
        service = item.service
        key = service.key
        head = ("virtual_server fwmark %d" % key.fwmark if key.is_fwmark
                else "virtual_server %s %d" % (key.address, key.port))
        methods = sorted(set(real.forwarding for real in service.reals)) or ["dr"]
        body = ["    # %s" % item.name,
                "    delay_loop %d" % item.check.interval,
                "    lb_algo %s" % service.scheduler]
        body += ["    %s" % _KEEPALIVED_FLAGS[flag] for flag in service.scheduler_flags]
        if len(methods) == 1 and methods[0] != "tun":
            body.append("    lb_kind %s" % _KEEPALIVED_METHOD[methods[0]])
        if not key.is_fwmark:  # keepalived warns about (and ignores) a protocol of a fwmark service
            body.append("    protocol %s" % key.protocol.upper())
        if service.persistent is not None:
            body.append("    persistence_timeout %d" % service.persistent)
            body.append("    persistence_granularity %s" % service.persistence_netmask)
        if service.one_packet:
            body.append("    ops")
        if service.pe_name:
            body.append("    persistence_engine %s" % service.pe_name)
        if item.sorry_server:
            address, port = item.sorry_server
            body.append("    sorry_server %s %d" % (address, port if port is not None else (key.port or 0)))
        body += (quorum or {}).get(key, [])
        for real in service.reals:
            check = item.check_of(real)
            real_body = ["        weight %d" % real.weight]
            if real.forwarding == "tun":
                real_body.append("        " + _keepalived_tunnel(real))
            elif len(methods) > 1:
                real_body.append("        lvs_method %s" % _KEEPALIVED_METHOD[real.forwarding])
            if real.u_threshold:
                real_body.append("        uthreshold %d" % real.u_threshold)
            if real.l_threshold:
                real_body.append("        lthreshold %d" % real.l_threshold)
            if check.type != "none" and check.on_failure == "quiescent":
                real_body.append("        inhibit_on_failure")
            real_body += _keepalived_checker(check, real, 2)
            _block(body, "real_server %s %d" % (real.address, real.port or 0), real_body, 1)
        _block(lines, head, body, 0)
        lines.append("")
    return "\n".join(lines)


def render_ldirectord(services, interval=None):
    """ldirectord.cf for the ``EngineService`` list (one check per virtual service; validated by
    ``_lvs_health.check_engine``)."""
    intervals = sorted(set(item.check.interval for item in services)) or [interval or 5]
    lines = ["checkinterval=%d" % (interval or intervals[0]), "autoreload=no", "fork=no", ""]
    for item in services:
        service = item.service
        key = service.key
        check = item.check
        six = key.family == "ipv6"
        if key.is_fwmark:
            lines.append("virtual%s=%d" % ("6" if six else "", key.fwmark))
        else:
            lines.append("virtual%s=%s" % ("6" if six else "", format_endpoint(key.address, key.port)))
        lines.append("\t# %s" % item.name)
        for real in service.reals:
            endpoint = format_endpoint(real.address, real.port or 0)
            lines.append("\treal%s=%s %s %d" % ("6" if six else "", endpoint, _LDIRECTORD_METHOD[real.forwarding],
                                                real.weight))
        if item.sorry_server:
            address, port = item.sorry_server
            method = _LDIRECTORD_METHOD[service.reals[0].forwarding] if service.reals else "gate"
            lines.append("\tfallback%s=%s %s" % ("6" if six else "", format_endpoint(
                address, port if port is not None else (key.port or 0)), method))
        lines.append("\tscheduler=%s" % service.scheduler)
        lines.append("\tprotocol=%s" % ("fwm" if key.is_fwmark else key.protocol))
        if service.persistent is not None:
            lines.append("\tpersistent=%d" % service.persistent)
            lines.append("\tnetmask=%s" % service.persistence_netmask)
        lines.append("\tquiescent=%s" % ("yes" if check.on_failure == "quiescent" else "no"))
        lines.append("\tchecktimeout=%d" % check.timeout)
        lines.append("\tfailurecount=%d" % check.retries)
        if check.port:
            lines.append("\tcheckport=%d" % check.port)
        if check.type == "none":
            lines += ["\tservice=none", "\tchecktype=on"]
        elif check.type == "tcp":
            lines += ["\tservice=none", "\tchecktype=connect"]
        elif check.type in ("http", "https"):
            lines += ["\tservice=%s" % check.type, "\tchecktype=negotiate", "\thttpmethod=GET",
                      '\trequest="%s"' % check.path]
            if check.body:
                lines.append('\treceive="%s"' % check.body)
            if check.virtualhost:
                lines.append("\tvirtualhost=%s" % check.virtualhost)
        elif check.type == "dns":
            lines += ["\tservice=dns", "\tchecktype=negotiate", '\trequest="%s"' % check.dns_name]
        elif check.type == "exec":
            lines += ["\tchecktype=external", '\tcheckcommand="%s"' % check.command]
        lines.append("")
    return "\n".join(lines)


# Seconds a returning director waits before it takes the VIPs back, unless director_ha says otherwise: the sync
# daemon needs a few seconds to copy the active connections to it (docs/engines.md).
DEFAULT_PREEMPT_DELAY = 15


@dataclass(frozen=True)
class Vrrp:
    """One VRRP instance holding the director's VIPs (keepalived), checked by ``parse_vrrp``."""

    interface: str
    virtual_router_id: int
    priority: int
    source: str
    peers: tuple
    vips: tuple  # (address, prefix, family)
    nopreempt: bool = False
    preempt_delay: int = 0
    auth_pass: "str | None" = None
    sync_daemon: bool = True
    notify: "str | None" = None
    name: str = "VI_LVS"


def parse_vrrp(params, path="director_ha"):
    """``params``: interface, virtual_router_id, priority, source, peers, vips, nopreempt, preempt_delay,
    auth_pass, sync_daemon, notify - the role's HA options, already resolved per director."""
    def opt(name):
        return "%s.%s" % (path, name)

    vrid = parse_int(params.get("virtual_router_id"), opt("virtual_router_id"), 1, 255, "a VRRP router id")
    priority = parse_int(params.get("priority"), opt("priority"), 1, 254, "a VRRP priority (1-254)")
    source = parse_address(params.get("source"), opt("source"))
    peers = tuple(parse_address(peer, opt("peers")) for peer in params.get("peers") or ())
    if not peers:
        raise IpvsValidationError(opt("peers"), params.get("peers"), "needs at least one other director")
    if source in peers:
        raise IpvsValidationError(opt("peers"), source, "is this director's own address")
    preempt_delay = params.get("preempt_delay")
    if preempt_delay is None:
        # A director taking the VIPs back at once resets the connections the sync daemon has not copied to it yet.
        preempt_delay = 0 if params.get("nopreempt") else DEFAULT_PREEMPT_DELAY
    preempt_delay = parse_int(preempt_delay, opt("preempt_delay"), 0, 1000, "a delay in seconds (0-1000)")
    if preempt_delay and params.get("nopreempt"):
        raise IpvsValidationError(opt("preempt_delay"), preempt_delay, "has no effect with nopreempt: a director "
                                  "that comes back never takes the VIPs back; set one of the two")
    auth_pass = params.get("auth_pass")
    if auth_pass is not None and (not isinstance(auth_pass, str) or not 0 < len(auth_pass) <= 8
                                  or not auth_pass.isalnum()):
        raise IpvsValidationError(opt("auth_pass"), "(hidden)", "must be 1 to 8 letters or digits (VRRP's "
                                  "simple password)")
    interface = params.get("interface")
    if not isinstance(interface, str) or not interface:
        raise IpvsValidationError(opt("interface"), interface, "is required")
    return Vrrp(interface=interface, virtual_router_id=vrid, priority=priority, source=source, peers=peers,
                vips=tuple(params.get("vips") or ()), nopreempt=bool(params.get("nopreempt")),
                preempt_delay=preempt_delay, auth_pass=auth_pass,
                sync_daemon=bool(params.get("sync_daemon", True)), notify=params.get("notify"))


# Debian's keepalived.service starts "/usr/sbin/keepalived --dont-fork $DAEMON_ARGS" (DAEMON_ARGS from
# /etc/default/keepalived); Debian's ipvsadm is /sbin/ipvsadm.
KEEPALIVED_HA_START = "/usr/sbin/keepalived --dont-fork --dont-release-ipvs $DAEMON_ARGS"
IPVSADM_COMMAND = "/sbin/ipvsadm"


def render_keepalived_ha_dropin(services):
    """A systemd drop-in for keepalived.service on a VRRP director: keepalived leaves the IPVS services in place
    when it stops (``--dont-release-ipvs``) and the unit deletes them once it has ended. Without it, keepalived's
    checker process deleted them while its VRRP process still held the VIPs (the two stop side by side): a packet
    of an established connection then reached this director's own stack, which reset it, instead of going on to
    its real server until the backup took the VIPs over (seen in the health scenario's failover by reboot). Once
    keepalived has ended, the VIPs are gone from here. ``services``: the engine's services."""
    lines = ["[Service]", "ExecStart=", "ExecStart=" + KEEPALIVED_HA_START]
    lines += ["ExecStopPost=-%s -D %s" % (IPVSADM_COMMAND, " ".join(service_selector(item.service.key)))
              for item in services]
    return "\n".join(lines) + "\n"


def render_keepalived(services, router_id, vrrp=None, quorum=None):
    """The whole keepalived.conf: global_defs, the VRRP instance (if any) and the virtual servers (``quorum``: see
    ``render_keepalived_services``)."""
    lines = []
    defs = ["    router_id %s" % router_id, "    enable_script_security", "    script_user root"]
    if vrrp and vrrp.sync_daemon:
        # Connections are synchronised to the backup, which takes over established flows on failover.
        defs.append("    lvs_sync_daemon %s %s id %d" % (vrrp.interface, vrrp.name, vrrp.virtual_router_id))
    _block(lines, "global_defs", defs, 0)
    lines.append("")
    if vrrp:
        family = family_of(vrrp.source)
        same = ["        %s/%d dev %s" % (address, prefix, vrrp.interface)
                for address, prefix, vip_family in vrrp.vips if vip_family == family]
        other = ["        %s/%d dev %s" % (address, prefix, vrrp.interface)
                 for address, prefix, vip_family in vrrp.vips if vip_family != family]
        body = ["    state BACKUP", "    interface %s" % vrrp.interface,
                "    virtual_router_id %d" % vrrp.virtual_router_id, "    priority %d" % vrrp.priority,
                "    advert_int 1"]
        if vrrp.nopreempt:
            body.append("    nopreempt")
        if vrrp.preempt_delay:
            # A director that comes back waits before it takes the VIPs back (its checks settle, syncs arrive).
            body.append("    preempt_delay %d" % vrrp.preempt_delay)
        body.append("    unicast_src_ip %s" % vrrp.source)
        _block(body, "unicast_peer", ["        %s" % peer for peer in vrrp.peers], 1)
        if vrrp.auth_pass:
            _block(body, "authentication", ["        auth_type PASS", "        auth_pass %s" % vrrp.auth_pass], 1)
        _block(body, "virtual_ipaddress", same, 1)
        if other:
            # VRRP advertises one family; the other family's VIPs move with the instance without being announced.
            _block(body, "virtual_ipaddress_excluded", other, 1)
        if vrrp.notify:
            body.append('    notify "%s"' % vrrp.notify)
        _block(lines, "vrrp_instance %s" % vrrp.name, body, 0)
        lines.append("")
    return "\n".join(lines) + "\n" + render_keepalived_services(services, quorum)
