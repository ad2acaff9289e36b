# -*- coding: utf-8 -*-
# Copyright (c) 2026, lvs.cluster contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The cluster description the director and realserver roles share (``lvs_virtual_services``).

Private to the lvs.cluster collection: no stability promise.

One list of virtual services, written once in the inventory, is parsed here into the IPVS model
(``_ipvs_model``) and into what each host must do about it: the director's IPVS table, VIPs, marks and sysctls;
a real server's VIPs and forwarding methods. Roles only call the filters built on these functions; templates
render their output and decide nothing.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import hashlib
import ipaddress
import json
from dataclasses import replace

from ansible_collections.lvs.cluster.plugins.module_utils._ipvs_model import (
    FULL_PREFIX,
    MAX_WEIGHT,
    IpvsValidationError,
    address_family,
    Table,
    parse_address,
    parse_choice,
    parse_int,
    parse_real,
    parse_service,
    parse_service_key,
)
from ansible_collections.lvs.cluster.plugins.module_utils._engine_configs import (
    EngineService,
    parse_vrrp,
    render_keepalived,
    render_keepalived_ha_dropin,
    render_ldirectord,
)
from ansible_collections.lvs.cluster.plugins.module_utils import _bgp_config
from ansible_collections.lvs.cluster.plugins.module_utils._fwmark_nft import render_nft_boot_script
from ansible_collections.lvs.cluster.plugins.module_utils._ipvs_rules import render_rules
from ansible_collections.lvs.cluster.plugins.module_utils._lvs_health import (
    ENGINES,
    HealthCheck,
    check_engine,
    parse_health_check,
    parse_sorry_server,
)

# Options of a virtual service passed through to the IPVS model unchanged.
_SERVICE_OPTIONS = ("protocol", "port", "fwmark", "scheduler", "persistent", "persistence_netmask", "one_packet",
                    "scheduler_flags", "pe_name")
# Options of a real server; a service may give defaults for them that each real server can override.
_REAL_OPTIONS = ("port", "forwarding", "weight", "u_threshold", "l_threshold", "tun_type", "tun_port", "tun_flags")
_REAL_DEFAULTS = {"real_port": "port", "forwarding": "forwarding", "tun_type": "tun_type", "tun_port": "tun_port",
                  "tun_flags": "tun_flags"}
_KNOWN_SERVICE_KEYS = set(_SERVICE_OPTIONS) | set(_REAL_DEFAULTS) | {
    "name", "vip", "fwmark_ports", "real_servers", "real_server_group", "masquerade", "health_check", "sorry_server"}
_KNOWN_REAL_KEYS = set(_REAL_OPTIONS) | {"host", "address", "health_check"}
_PROTOCOLS = ("tcp", "udp", "sctp")


class ClusterService(object):
    """One entry of lvs_virtual_services, parsed: its IPVS service (with reals) and what the hosts need."""

    def __init__(self, name, vip, service, fwmark_ports, real_hosts, mark_protocol=None, masquerade=False,
                 health=None, real_health=None, sorry_server=None):
        self.name = name
        self.vip = vip
        self.service = service
        self.fwmark_ports = fwmark_ports
        # A fwmark service has no protocol of its own: the marking rule carries it.
        self.mark_protocol = mark_protocol
        # address -> inventory host name, for the reals that are inventory hosts
        self.real_hosts = real_hosts
        # FULLNAT-like: the director also masquerades what it sends to this service's NAT reals, so they answer
        # the director without routing through it.
        self.masquerade = masquerade
        # For the keepalived and ldirectord engines: the service's check, the reals' overrides
        # ({RealKey: (option path, HealthCheck)}) and the sorry server ((address, port or None) or None).
        self.health = health or HealthCheck()
        self.real_health = real_health or {}
        self.sorry_server = sorry_server

    @property
    def family(self):
        return self.service.key.family

    def with_reals(self, reals):
        """The same entry with other reals (e.g. drained ones at weight 0)."""
        return ClusterService(self.name, self.vip, self.service.with_reals(reals), self.fwmark_ports,
                              self.real_hosts, self.mark_protocol, self.masquerade, self.health, self.real_health,
                              self.sorry_server)

    def forwarding_methods(self):
        return sorted(set(real.forwarding for real in self.service.reals))


def _path(index, name=None):
    base = "lvs_virtual_services[%d]" % index
    return "%s.%s" % (base, name) if name else base


def _host_address(host, hostvars, option):
    # Membership first: Ansible's hostvars answers an unknown name with an undefined value, not None.
    if host not in hostvars:
        raise IpvsValidationError(option, host, "is not a host of the inventory")
    variables = hostvars[host]
    address = variables.get("lvs_real_address")
    if address is None:
        candidate = variables.get("ansible_host", host)
        try:
            address = str(ipaddress.ip_address(candidate))
        except ValueError:
            raise IpvsValidationError(option, host, "has no lvs_real_address host variable (and its ansible_host "
                                      "%r is not an IP address)" % candidate)
    return parse_address(address, "%s (lvs_real_address of %s)" % (option, host))


