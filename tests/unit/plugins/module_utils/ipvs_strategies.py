# -*- coding: utf-8 -*-
# Copyright (c) 2026, lvs.cluster contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Hypothesis strategies shared by the round-trip tests (imported as ``ipvs_strategies``): module-style
parameters of a virtual service and its real servers that the model accepts."""

from hypothesis import reject, strategies as st

from ansible_collections.lvs.cluster.plugins.module_utils._ipvs_model import (
    IpvsValidationError,
    Table,
    parse_real,
    parse_service,
)

# Tables the model accepts, drawn per family so that few draws are thrown away (the model refuses mixed families,
# a mask of the other family and scheduler flags of another scheduler).
_ADDRESSES = {"ipv4": ["192.0.2.10", "192.0.2.11", "198.51.100.7", "10.0.0.5"],
              "ipv6": ["2001:db8::10", "2001:db8::21", "2001:db8::33"]}
_NETMASKS = {"ipv4": ["255.255.255.0", "255.255.0.0"], "ipv6": ["64", "48"]}
_SCHEDULER_FLAGS = {"sh": [[], ["sh-port"], ["sh-fallback", "sh-port"]], "mh": [[], ["mh-port"]]}


@st.composite
def service_params(draw, family):
    if draw(st.booleans()):
        params = {"fwmark": draw(st.integers(1, 2 ** 32 - 1)), "family": family}
    else:
        params = {"protocol": draw(st.sampled_from(["tcp", "udp", "sctp"])),
                  "address": draw(st.sampled_from(_ADDRESSES[family])), "port": draw(st.integers(0, 65535))}
    params["scheduler"] = draw(st.sampled_from(["rr", "wrr", "wlc", "sh", "mh", "lblc"]))
    if draw(st.booleans()):
        params["persistent"] = draw(st.integers(1, 100000))
        if draw(st.booleans()):
            params["persistence_netmask"] = draw(st.sampled_from(_NETMASKS[family]))
        if draw(st.booleans()):
            params["pe_name"] = "sip"
    # One-packet scheduling is UDP's (or a mark's); port 0 (every port) needs persistence.
    params["one_packet"] = params.get("protocol", "udp") == "udp" and draw(st.booleans())
    if params.get("port") == 0 and "persistent" not in params:
        params["persistent"] = draw(st.integers(1, 100000))
    params["scheduler_flags"] = draw(st.sampled_from(_SCHEDULER_FLAGS.get(params["scheduler"], [[]])))
    return params


@st.composite
def real_params(draw, family):
    params = {"address": draw(st.sampled_from(_ADDRESSES[family])),
              "forwarding": draw(st.sampled_from(["dr", "nat", "tun"])),
              "weight": draw(st.integers(0, 100)), "u_threshold": draw(st.integers(0, 5000))}
    # A lower threshold above the upper one is refused.
    params["l_threshold"] = draw(st.integers(0, min(50, params["u_threshold"]) if params["u_threshold"] else 50))
    if params["forwarding"] == "nat":
        params["port"] = draw(st.integers(0, 65535))
    if params["forwarding"] == "tun":
        params["tun_type"] = draw(st.sampled_from(["ipip", "gue", "gre"]))
        if params["tun_type"] == "gue":
            params["tun_port"] = draw(st.integers(1, 65535))
        if params["tun_type"] != "ipip":
            params["tun_flags"] = draw(st.sampled_from([[], ["csum"], ["nocsum"]] + (
                [["remcsum"]] if params["tun_type"] == "gue" else [])))
    return params


@st.composite
def described_service(draw):
    family = draw(st.sampled_from(["ipv4", "ipv6"]))
    return draw(service_params(family)), draw(st.lists(real_params(family), max_size=4))


@st.composite
def tables(draw, max_services=5):
    """A ``Table`` of up to ``max_services`` described services (a later one replaces an earlier one of the same
    key); a draw the model refuses is rejected."""
    services = {}
    for service_params, reals_params in draw(st.lists(described_service(), max_size=max_services)):
        try:
            service = parse_service(service_params)
            reals = dict((real.key, real) for real in (parse_real(params, service.key) for params in reals_params))
        except IpvsValidationError:
            reject()
        services[service.key] = service.with_reals(reals.values())
    return Table(services=tuple(services.values()))
