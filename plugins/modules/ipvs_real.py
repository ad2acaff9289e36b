#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) 2026, lvs.cluster contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: ipvs_real
short_description: Manage one real server of an IPVS (LVS) virtual service, and drain it
version_added: 0.1.0
description:
  - Adds, changes, drains or removes one real server (destination) of an existing IPVS virtual service through
    the kernel's generic netlink interface, like C(ipvsadm -a), C(ipvsadm -e) and C(ipvsadm -d) but idempotent,
    without C(ipvsadm).
  - The service is named by O(protocol), O(address) and O(port), or by O(fwmark) and O(family); it must exist
    (create it with M(lvs.cluster.ipvs_service) or M(lvs.cluster.ipvs_table)).
  - With O(state=present) the real server's attributes are exactly what the task says; an option left out takes
    its default. Changes are made in place (the kernel's edit, which can also change the forwarding method), so
    established connections survive.
  - O(state=drained) takes a real server out of rotation without cutting its connections - its weight becomes
    V(0), everything else is kept - and waits until its connections are gone (see O(drain_wait_for)).
author: lvs.cluster maintainers (@lvs-cluster)
extends_documentation_fragment:
  - lvs.cluster.attributes
  - lvs.cluster.attributes.ipvs
  - lvs.cluster.attributes.lock
attributes:
  check_mode:
    details:
      - In check mode O(state=drained) reports the current connection counts and does not wait.
      - In check mode O(state=present) of a service that does not exist yet predicts the addition and warns, because
        an earlier task of the play may create the service; a real run fails unless one does.
notes:
  - With C(--diff) the task shows the real server before and after in C(ipvsadm -Sn) notation (C(-A -t 192.0.2.10:80
    -s wlc), C(-a -t 192.0.2.10:80 -r 192.0.2.21:80 -g -w 1)); nothing when it does not change.
  - A real server of another address family than its service (an IPv6 real server behind an IPv4 service, or the
    reverse) needs O(forwarding=tun); the kernel refuses it while a connection sync daemon runs.
  - With V(dr) and V(tun) forwarding the real server receives the packets on the service's own port, so
    O(real_port) can only differ from O(port) with V(nat).
  - When O(real_port) is left out with O(state=absent) or O(state=drained), the real server is found by its
    address alone; if the service has several at that address, O(real_port) is needed.
  - With O(state=drained) the host lock (O(lock_timeout)) is held only while the weight is set to V(0), and
    released before waiting for the connections to end, so a drain that takes minutes does not hold up other
    runs.
seealso:
  - module: lvs.cluster.ipvs_service
  - module: lvs.cluster.ipvs_table
  - module: lvs.cluster.ipvs_info
options:
  protocol:
    description:
      - The protocol of the service, when it is identified by address and port.
      - When O(address) is given and this is left out, V(tcp). Cannot be combined with O(fwmark).
    type: str
    choices: [tcp, udp, sctp]
  address:
    description:
      - The virtual IP address of the service. Required unless O(fwmark) is given; requires O(port).
    type: str
  port:
    description:
      - The port of the service (V(0) for an all-ports service).
    type: int
  fwmark:
    description:
      - The firewall mark of the service, for a service identified by a mark.
    type: int
  family:
    description:
      - The address family of the service. For a O(fwmark) service it defaults to V(ipv4); for an O(address)
        service it follows the address.
    type: str
    choices: [ipv4, ipv6]
  real_address:
    description:
      - The IP address (IPv4 or IPv6) of the real server.
    type: str
    required: true
  real_port:
    description:
      - The port of the real server. Defaults to the service's port (V(0) for a fwmark service).
      - Can only differ from the service's port with O(forwarding=nat).
    type: int
  forwarding:
    description:
      - The packet forwarding method - V(dr) direct routing (gatewaying, C(ipvsadm -g)), V(nat) masquerading
        (C(ipvsadm -m)), V(tun) IP-in-IP or GUE/GRE tunnelling (C(ipvsadm -i)).
      - With O(state=present), V(dr) when left out. Not allowed with O(state=drained).
    type: str
    choices: [dr, nat, tun]
  weight:
    description:
      - The weight, 0 to 2147483647. A real server with weight V(0) gets no new connections.
      - With O(state=present), V(1) when left out. Not allowed with O(state=drained).
    type: int
  u_threshold:
    description:
      - Upper connection threshold - no new connections once the real server has this many; V(0) means none.
      - With O(state=present), V(0) when left out. Not allowed with O(state=drained).
    type: int
  l_threshold:
    description:
      - Lower connection threshold - new connections again once below it; V(0) means none. At most
        O(u_threshold).
      - With O(state=present), V(0) when left out. Not allowed with O(state=drained).
    type: int
  tun_type:
    description:
      - The tunnel type with O(forwarding=tun). V(ipip) when left out.
    type: str
    choices: [ipip, gue, gre]
  tun_port:
    description:
      - The UDP destination port of a V(gue) tunnel (required with it).
    type: int
  tun_flags:
    description:
      - Tunnel checksum mode, one of V(nocsum) (the default), V(csum) (V(gue) and V(gre)) or V(remcsum)
        (V(gue) only).
    type: list
    elements: str
    choices: [nocsum, csum, remcsum]
  state:
    description:
      - V(present) adds the real server or changes its attributes in place.
      - V(absent) removes it (its connections are cut).
      - V(drained) sets its weight to V(0), keeping every other attribute, and waits for its connections to
        end (see O(drain_wait_for), O(drain_timeout)). The real server must exist. Use O(state=present) to put
        it back in rotation.
    type: str
    default: present
    choices: [present, absent, drained]
  drain_wait_for:
    description:
      - With O(state=drained), the connection counters that must reach 0 - V(active) (established TCP
        connections), V(inactive) (other connection entries, for example closing or UDP), V(persistent)
        (persistence templates - clients that would still be sent here).
    type: list
    elements: str
    default: [active]
    choices: [active, inactive, persistent]
  drain_timeout:
    description:
      - With O(state=drained), wait at most this many seconds. V(0) sets the weight without waiting.
      - Running out of time is not a failure unless O(drain_fail_on_timeout=true); RV(drain.timed_out) tells.
    type: int
    default: 300
  drain_poll_interval:
    description:
      - With O(state=drained), read the counters every this many seconds.
    type: float
    default: 2.0
  drain_fail_on_timeout:
    description:
      - With O(state=drained), fail when the connections have not ended within O(drain_timeout).
    type: bool
    default: false
"""

EXAMPLES = r"""
- name: A direct-routing real server
  lvs.cluster.ipvs_real:
    address: 192.0.2.10
    port: 80
    real_address: 192.0.2.21
    weight: 10

- name: A NAT real server on another port
  lvs.cluster.ipvs_real:
    address: 192.0.2.10
    port: 80
    real_address: 10.0.0.21
    real_port: 8080
    forwarding: nat
    u_threshold: 1000
    l_threshold: 800

- name: A GUE-tunnelled real server behind a firewall-mark service
  lvs.cluster.ipvs_real:
    fwmark: 10
    real_address: 198.51.100.7
    forwarding: tun
    tun_type: gue
    tun_port: 6080
    tun_flags: [csum]

- name: Drain before maintenance, waiting up to 10 minutes for sessions and persistence
  lvs.cluster.ipvs_real:
    address: 192.0.2.10
    port: 80
    real_address: 192.0.2.21
    state: drained
    drain_wait_for: [active, persistent]
    drain_timeout: 600
  register: drained

- name: Back in rotation
  lvs.cluster.ipvs_real:
    address: 192.0.2.10
    port: 80
    real_address: 192.0.2.21
    weight: 10

- name: Remove a real server
  lvs.cluster.ipvs_real:
    address: 192.0.2.10
    port: 80
    real_address: 192.0.2.21
    state: absent
"""

RETURN = r"""
real:
  description: The real server after the task (in check mode, as it would be); null when O(state=absent).
  returned: always
  type: dict
  sample:
    address: 192.0.2.21
    port: 80
    family: ipv4
    forwarding: dr
    weight: 10
    u_threshold: 0
    l_threshold: 0
service:
  description: The service with all its real servers after the task (the structure of RV(real) per real).
  returned: success
  type: dict
  sample:
    protocol: tcp
    address: 192.0.2.10
    port: 80
    family: ipv4
    scheduler: wlc
    persistent: null
    persistence_netmask: null
    one_packet: false
    scheduler_flags: []
    pe_name: null
    reals:
      - address: 192.0.2.21
        port: 80
        family: ipv4
        forwarding: dr
        weight: 10
        u_threshold: 0
        l_threshold: 0
operations:
  description: What was done (in check mode, what would be done), in words.
  returned: always
  type: list
  elements: str
  sample: ["edit real 192.0.2.21:80 of TCP 192.0.2.10:80 (weight 10 -> 0)"]
drain:
  description: How draining went.
  returned: when O(state=drained)
  type: dict
  contains:
    waited_seconds:
      description: How long the module waited.
      type: float
      sample: 12.5
    timed_out:
      description: Whether O(drain_timeout) passed before the counters of O(drain_wait_for) reached 0.
      type: bool
      sample: false
    remaining:
      description: The real server's connection counters when the module stopped waiting.
      type: dict
      contains:
        active:
          description: Active connections.
          type: int
        inactive:
          description: Inactive connections.
          type: int
        persistent:
          description: Persistence templates.
          type: int
      sample: {active: 0, inactive: 3, persistent: 0}
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.lvs.cluster.plugins.module_utils._ipvs_module import (
    LOCK_OPTIONS,
    SERVICE_KEY_CONSTRAINTS,
    SERVICE_KEY_OPTIONS,
    run_real,
)


def build_module():
    argument_spec = dict(
        SERVICE_KEY_OPTIONS,
        real_address=dict(type="str", required=True),
        real_port=dict(type="int"),
        forwarding=dict(type="str", choices=["dr", "nat", "tun"]),
        weight=dict(type="int"),
        u_threshold=dict(type="int"),
        l_threshold=dict(type="int"),
        tun_type=dict(type="str", choices=["ipip", "gue", "gre"]),
        tun_port=dict(type="int"),
        tun_flags=dict(type="list", elements="str", choices=["nocsum", "csum", "remcsum"]),
        state=dict(type="str", default="present", choices=["present", "absent", "drained"]),
        drain_wait_for=dict(type="list", elements="str", default=["active"],
                            choices=["active", "inactive", "persistent"]),
        drain_timeout=dict(type="int", default=300),
        drain_poll_interval=dict(type="float", default=2.0),
        drain_fail_on_timeout=dict(type="bool", default=False),
        **LOCK_OPTIONS
    )
    return AnsibleModule(argument_spec=argument_spec, supports_check_mode=True, **SERVICE_KEY_CONSTRAINTS)


def main():
    run_real(build_module())


if __name__ == "__main__":
    main()