def _real_entries(entry, index, hostvars, groups):
    """Every real server of an entry as (params, host name or None, path for errors)."""
    reals = []
    for real_index, real in enumerate(entry.get("real_servers") or []):
        path = _path(index, "real_servers[%d]" % real_index)
        if not isinstance(real, dict):
            raise IpvsValidationError(path, real, "must be a dictionary")
        unknown = sorted(set(real) - _KNOWN_REAL_KEYS)
        if unknown:
            raise IpvsValidationError("%s.%s" % (path, unknown[0]), real[unknown[0]], "is not a real server option")
        if (real.get("host") is None) == (real.get("address") is None):
            raise IpvsValidationError(path, real, "needs exactly one of host or address")
        params = dict((name, real.get(name)) for name in _REAL_OPTIONS)
        host = real.get("host")
        params["address"] = (_host_address(host, hostvars, "%s.host" % path) if host
                             else real.get("address"))
        params["health_check"] = real.get("health_check")
        reals.append((params, host, path))
    group = entry.get("real_server_group")
    if group is not None:
        path = _path(index, "real_server_group")
        if group not in groups:
            raise IpvsValidationError(path, group, "is not a group of the inventory")
        for host in groups[group]:
            params = dict((name, None) for name in _REAL_OPTIONS)
            params["address"] = _host_address(host, hostvars, path)
            params["weight"] = hostvars[host].get("lvs_real_weight")
            params["health_check"] = None
            reals.append((params, host, path))
    if not reals:
        raise IpvsValidationError(_path(index), entry.get("name"), "has no real_servers and no real_server_group")
    return reals


def parse_cluster_service(entry, index, hostvars, groups):
    if not isinstance(entry, dict):
        raise IpvsValidationError(_path(index), entry, "must be a dictionary")
    unknown = sorted(set(entry) - _KNOWN_SERVICE_KEYS)
    if unknown:
        raise IpvsValidationError(_path(index, unknown[0]), entry[unknown[0]], "is not a virtual service option")
    name = entry.get("name")
    if not name:
        raise IpvsValidationError(_path(index, "name"), name, "is required")
    if entry.get("vip") is None:
        raise IpvsValidationError(_path(index, "vip"), None, "is required")
    vip = parse_address(entry["vip"], _path(index, "vip"))

    params = dict((option, entry.get(option)) for option in _SERVICE_OPTIONS)
    fwmark_ports = []
    mark_protocol = None
    if entry.get("fwmark") is not None:
        # The VIP keys the marking rule, not the IPVS service: a fwmark service has no address of its own.
        params["port"] = None
        params["family"] = address_family(vip)
        ports = entry.get("fwmark_ports")
        if not ports:
            raise IpvsValidationError(_path(index, "fwmark_ports"), ports,
                                      "is required with fwmark: the marking rule must say which ports carry the mark")
        fwmark_ports = [parse_int(port, _path(index, "fwmark_ports"), 1, 65535, "a port") for port in ports]
        mark_protocol = parse_choice(entry.get("protocol") or "tcp", _path(index, "protocol"), _PROTOCOLS)
        params["protocol"] = None
    else:
        params["address"] = vip
        if entry.get("fwmark_ports"):
            raise IpvsValidationError(_path(index, "fwmark_ports"), entry["fwmark_ports"], "needs fwmark")
        if params.get("port") is None:
            raise IpvsValidationError(_path(index, "port"), None, "is required unless fwmark is given")
    service = parse_service(params, path=_path(index))

    health = parse_health_check(entry.get("health_check"), _path(index, "health_check"))
    sorry_server = parse_sorry_server(entry.get("sorry_server"), _path(index, "sorry_server"), service.key.family)
    real_health = {}
    reals = []
    real_hosts = {}
    seen = set()
    for real_params, host, path in _real_entries(entry, index, hostvars, groups):
        real_check = real_params.pop("health_check")
        for default_name, option in _REAL_DEFAULTS.items():
            if real_params.get(option) is None and entry.get(default_name) is not None:
                real_params[option] = entry[default_name]
        real = parse_real(real_params, service.key, path=path)
        if real.key in seen:
            raise IpvsValidationError(path, str(real), "is listed twice")
        if real.address == vip:
            raise IpvsValidationError(path, real.address, "is the VIP of the service: a real server needs an "
                                      "address of its own")
        seen.add(real.key)
        reals.append(real)
        if real_check is not None:
            real_health[real.key] = (path, parse_health_check(real_check, "%s.health_check" % path, health))
        if host:
            real_hosts[real.address] = host
    masquerade = entry.get("masquerade", False)
    if masquerade not in (True, False):
        raise IpvsValidationError(_path(index, "masquerade"), masquerade, "must be true or false")
    if masquerade and not any(real.forwarding == "nat" for real in reals):
        raise IpvsValidationError(_path(index, "masquerade"), masquerade,
                                  "needs real servers with forwarding nat: only NAT traffic is masqueraded")
    return ClusterService(name, vip, service.with_reals(reals), fwmark_ports, real_hosts, mark_protocol, masquerade,
                          health, real_health, sorry_server)


