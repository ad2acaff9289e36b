# -*- coding: utf-8 -*-
# Copyright (c) 2026, lvs.cluster contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Filters that turn the shared cluster description (lvs_virtual_services) into what each host needs.

Documentation of each filter is in the YAML file of the same name beside this one.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible.errors import AnsibleFilterError

try:  # ansible-core 2.19+: `omit` is a sentinel object
    from ansible._internal._templating._utils import Omit as _OMIT
except ImportError:  # older ansible-core: `omit` is a placeholder string
    _OMIT = None
from ansible_collections.lvs.cluster.plugins.module_utils._fwmark_model import FwmarkError
from ansible_collections.lvs.cluster.plugins.module_utils._fwmark_nft import render_nft_boot_script
from ansible_collections.lvs.cluster.plugins.module_utils._ipvs_model import IpvsValidationError, parse_service_key
from ansible_collections.lvs.cluster.plugins.module_utils._ipvs_rules import render_rules
from ansible_collections.lvs.cluster.plugins.module_utils import _lvs_cluster as cluster_model
from ansible_collections.lvs.cluster.plugins.module_utils._lvs_status import status_lines, status_rows


def _is_omitted(value):
    return (_OMIT is not None and value is _OMIT) or (
        isinstance(value, str) and value.startswith("__omit_place_holder__"))


def without_omitted(value):
    """``value`` with every ``omit`` inside it dropped: ``persistent: "{{ x | default(omit) }}"`` in an entry of the
    description means "not set", as it does for a module option."""
    if isinstance(value, dict):
        return dict((key, without_omitted(item)) for key, item in value.items() if not _is_omitted(item))
    if isinstance(value, list):
        return [without_omitted(item) for item in value if not _is_omitted(item)]
    return value


def _parse(services, hostvars, groups):
    try:
        return cluster_model.parse_cluster(without_omitted(services), hostvars, groups)
    except IpvsValidationError as exc:
        raise AnsibleFilterError(str(exc))


def director_config(services, hostvars, groups, host=None, vip_interface="", interfaces=None, default_interface=None,
                    timeouts=None, drained=None, engine="netlink", ha=None, ha_group="directors"):
    cluster = _parse(services, hostvars, groups)
    try:
        vrrp = None
        if ha:
            source, peers = cluster_model.vrrp_addresses(hostvars, list(groups.get(ha_group) or ()), host)
            vrrp = dict(ha, source=source, peers=peers)
        return cluster_model.director_config(cluster, host, vip_interface, interfaces, default_interface, timeouts,
                                             drained or (), engine, vrrp)
    except IpvsValidationError as exc:
        raise AnsibleFilterError(str(exc))


def director_plan(services, hostvars, groups, host, facts, options=None):
    cluster = _parse(services, hostvars, groups)
    options = dict(options or {})
    try:
        ha = options.pop("ha", None)
        ha_group = options.pop("ha_group", None) or "directors"
        if ha:
            source, peers = cluster_model.vrrp_addresses(hostvars, list(groups.get(ha_group) or ()), host)
            options["vrrp"] = dict(ha, source=source, peers=peers)
        return cluster_model.director_plan(cluster, host, facts, options)
    except (IpvsValidationError, FwmarkError) as exc:
        raise AnsibleFilterError(str(exc))


def realserver_config(services, hostvars, groups, host, arp_interfaces=(), nat_gateway="", host_addresses=(),
                      interfaces=None):
    cluster = _parse(services, hostvars, groups)
    try:
        return cluster_model.realserver_plan(cluster, host, list(arp_interfaces or ()), nat_gateway,
                                             list(host_addresses or ()), interfaces)
    except IpvsValidationError as exc:
        raise AnsibleFilterError(str(exc))


def admin_state(before, drain=(), undrain=(), since=""):
    try:
        return cluster_model.admin_state(before, list(drain or ()), list(undrain or ()), since)
    except IpvsValidationError as exc:
        raise AnsibleFilterError(str(exc))


def service_ownership(record, services):
    try:
        return cluster_model.service_ownership(record, services)
    except IpvsValidationError as exc:
        raise AnsibleFilterError(str(exc))


def director_status(info, plan, admin_state=None):
    rows = status_rows(info.get("services") or [], plan, admin_state)
    return {"rows": rows, "lines": status_lines(rows)}


def real_server_addresses(services, hostvars, groups):
    return cluster_model.addresses_by_host(_parse(services, hostvars, groups))


def reweighted(info, addresses, weight=None):
    services = info.get("services") if isinstance(info, dict) else info
    try:
        return cluster_model.reweighted(services, addresses, weight)
    except IpvsValidationError as exc:
        raise AnsibleFilterError(str(exc))


def service_key(service):
    try:
        return str(parse_service_key(service, "service"))
    except IpvsValidationError as exc:
        raise AnsibleFilterError(str(exc))


def ipvsadm_rules(services, hostvars, groups):
    return render_rules(cluster_model.table(_parse(services, hostvars, groups)))


def fwmark_nft_script(marks, table="lvs_cluster_fwmark"):
    try:
        return render_nft_boot_script(marks, table)
    except FwmarkError as exc:
        raise AnsibleFilterError(str(exc))


class FilterModule(object):
    def filters(self):
        return {
            "director_config": director_config,
            "director_plan": director_plan,
            "realserver_config": realserver_config,
            "ipvsadm_rules": ipvsadm_rules,
            "admin_state": admin_state,
            "service_ownership": service_ownership,
            "director_status": director_status,
            "real_server_addresses": real_server_addresses,
            "reweighted": reweighted,
            "service_key": service_key,
            "fwmark_nft_script": fwmark_nft_script,
        }
