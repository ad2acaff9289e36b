#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) 2026, lvs.cluster contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: ipvs_service
short_description: Manage one IPVS (LVS) virtual service
version_added: 0.1.0
description:
  - Creates, changes or deletes one IPVS virtual service through the kernel's generic netlink interface, like
    C(ipvsadm -A), C(ipvsadm -E) and C(ipvsadm -D) but idempotent, without C(ipvsadm).
  - A service is identified either by O(protocol), O(address) and O(port), or by O(fwmark) and O(family).
  - The service's attributes are exactly what the task says; an option left out takes its default, so leaving
    out O(persistent) makes an existing persistent service non-persistent.
  - Changed attributes are changed in place (the kernel's edit), so established connections survive.
  - This module does not touch the service's real servers; use M(lvs.cluster.ipvs_real) or
    M(lvs.cluster.ipvs_table) for them.
author: lvs.cluster maintainers (@lvs-cluster)
extends_documentation_fragment:
  - lvs.cluster.attributes
  - lvs.cluster.attributes.ipvs
  - lvs.cluster.attributes.lock
notes:
  - With C(--diff) the task shows the service before and after in C(ipvsadm -Sn) notation (C(-A -t 192.0.2.10:80
    -s wlc), C(-a -t 192.0.2.10:80 -r 192.0.2.21:80 -g -w 1)); nothing when it does not change.
  - The kernel loads the scheduler module (C(ip_vs_rr), C(ip_vs_wlc), ...) and the persistence engine module
    (C(ip_vs_pe_sip)) on demand; a scheduler the kernel was built without is reported as not available.
  - Needs C(CAP_NET_ADMIN) (run as root, for example with C(become)), and acts on the network namespace the
    module runs in.
  - With O(state=absent) the service is deleted together with all its real servers, as C(ipvsadm -D) does.
seealso:
  - module: lvs.cluster.ipvs_real
  - module: lvs.cluster.ipvs_table
  - module: lvs.cluster.ipvs_info
options:
  protocol:
    description:
      - The protocol of a service identified by address and port.
      - When O(address) is given and this is left out, V(tcp).
      - Cannot be combined with O(fwmark).
    type: str
    choices: [tcp, udp, sctp]
  address:
    description:
      - The virtual IP address (IPv4 or IPv6, brackets allowed) of the service.
      - Required unless O(fwmark) is given; requires O(port).
    type: str
  port:
    description:
      - The port of the service, 0 to 65535.
      - V(0) means every port and needs O(persistent) (as with C(ipvsadm)).
    type: int
  fwmark:
    description:
      - Identify the service by this firewall mark (1 to 4294967295) instead of protocol, address and port.
      - The packets must be marked by the firewall, for example with M(lvs.cluster.fwmark).
    type: int
  family:
    description:
      - The address family of the service.
      - For a O(fwmark) service it defaults to V(ipv4); for an O(address) service it follows the address, and if
        given must match it.
    type: str
    choices: [ipv4, ipv6]
  scheduler:
    description:
      - The scheduling algorithm (C(ipvsadm -s)).
    type: str
    default: wlc
    choices: [rr, wrr, lc, wlc, lblc, lblcr, dh, sh, sed, nq, fo, ovf, mh, twos]
  persistent:
    description:
      - Make the service persistent with this timeout in seconds (1 to 4294967295), like C(ipvsadm -p).
      - Left out, the service is not persistent.
    type: int
  persistence_netmask:
    description:
      - Group clients for persistence by this netmask (C(ipvsadm -M)).
      - For IPv4 a dotted netmask (V(255.255.255.0)) or a prefix length (V(24)); for IPv6 a prefix length.
      - Left out, every client address is its own group. Needs O(persistent).
    type: str
  one_packet:
    description:
      - One-packet scheduling (C(ipvsadm -o)) - schedule every datagram on its own. UDP services only.
    type: bool
    default: false
  scheduler_flags:
    description:
      - Scheduler flags (C(ipvsadm -b)). V(sh-fallback) and V(sh-port) apply to the V(sh) scheduler,
        V(mh-fallback) and V(mh-port) to the V(mh) scheduler.
    type: list
    elements: str
    choices: [sh-fallback, sh-port, mh-fallback, mh-port]
  pe_name:
    description:
      - Persistence engine (C(ipvsadm --pe)). Needs O(persistent).
    type: str
    choices: [sip]
  state:
    description:
      - V(present) creates the service or changes its attributes in place.
      - V(absent) deletes it together with its real servers.
    type: str
    default: present
    choices: [present, absent]
"""

EXAMPLES = r"""
- name: A TCP web service, weighted least-connection
  lvs.cluster.ipvs_service:
    address: 192.0.2.10
    port: 80

- name: HTTPS with persistence by /24 client network
  lvs.cluster.ipvs_service:
    address: 192.0.2.10
    port: 443
    scheduler: wrr
    persistent: 600
    persistence_netmask: 255.255.255.0

- name: DNS over UDP, one-packet scheduling
  lvs.cluster.ipvs_service:
    protocol: udp
    address: 2001:db8::53
    port: 53
    scheduler: rr
    one_packet: true

- name: Source hashing by address and port
  lvs.cluster.ipvs_service:
    address: 192.0.2.10
    port: 8080
    scheduler: sh
    scheduler_flags: [sh-port]

- name: All ports of an address, sticky for 5 minutes
  lvs.cluster.ipvs_service:
    address: 192.0.2.11
    port: 0
    persistent: 300

- name: A firewall-mark service
  lvs.cluster.ipvs_service:
    fwmark: 10
    scheduler: lc

- name: Delete a service and its real servers
  lvs.cluster.ipvs_service:
    address: 192.0.2.10
    port: 80
    state: absent
"""

RETURN = r"""
service:
  description:
    - The service after the task (in check mode, as it would be); null when O(state=absent).
    - The same structure as a service in the result of M(lvs.cluster.ipvs_info), without counters.
  returned: always
  type: dict
  sample:
    protocol: tcp
    address: 192.0.2.10
    port: 443
    family: ipv4
    scheduler: wrr
    persistent: 600
    persistence_netmask: 255.255.255.0
    one_packet: false
    scheduler_flags: []
    pe_name: null
    reals:
      - address: 192.0.2.21
        port: 443
        family: ipv4
        forwarding: dr
        weight: 1
        u_threshold: 0
        l_threshold: 0
missing_kernel_modules:
  description:
    - On failure because the scheduler or persistence engine is a kernel module the managed host's kernel does not
      have (for example C(ip_vs_twos) before Linux 6.2), those modules; nothing was changed, in check mode either.
      See RV(lvs.cluster.ipvs_table#module:missing_kernel_modules).
  returned: failure
  type: list
  elements: str
  sample: [ip_vs_twos]
operations:
  description: What was done (in check mode, what would be done), in order, in words.
  returned: always
  type: list
  elements: str
  sample: ["edit service TCP 192.0.2.10:443 (scheduler wlc -> wrr)"]
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.lvs.cluster.plugins.module_utils._ipvs_module import (
    LOCK_OPTIONS,
    SERVICE_KEY_CONSTRAINTS,
    run_service,
    service_argument_spec,
)


def build_module():
    argument_spec = service_argument_spec()
    argument_spec.update(state=dict(type="str", default="present", choices=["present", "absent"]), **LOCK_OPTIONS)
    return AnsibleModule(argument_spec=argument_spec, supports_check_mode=True, **SERVICE_KEY_CONSTRAINTS)


def main():
    run_service(build_module())


if __name__ == "__main__":
    main()