def parse_cluster(entries, hostvars, groups):
    """All of lvs_virtual_services, validated; duplicate names or services are errors."""
    if not isinstance(entries, list):
        raise IpvsValidationError("lvs_virtual_services", entries, "must be a list")
    cluster = []
    names = {}
    keys = {}
    for index, entry in enumerate(entries):
        parsed = parse_cluster_service(entry, index, hostvars, groups)
        if parsed.name in names:
            raise IpvsValidationError(_path(index, "name"), parsed.name,
                                      "is already used by lvs_virtual_services[%d]" % names[parsed.name])
        if parsed.service.key in keys:
            raise IpvsValidationError(_path(index), str(parsed.service.key),
                                      "is already described by lvs_virtual_services[%d]" % keys[parsed.service.key])
        names[parsed.name] = index
        keys[parsed.service.key] = index
        cluster.append(parsed)
    return cluster


def _all_real_addresses(cluster):
    return set(real.address for item in cluster for real in item.service.reals)


def table(cluster):
    return Table(services=tuple(item.service for item in cluster))


def addresses_by_host(cluster):
    """{inventory host: [its real addresses]} for the reals that are inventory hosts."""
    addresses = {}
    for item in cluster:
        for address, host in item.real_hosts.items():
            addresses.setdefault(host, set()).add(address)
    return dict((host, sorted(found)) for host, found in addresses.items())


def drain(cluster, drained_hosts, option="drained"):
    """The cluster with the reals of the inventory hosts in ``drained_hosts`` at weight 0 in every service (the
    operators' admin state, kept on each director by the drain and undrain playbooks), and the drained hosts that
    are no real server of the cluster."""
    if not isinstance(drained_hosts, (list, tuple)) or not all(isinstance(host, str) for host in drained_hosts):
        raise IpvsValidationError(option, drained_hosts, "must be a list of inventory host names")
    drained_hosts = set(drained_hosts)
    result = []
    for item in cluster:
        if drained_hosts & set(item.real_hosts.values()):
            item = item.with_reals([replace(real, weight=0) if item.real_hosts.get(real.address) in drained_hosts
                                    else real for real in item.service.reals])
        result.append(item)
    return result, sorted(drained_hosts - set(addresses_by_host(cluster)))


def admin_state(before, drain=(), undrain=(), since=""):
    """The admin state a director keeps (``{"drained": {HOST: {"since": TIME}}}``) after draining the hosts in
    ``drain`` and undraining those in ``undrain``; ``before`` is the state read from the director, as a dict or as
    the file's text (None or empty: none yet).
    A host drained earlier keeps its record (and time)."""
    for option, hosts in (("director_drain", drain), ("director_undrain", undrain)):
        if not isinstance(hosts, (list, tuple)) or not all(isinstance(host, str) and host for host in hosts):
            raise IpvsValidationError(option, hosts, "must be a list of inventory host names")
    both = sorted(set(drain) & set(undrain))
    if both:
        raise IpvsValidationError("director_drain", both[0], "is also in director_undrain")
    before = _record_json(before, "the admin state", '{"drained": {HOST: {...}}}') or {"drained": {}}
    drained = before.get("drained") if isinstance(before, dict) else None
    if not isinstance(drained, dict):
        raise IpvsValidationError("the admin state", before, 'is not {"drained": {HOST: {...}}}')
    drained = dict((host, record) for host, record in drained.items() if host not in undrain)
    for host in drain:
        drained.setdefault(host, {"since": since})
    return {"drained": drained}


def _record_json(text, what, shape):
    """The JSON document of a record the role keeps on the director (``text`` as read; empty: none yet)."""
    if not isinstance(text, str):
        return text
    try:
        return json.loads(text) if text.strip() else None
    except ValueError as exc:
        raise IpvsValidationError(what, text[:80], "is not JSON (%s); expected %s" % (exc, shape))


def service_ownership(record, services):
    """Which IPVS services the director role created, so that ``director_purge: false`` still removes what the
    role created and no longer describes, and leaves services it never created (foreign ones) alone.

    ``record``: the ownership record read from the director (``{"services": [KEY, ...]}``, its text, or empty);
    ``services``: the table services of the description (``ipvs_table``'s ``services``).
    Returns ``{"remove": [KEY, ...], "record": {"services": [KEY, ...]}}``: the keys (``ipvs_table``'s
    ``remove_services``) owned before and no longer described, and the record to keep from now on.
    """
    shape = '{"services": [{"protocol", "address", "port"} or {"fwmark", "family"}, ...]}'
    record = _record_json(record, "the ownership record", shape) or {"services": []}
    owned = record.get("services") if isinstance(record, dict) else None
    if not isinstance(owned, list):
        raise IpvsValidationError("the ownership record", record, "is not %s" % shape)
    described = [parse_service_key(service, "services[%d]" % index) for index, service in enumerate(services)]
    kept = set(described)
    removed = []
    for index, entry in enumerate(owned):
        key = parse_service_key(entry, "the ownership record's services[%d]" % index)
        if key not in kept and key not in removed:
            removed.append(key)
    return {"remove": [key.to_dict() for key in removed],
            "record": {"services": [key.to_dict() for key in described]}}


def engine_services(cluster, engine):
    """The cluster as the keepalived / ldirectord renderers take it, after refusing what ``engine`` cannot express
    (errors name the option path and the engine)."""
    result = []
    for index, item in enumerate(cluster):
        overrides = dict((key, (path, check)) for key, (path, check) in item.real_health.items()
                         if check != item.health)
        check_engine(engine, _path(index), item.health, dict(overrides.values()), item.sorry_server)
        result.append(EngineService(item.name, item.service, item.health,
                                    dict((key, check) for key, (path, check) in overrides.items()),
                                    item.sorry_server))
    return result


def ipvs_table_services(cluster):
    """The ``services`` option of lvs.cluster.ipvs_table for the whole cluster."""
    return [_table_params(item.service) for item in cluster]


def _table_params(service):
    """One Service as an entry of lvs.cluster.ipvs_table's ``services`` option."""
    entry = service.to_dict(with_reals=False)
    # Identity for False, not `in`: 0 == False, and port 0 (every port, with persistence) must stay.
    entry = dict((name, value) for name, value in entry.items()
                 if value is not None and value is not False and value != [])
    entry.pop("persistence_netmask", None)
    if service.persistent is not None:
        entry["persistence_netmask"] = service.persistence_netmask
    entry["reals"] = [dict((name, value) for name, value in real.to_dict().items()
                           if name != "family" and value not in (None, []))
                      for real in service.reals]
    return entry


def reweighted(info_services, addresses, weight=None, option="addresses"):
    """The services of a table read with lvs.cluster.ipvs_info that have a real at one of ``addresses``, as
    lvs.cluster.ipvs_table ``services`` (with ``purge: false`` nothing else is touched), those reals at ``weight``
    (None: as they were, to restore a table recorded before a drain)."""
    if not isinstance(addresses, (list, tuple)) or not addresses:
        raise IpvsValidationError(option, addresses, "must be a non-empty list of IP addresses")
    # Imported here, as in director_config: the module glue is only needed for this parse.
    from ansible_collections.lvs.cluster.plugins.module_utils._ipvs_module import table_from_params

    wanted = set(parse_address(address, option) for address in addresses)
    if weight is not None:
        weight = parse_int(weight, "weight", 0, MAX_WEIGHT, "a weight")
    # The read table goes back through ipvs_table's own parser, so what comes out is what that task will accept.
    result = []
    for service in table_from_params(info_services)[0].services:
        if not any(real.address in wanted for real in service.reals):
            continue
        if weight is not None:
            service = service.with_reals([replace(real, weight=weight) if real.address in wanted else real
                                          for real in service.reals])
        result.append(_table_params(service))
    return result


def vrrp_addresses(hostvars, hosts, host, option="director_ha_group"):
    """(this director's address, the other directors' addresses) for VRRP unicast: each one's IPv4 address on its
    VIP interface (its ``director_vip_interface``, else the interface of its default route), from its gathered
    facts - every director of the group runs in the same play."""
    addresses = {}
    for name in hosts:
        facts = (hostvars[name].get("ansible_facts") or {}) if name in hostvars else {}
        interface = hostvars[name].get("director_vip_interface") if name in hostvars else None
        interface = interface or (facts.get("default_ipv4") or {}).get("interface")
        address = ((facts.get(interface) or {}).get("ipv4") or {}).get("address") if interface else None
        if not address:
            raise IpvsValidationError(option, name, "has no gathered IPv4 address on its VIP interface (%s): run "
                                      "every director of the group in the same play" % (interface or "unknown"))
        addresses[name] = address
    if host not in addresses:
        raise IpvsValidationError(option, host, "does not contain this director")
    return addresses[host], [addresses[name] for name in hosts if name != host]


def check_interface(option, name, host, interfaces):
    """``name`` (given by the variable ``option``) is an interface of ``host``.

    ``interfaces`` is the host's gathered ``ansible_facts['interfaces']``; ``all`` (the sysctl pseudo-device)
    is accepted too. Checked on the controller before anything changes on the host.
    """
    if name != "all" and name not in interfaces:
        raise IpvsValidationError(option, name, "is not an interface of %s (%s)" % (
            host, ", ".join(sorted(interfaces)) or "none found"))


def resolve_vip_interface(vip_interface, host, interfaces, default_interface):
    """The interface that carries the director's VIPs: ``director_vip_interface``, else the default route's."""
    if vip_interface:
        check_interface("director_vip_interface", vip_interface, host, interfaces)
        return vip_interface
    if not default_interface:
        raise IpvsValidationError("director_vip_interface", None,
                                  "is required: %s has no default IPv4 route to take the interface from" % host)
    return default_interface


def director_config(cluster, host=None, vip_interface="", interfaces=None, default_interface=None, timeouts=None,
                    drained=(), engine="netlink", vrrp=None, ecmp=None):
    """What a director needs: the VIPs to hold, the marking rules, the forwarding methods in use, the IPVS table
    (``services`` for lvs.cluster.ipvs_table, ``ipvsadm_rules`` for the boot restore) with the reals of the hosts in
    ``drained`` (the admin state) at weight 0.

    With ``interfaces`` (the host's facts) the VIP interface is checked and resolved into ``vip_interface``;
    ``timeouts`` (``director_timeouts``) are checked as lvs.cluster.ipvs_table will read them and returned as
    ``timeouts`` (all three, 0 for 'leave as is'; empty when none is set), for the boot restore.

    ``engine`` (``director_engine``) says who programs the table: ``netlink`` (lvs.cluster.ipvs_table, no health
    checks), ``keepalived`` or ``ldirectord``, whose whole configuration is returned as ``engine_config``, with the
    drained reals at weight 0 too. ``vrrp`` (keepalived only: the HA options resolved for this director, see
    ``_engine_configs.parse_vrrp``) adds the VRRP instance that holds the VIPs.

    ``ecmp`` (keepalived only: ``low_watermark``, ``high_watermark``, ``kernel_table``) is the scale-out mode of
    ``_bgp_config``: the description is checked for it (``check_ecmp``) and every virtual server gets the quorum that
    adds and deletes its VIP's route in the kernel table BIRD announces from.
    """
    # Imported here: the module glue is only needed for this check, and it keeps this file's imports light.
    from ansible_collections.lvs.cluster.plugins.module_utils._ipvs_module import timeouts_from_params

    checked_timeouts = timeouts_from_params(timeouts or None, "director_timeouts")
    if ecmp:
        if engine != "keepalived":
            raise IpvsValidationError("director_engine", engine, "must be keepalived with director_bgp_neighbors: "
                                      "its quorum decides when the VIPs are announced")
        if vrrp:
            raise IpvsValidationError("director_ha", "(set)", "cannot be used with director_bgp_neighbors: every "
                                      "director is active, the router shares the VIPs among them by ECMP")
        _bgp_config.check_ecmp(cluster)
    cluster, drained_unknown = drain(cluster, list(drained or ()))
    host_addresses = addresses_by_host(cluster)
    vips = sorted(set((item.vip, item.family) for item in cluster))
    marks = []
    for item in cluster:
        if item.service.key.is_fwmark:
            marks.append({
                "mark": item.service.key.fwmark,
                "name": item.name,
                "destination": [item.vip],
                "protocol": item.mark_protocol,
                "ports": item.fwmark_ports,
            })
    methods = sorted(set(method for item in cluster for method in item.forwarding_methods()))
    real_addresses = _all_real_addresses(cluster)
    for address, _family in vips:
        if address in real_addresses:
            raise IpvsValidationError("lvs_virtual_services", address,
                                      "is both a VIP and a real server's address")
    nat_reals = [(item, real) for item in cluster for real in item.service.reals if real.forwarding == "nat"]
    config = {
        "vips": [{"address": address, "prefix": FULL_PREFIX[family], "family": family}
                 for address, family in vips],
        # The NAT reals whose packets the director masquerades, and the hosts that must route through it instead.
        "masquerade_reals": sorted(set(real.address for item, real in nat_reals if item.masquerade)),
        "nat_hosts": sorted(set(item.real_hosts[real.address] for item, real in nat_reals
                                if real.address in item.real_hosts and not item.masquerade)),
        "marks": sorted(marks, key=lambda mark: mark["mark"]),
        "forwarding_methods": methods,
        "schedulers": sorted(set(item.service.scheduler for item in cluster)),
        "services": ipvs_table_services(cluster),
        "service_names": [item.name for item in cluster],  # in the order of services
        "ipvsadm_rules": render_rules(table(cluster)),
        "drained": sorted(set(drained or ()) - set(drained_unknown)),
        "drained_unknown": drained_unknown,
        "real_server_hosts": sorted(host_addresses),
        # inventory host -> its real addresses, for waiting on a drained server's connections and for status
        "real_server_addresses": host_addresses,
        "timeouts": checked_timeouts.to_dict() if checked_timeouts and any(checked_timeouts.to_dict().values()) else {},
    }
    if interfaces is not None:
        config["vip_interface"] = resolve_vip_interface(vip_interface, host, interfaces, default_interface)
    engine = parse_choice(engine, "director_engine", ENGINES)
    services = engine_services(cluster, engine)  # refuses what the engine cannot express, netlink too
    config["engine"] = engine
    config["engine_config"] = ""
    # keepalived's drop-in on a VRRP director (see render_keepalived_ha_dropin), empty otherwise.
    config["keepalived_ha_dropin"] = ""
    quorum = None
    if ecmp:
        # From the drained table: a drained real's weight does not count towards the quorum.
        quorum = _bgp_config.quorum_settings([(item.vip, item.service) for item in cluster],
                                             ecmp.get("low_watermark"), ecmp.get("high_watermark"),
                                             ecmp.get("kernel_table"))
    if engine == "keepalived":
        checked_vrrp = None
        if vrrp:
            checked_vrrp = parse_vrrp(dict(vrrp, interface=config.get("vip_interface", vip_interface),
                                           vips=[(vip["address"], vip["prefix"], vip["family"])
                                                 for vip in config["vips"]]))
        config["engine_config"] = render_keepalived(services, host or "director", checked_vrrp, quorum)
        if checked_vrrp:
            config["keepalived_ha_dropin"] = render_keepalived_ha_dropin(services)
    elif engine == "ldirectord":
        if vrrp:
            raise IpvsValidationError("director_ha", "(set)", "needs director_engine keepalived: ldirectord has no "
                                      "VRRP of its own")
        config["engine_config"] = render_ldirectord(services)
    return config


# The role's options director_plan reads, with the role's defaults (roles/director/defaults/main.yml).
DIRECTOR_PLAN_DEFAULTS = {
    "vip_interface": "",
    "timeouts": {},
    "drained": [],
    "engine": "netlink",
    "vrrp": None,
    "expire_nodest_conn": True,
    "expire_quiescent_template": True,
    "sysctls": {},
    "persist": True,
    "fwmark_backend": "auto",
    # The scale-out mode (director_bgp_*: neighbors, as, router_id, kernel_table, low_watermark, high_watermark);
    # off while it has no neighbors.
    "bgp": None,
    # Where the director keeps the files it restores at boot, and keepalived's default VRRP notify hook (used when
    # the HA options name none) - roles/director/vars/main.yml.
    "files": {"rules": "", "fwmark": "", "nat_nft": "", "vrrp_notify": ""},
}

# The sysctls of the scale-out mode: a director that ECMP sends the middle of a flow (another director had it)
# forwards it (sloppy_tcp); ICMP errors such as "fragmentation needed" reach the real server of their flow
# (schedule_icmp); and the VIPs on lo are never answered for by ARP, as on a DR real server.
ECMP_SYSCTLS = {
    "net.ipv4.vs.sloppy_tcp": "1",
    "net.ipv4.vs.schedule_icmp": "1",
    "net.ipv4.conf.all.arp_ignore": "1",
    "net.ipv4.conf.all.arp_announce": "2",
}


# The boot-time unit that puts the director's VIPs on lo and sets its sysctls (the netstate role, netstate_name
# director): keepalived starts after it in the scale-out mode.
NETSTATE_UNIT = "lvs-netstate@director.service"


def _bgp_options(bgp, facts):
    """The director_bgp_* options as ``_bgp_config`` takes them, or None when the mode is off (no neighbors)."""
    if not bgp or not bgp.get("neighbors"):
        return None
    params = dict(bgp)
    if not params.get("router_id"):
        params["router_id"] = (facts.get("default_ipv4") or {}).get("address")
    for name, default in (("as", None), ("low_watermark", 0.5), ("high_watermark", None),
                          ("kernel_table", _bgp_config.DEFAULT_KERNEL_TABLE)):
        if params.get(name) in (None, ""):
            params[name] = default
    return params


def director_plan(cluster, host, facts, options):
    """Everything one director needs, decided here so the role only passes it on: ``director_config`` for the
    description, and from the role's ``options`` (``DIRECTOR_PLAN_DEFAULTS``, the ``director_*`` variables) and the
    host's ``facts`` (``ansible_facts``):

    - ``kernel_modules``: IPVS, the schedulers in use, conntrack for NAT;
    - ``sysctls``: what the options and forwarding methods require, then ``options['sysctls']`` over them;
    - ``masquerade_rules``: the nft rules of the FULLNAT-like mode, one per masqueraded real;
    - ``boot_files`` (path, content; entries of lvs.cluster.config_files): the ipvsadm restore file, and the marks' nft script when nftables keeps them;
    - ``netstate``: the configuration of the boot-time ``lvs-netstate`` unit (VIPs unless VRRP holds them,
      sysctls, nft files, the restore file when the netlink engine owns the table, connection timeouts);
    - ``own_addresses``: the host's addresses (the preflight's NAT gateway check);
    - ``vrrp_notify``: the VRRP notify hook keepalived runs (empty without VRRP);
    - ``keepalived_ha_dropin``: keepalived's systemd drop-in on a VRRP director of the Debian family (empty
      otherwise);
    - ``bgp``: the scale-out mode's files (``bird_config``, ``keepalived_dropin``), empty when it is off;
    - ``table_digest``: a hash of the described table (drained reals at weight 0), equal on directors that
      program the same table.
    """
    unknown = sorted(set(options) - set(DIRECTOR_PLAN_DEFAULTS))
    if unknown:
        raise IpvsValidationError("director plan options", ", ".join(unknown), "are not options of the plan")
    opts = dict(DIRECTOR_PLAN_DEFAULTS, **dict((key, value) for key, value in options.items() if value is not None))
    files = dict(DIRECTOR_PLAN_DEFAULTS["files"], **(opts["files"] or {}))
    facts = facts or {}
    vrrp = None
    if opts["vrrp"]:
        vrrp = dict(opts["vrrp"], notify=opts["vrrp"].get("notify") or files["vrrp_notify"] or None)
    bgp = _bgp_options(opts["bgp"], facts)
    config = director_config(cluster, host, opts["vip_interface"] or "", facts.get("interfaces"),
                             (facts.get("default_ipv4") or {}).get("interface", ""), opts["timeouts"],
                             opts["drained"] or (), opts["engine"], vrrp, bgp)
    bgp_files = {}
    if bgp:
        speaker = _bgp_config.parse_bgp(bgp, [vip["address"] for vip in config["vips"]])
        bgp_files = {"bird_config": _bgp_config.render_bird(speaker),
                     "keepalived_dropin": _bgp_config.render_keepalived_dropin(speaker.kernel_table, [NETSTATE_UNIT]),
                     "router_id": speaker.router_id}
    if facts.get("os_family") != "Debian":
        # The drop-in's command line is that of Debian's keepalived unit (other distributions start keepalived
        # their own way); elsewhere keepalived releases the table itself when it stops.
        config["keepalived_ha_dropin"] = ""
    uses_nat = "nat" in config["forwarding_methods"]
    uses_ipv6 = any(vip["family"] == "ipv6" for vip in config["vips"])
    masquerade = bool(config["masquerade_reals"])

    sysctls = {}
    if opts["expire_nodest_conn"]:
        sysctls["net.ipv4.vs.expire_nodest_conn"] = "1"
    if opts["expire_quiescent_template"]:
        sysctls["net.ipv4.vs.expire_quiescent_template"] = "1"
    if uses_nat:
        sysctls["net.ipv4.ip_forward"] = "1"
        if uses_ipv6:
            sysctls["net.ipv6.conf.all.forwarding"] = "1"
    if masquerade:
        sysctls["net.ipv4.vs.conntrack"] = "1"
    if bgp:
        sysctls.update(ECMP_SYSCTLS)
    sysctls.update(opts["sysctls"] or {})

    # The iptables backend keeps its own rules (iptables-persistent's job), nftables ones are restored at boot.
    persist_marks = bool(opts["persist"] and config["marks"] and opts["fwmark_backend"] != "iptables")
    boot_files = [{"path": files["rules"], "content": config["ipvsadm_rules"]}]
    if persist_marks:
        boot_files.append({"path": files["fwmark"], "content": render_nft_boot_script(config["marks"])})

    kernel_modules = ["ip_vs"] + ["ip_vs_" + name for name in config["schedulers"]]
    if uses_nat:
        kernel_modules.append("nf_conntrack")
    config.update({
        "kernel_modules": kernel_modules,
        "sysctls": sysctls,
        "masquerade": masquerade,
        "masquerade_rules": ["%s daddr %s masquerade" % ("ip6" if address_family(real) == "ipv6" else "ip", real)
                             for real in config["masquerade_reals"]],
        "boot_files": boot_files,
        "netstate": {
            # With VRRP, keepalived holds the VIPs on the active director only; with ECMP every director holds them on
            # lo (the router sends them by the BGP next hop, nobody asks ARP or ND for them).
            "addresses": [] if vrrp else [dict(vip, device="lo" if bgp else config.get("vip_interface", ""))
                                          for vip in config["vips"]],
            "sysctls": sysctls,
            "nft_files": ([files["fwmark"]] if persist_marks else []) + ([files["nat_nft"]] if masquerade else []),
            # An engine restores its own table when its service starts at boot.
            "ipvs_rules": files["rules"] if opts["persist"] and config["engine"] == "netlink" else "",
            "ipvs_timeouts": config["timeouts"],
        },
        "own_addresses": list(facts.get("all_ipv4_addresses") or []) + list(facts.get("all_ipv6_addresses") or []),
        # keepalived's hook for VRRP transitions (director_ha's notify), empty without VRRP.
        "vrrp_notify": (vrrp or {}).get("notify") or "",
        "bgp": bgp_files,
        "table_digest": hashlib.sha256(config["ipvsadm_rules"].encode()).hexdigest(),
    })
    return config


def realserver_vips(cluster, host, host_addresses=()):
    """What one real server needs: for each VIP it serves, how packets reach it (dr, tun or nat).

    A real server is this host when the description names it (``host``, ``real_server_group``) or gives one of
    ``host_addresses`` (the host's own addresses) as its address.
    """
    own = set(str(ipaddress.ip_address(address)) for address in host_addresses)
    vips = {}
    for item in cluster:
        for real in item.service.reals:
            if item.real_hosts.get(real.address) != host and real.address not in own:
                continue
            entry = vips.setdefault(item.vip, {"address": item.vip, "family": item.family,
                                               "prefix": FULL_PREFIX[item.family],
                                               "forwarding": set(), "tun_types": set(), "services": [],
                                               "nat_routed": False, "gue_ports": set()})
            entry["forwarding"].add(real.forwarding)
            # NAT answers must go back through the director unless the director masquerades them.
            entry["nat_routed"] = entry["nat_routed"] or (real.forwarding == "nat" and not item.masquerade)
            if real.forwarding == "tun":
                entry["tun_types"].add(real.tun_type)
                if real.tun_type == "gue":
                    # The UDP port this host receives GUE on, in the family of its own (outer) address.
                    entry["gue_ports"].add((real.tun_port, real.family))
            entry["services"].append(item.name)
    result = []
    for address in sorted(vips):
        entry = vips[address]
        entry["forwarding"] = sorted(entry["forwarding"])
        entry["tun_types"] = sorted(entry["tun_types"])
        entry["gue_ports"] = [{"port": port, "family": family} for port, family in sorted(entry["gue_ports"])]
        entry["services"] = sorted(set(entry["services"]))
        result.append(entry)
    return {
        "vips": result,
        "forwarding_methods": sorted(set(method for entry in result for method in entry["forwarding"])),
    }


# Fallback tunnel devices that receive what IPVS's TUN forwarding sends, per (family of the VIP, tunnel type):
# the kernel creates them when the tunnel module loads (or when one is added by hand).
_TUNNEL_DEVICES = {
    ("ipv4", "ipip"): ("tunl0", "ipip"),
    ("ipv4", "gre"): ("gre0", "gre"),
    ("ipv6", "ipip"): ("ip6tnl0", "ip6tnl"),
    ("ipv6", "gre"): ("ip6gre0", "ip6gre"),
    # GUE: a FOU receive port (gue_ports) strips the UDP and GUE headers; the inner IP-in-IP packet then reaches
    # the ipip device of the VIP's family.
    ("ipv4", "gue"): ("tunl0", "ipip"),
    ("ipv6", "gue"): ("ip6tnl0", "ip6tnl"),
}


def realserver_netstate(cluster, host, arp_interfaces, nat_gateway=None, host_addresses=(), interfaces=None):
    """The kernel state a real server keeps (the lvs-netstate file): VIPs, ARP/rp_filter sysctls, tunnels, routes.

    DR: the VIP on ``lo`` (/32 or /128), ARP for it suppressed (arp_ignore=1, arp_announce=2) on ``all``,
    ``lo`` and ``arp_interfaces``. TUN: the VIP on the tunnel's fallback device (tunl0 for ipip, gre0 for gre,
    tunl0 behind a FOU receive port for gue), rp_filter relaxed there and on ``all`` (decapsulated packets arrive
    on a device with no route back).
    NAT: the default route via ``nat_gateway``, the director's address on this network; nothing for services
    with ``masquerade`` (their answers go to the director's address by any route).
    """
    for index, name in enumerate(arp_interfaces if interfaces is not None else ()):
        check_interface("realserver_arp_interfaces[%d]" % index, name, host, interfaces)
    config = realserver_vips(cluster, host, host_addresses)
    addresses, tunnels, sysctls, routes, gue_ports = [], [], {}, [], []
    suppress_arp = False
    for vip in config["vips"]:
        option = "lvs_virtual_services (%s)" % ", ".join(vip["services"])
        device = "lo"
        if vip["forwarding"] == ["tun"]:
            if len(vip["tun_types"]) > 1:
                raise IpvsValidationError(option, vip["tun_types"], "mixes tunnel types for one VIP on one host")
            device, kind = _TUNNEL_DEVICES[(vip["family"], vip["tun_types"][0])]
            for receiver in vip["gue_ports"]:
                if receiver not in gue_ports:
                    gue_ports.append(receiver)
            if {"name": device, "type": kind} not in tunnels:
                tunnels.append({"name": device, "type": kind})
        if "dr" in vip["forwarding"] or "tun" in vip["forwarding"]:
            addresses.append({"address": vip["address"], "prefix": vip["prefix"], "device": device})
            suppress_arp = suppress_arp or vip["family"] == "ipv4"
        if vip["nat_routed"]:
            if not nat_gateway:
                raise IpvsValidationError("realserver_nat_gateway", None,
                                          "is required: %s reaches this host by NAT, so its answers must go back "
                                          "through the director (or give the service masquerade: true)" % option)
            gateway = parse_address(nat_gateway, "realserver_nat_gateway")
            route = {"to": "default", "via": gateway}
            if route not in routes:
                routes.append(route)
    if suppress_arp:
        for interface in ["all", "lo"] + [name for name in arp_interfaces if name not in ("all", "lo")]:
            sysctls["net.ipv4.conf.%s.arp_ignore" % interface] = "1"
            sysctls["net.ipv4.conf.%s.arp_announce" % interface] = "2"
    for tunnel in tunnels:
        if not tunnel["type"].startswith("ip6"):
            sysctls["net.ipv4.conf.all.rp_filter"] = "0"
            sysctls["net.ipv4.conf.%s.rp_filter" % tunnel["name"]] = "0"
    return {"addresses": addresses, "sysctls": sysctls, "tunnels": tunnels, "routes": routes,
            "gue_ports": gue_ports}


def realserver_plan(cluster, host, arp_interfaces, nat_gateway=None, host_addresses=(), interfaces=None):
    """Everything one real server does, so the role only passes it on: ``vips`` (``realserver_vips``: each VIP it
    serves and how packets reach it, for the preflight) and ``netstate`` (``realserver_netstate``: the
    configuration of its boot-time ``lvs-netstate`` unit)."""
    return {"vips": realserver_vips(cluster, host, host_addresses)["vips"],
            "netstate": realserver_netstate(cluster, host, arp_interfaces, nat_gateway, host_addresses, interfaces)}
