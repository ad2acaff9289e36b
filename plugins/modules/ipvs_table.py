#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) 2026, lvs.cluster contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: ipvs_table
short_description: Manage a whole IPVS (LVS) table - services, real servers and timeouts - declaratively
version_added: 0.1.0
description:
  - Makes the IPVS table of the host match a description, with the fewest kernel operations, applied in batches
    through the kernel's generic netlink interface (no C(ipvsadm), no C(ipvsadm-restore)).
  - Each service in O(services) is complete - its real servers are exactly the ones listed, others are removed.
  - With O(purge=true) services the description does not mention are deleted too; with O(purge=false) (the
    default) they are left alone.
  - "Changes are made in place and in a safe order: new services, changed services, new real servers, changed
    real servers, then removed real servers and removed services - new capacity exists before old capacity goes,
    and a changed scheduler, persistence or forwarding method never deletes and re-creates anything, so
    established connections survive."
author: lvs.cluster maintainers (@lvs-cluster)
extends_documentation_fragment:
  - lvs.cluster.attributes
  - lvs.cluster.attributes.ipvs
  - lvs.cluster.attributes.lock
notes:
  - With C(--diff) the task shows only the services and real servers it changes, before and after, one line each
    in C(ipvsadm -Sn) notation (C(-A -t 192.0.2.10:80 -s wlc), C(-a -t 192.0.2.10:80 -r 192.0.2.21:80 -g -w 1)),
    at most 200 of them; RV(operations) lists every change.
  - With more than 100 services in O(services), the result's C(invocation) (Ansible's echo of the arguments,
    shown with C(-vvv)) gives their number instead of the whole description, which would double the size of the
    result.
  - The kernel loads scheduler modules (C(ip_vs_rr), ...) and the persistence engine module on demand.
  - Every value is validated before the kernel is touched; an error names the option by its path, for example
    C(services[3].reals[0].port).
  - If the kernel refuses an operation, the ones before it stay applied (IPVS has no transactions); the error
    lists them, and running the task again completes the table.
seealso:
  - module: lvs.cluster.ipvs_service
  - module: lvs.cluster.ipvs_real
  - module: lvs.cluster.ipvs_info
options:
  services:
    description:
      - The virtual services. A service is identified by O(services[].protocol), O(services[].address) and
        O(services[].port), or by O(services[].fwmark) and O(services[].family); each may appear once.
    type: list
    elements: dict
    default: []
    suboptions:
      protocol:
        description:
          - The protocol of a service identified by address and port; V(tcp) when left out.
          - Cannot be combined with O(services[].fwmark).
        type: str
        choices: [tcp, udp, sctp]
      address:
        description:
          - The virtual IP address. Required unless O(services[].fwmark) is given.
        type: str
      port:
        description:
          - The port, 0 to 65535 (V(0) means every port and needs O(services[].persistent)).
        type: int
      fwmark:
        description:
          - Identify the service by this firewall mark instead of protocol, address and port.
        type: int
      family:
        description:
          - The address family; V(ipv4) for a fwmark service when left out, the address's own otherwise.
        type: str
        choices: [ipv4, ipv6]
      scheduler:
        description:
          - The scheduling algorithm.
        type: str
        default: wlc
        choices: [rr, wrr, lc, wlc, lblc, lblcr, dh, sh, sed, nq, fo, ovf, mh, twos]
      persistent:
        description:
          - Persistence timeout in seconds; left out, the service is not persistent.
        type: int
      persistence_netmask:
        description:
          - Persistence granularity - IPv4 dotted netmask or prefix length, IPv6 prefix length. Needs
            O(services[].persistent).
        type: str
      one_packet:
        description:
          - One-packet scheduling (UDP only).
        type: bool
        default: false
      scheduler_flags:
        description:
          - Scheduler flags - V(sh-fallback), V(sh-port) for V(sh); V(mh-fallback), V(mh-port) for V(mh).
        type: list
        elements: str
        choices: [sh-fallback, sh-port, mh-fallback, mh-port]
      pe_name:
        description:
          - Persistence engine. Needs O(services[].persistent).
        type: str
        choices: [sip]
      reals:
        description:
          - The complete list of the service's real servers; each address and port may appear once.
        type: list
        elements: dict
        default: []
        suboptions:
          address:
            description:
              - The IP address of the real server. Another family than the service's needs V(tun) forwarding.
            type: str
            required: true
          port:
            description:
              - The port of the real server; the service's port when left out. Can only differ from it with
                V(nat) forwarding.
            type: int
          forwarding:
            description:
              - V(dr) direct routing, V(nat) masquerading, V(tun) tunnelling.
            type: str
            default: dr
            choices: [dr, nat, tun]
          weight:
            description:
              - The weight, 0 to 2147483647 (V(0) - no new connections).
            type: int
            default: 1
          u_threshold:
            description:
              - Upper connection threshold; V(0) means none.
            type: int
            default: 0
          l_threshold:
            description:
              - Lower connection threshold; V(0) means none.
            type: int
            default: 0
          tun_type:
            description:
              - Tunnel type with V(tun) forwarding; V(ipip) when left out.
            type: str
            choices: [ipip, gue, gre]
          tun_port:
            description:
              - UDP destination port of a V(gue) tunnel (required with it).
            type: int
          tun_flags:
            description:
              - Tunnel checksum mode - one of V(nocsum), V(csum) (gue, gre), V(remcsum) (gue).
            type: list
            elements: str
            choices: [nocsum, csum, remcsum]
  rules:
    description:
      - The table as ipvsadm restore lines instead of O(services) - what C(ipvsadm -Sn) prints - read by this
        module into the same model - C(-A) lines are services, the C(-a) lines of a service are its complete list
        of real servers (the same semantics as O(services)); blank lines and C(#) comments are skipped.
      - The short and long ipvsadm spellings are read - C(-t)/C(-u)/C(--sctp-service)/C(-f) with C(-6), C(-s),
        C(-p) (with or without a timeout), C(-M), C(--pe), C(-o), C(-b), C(-r), C(-g)/C(-m)/C(-i), C(-w), C(-x),
        C(-y), C(--tun-type), C(--tun-port), C(--tun-nocsum)/C(--tun-csum)/C(--tun-remcsum); any other line or
        option is an error naming the line (C(rules line 3)) and its text, before anything is read or changed.
      - A compact input for big tables - Ansible checks one string instead of a nested option per real server
        (about 40 % of a 1,000-service task), see C(docs/benchmarks.md).
      - Mutually exclusive with O(services).
    type: str
  timeouts:
    description:
      - Connection timeouts in seconds (C(ipvsadm --set)). Only the given, non-zero ones are set; the others stay
        as they are. Left out, the timeouts are not touched.
    type: dict
    suboptions:
      tcp:
        description: Established TCP connections.
        type: int
      tcp_fin:
        description: TCP connections after a FIN.
        type: int
      udp:
        description: UDP.
        type: int
  purge:
    description:
      - Delete the services (with their real servers) that O(services) does not mention.
      - With O(services=[]) this empties the table.
    type: bool
    default: false
  remove_services:
    description:
      - Services to delete if the table has them (with their real servers), whatever O(purge) says - for example
        the services an earlier run created and the description no longer has (the C(lvs.cluster.director) role
        passes those from its ownership record). Services neither in O(services) nor here are left alone unless
        O(purge=true).
      - A service may not be both in O(services) and here.
    type: list
    elements: dict
    default: []
    suboptions:
      protocol:
        description: The protocol of a service given by address and port (V(tcp) when left out).
        type: str
        choices: [tcp, udp, sctp]
      address:
        description: The virtual IP address.
        type: str
      port:
        description: The port.
        type: int
      fwmark:
        description: The firewall mark of a fwmark service (instead of protocol, address and port).
        type: int
      family:
        description: The address family of a fwmark service (V(ipv4) when left out).
        type: str
        choices: [ipv4, ipv6]
  batch_size:
    description:
      - Send this many operations per netlink message batch (1 to 100000).
    type: int
    default: 100
  return_table:
    description:
      - Return the whole table after the task as RV(table).
      - Off by default because a big table makes a big result (a 1,000-service table is megabytes that Ansible
        copies, censors and stores per host); O(purge=false) then reads only the described services and those
        of O(remove_services).
    type: bool
    default: false
"""

EXAMPLES = r"""
- name: A big table as ipvsadm restore lines (the same model as services; a saved table can be fed back)
  lvs.cluster.ipvs_table:
    purge: true
    rules: |
      -A -t 192.0.2.10:80 -s wlc
      -a -t 192.0.2.10:80 -r 192.0.2.21:80 -g -w 1
      -a -t 192.0.2.10:80 -r 192.0.2.22:80 -g -w 2
      -A -f 10 -s sh -b sh-port
      -a -f 10 -r 198.51.100.7:0 -i -w 1 --tun-type gue --tun-port 6080

- name: The whole table of a director
  lvs.cluster.ipvs_table:
    purge: true
    timeouts:
      tcp: 900
      tcp_fin: 120
      udp: 300
    services:
      - address: 192.0.2.10
        port: 80
        scheduler: wlc
        reals:
          - address: 192.0.2.21
          - address: 192.0.2.22
            weight: 2
      - address: 192.0.2.10
        port: 443
        persistent: 600
        reals:
          - address: 192.0.2.21
          - address: 192.0.2.22
      - protocol: udp
        address: 2001:db8::53
        port: 53
        scheduler: rr
        one_packet: true
        reals:
          - address: 10.0.0.53
            port: 5353
            forwarding: nat
          - address: 2001:db8::153
      - fwmark: 10
        reals:
          - address: 198.51.100.7
            forwarding: tun
            tun_type: gue
            tun_port: 6080
  register: table

- name: Show what changed
  ansible.builtin.debug:
    var: table.operations
"""

RETURN = r"""
operations:
  description: What was done (in check mode, what would be done), in the order it was done, in words.
  returned: always
  type: list
  elements: str
  sample:
    - add service TCP 192.0.2.10:443 (wlc, persistent 600)
    - add real 192.0.2.21:443 to TCP 192.0.2.10:443 (dr, weight 1)
    - edit real 192.0.2.22:80 of TCP 192.0.2.10:80 (weight 1 -> 2)
    - delete service UDP 192.0.2.10:53
missing_kernel_modules:
  description:
    - On failure because a scheduler or persistence engine the task would give a service is a kernel module the
      managed host's kernel does not have (for example C(ip_vs_twos) before Linux 6.2), those modules. The task
      fails before any change, in check mode too; the message names each service and scheduler.
    - The module looks in C(/proc/modules), C(/lib/modules/RELEASE/modules.builtin) and C(modules.dep); where the
      host has no C(modules.dep) (some containers) it does not check and the kernel's own answer fails the task.
  returned: failure
  type: list
  elements: str
  sample: [ip_vs_twos]
counts:
  description: How many operations of each kind.
  returned: success
  type: dict
  contains:
    add_service:
      description: Services added.
      type: int
    edit_service:
      description: Services changed in place.
      type: int
    delete_service:
      description: Services deleted.
      type: int
    add_real:
      description: Real servers added.
      type: int
    edit_real:
      description: Real servers changed in place.
      type: int
    delete_real:
      description: Real servers removed (not counting those of deleted services).
      type: int
    set_timeouts:
      description: 1 if the timeouts were set, else 0.
      type: int
  sample: {add_service: 1, edit_service: 0, add_real: 2, edit_real: 1, delete_real: 0, delete_service: 1,
           set_timeouts: 0}
table:
  description:
    - The table after the task (in check mode, as it would be), services with real servers, without counters.
    - Each service has the structure of RV(lvs.cluster.ipvs_service#module:service).
  returned: success, when O(return_table=true)
  type: dict
  contains:
    services:
      description: Every service of the table, including those left alone with O(purge=false).
      type: list
      elements: dict
    timeouts:
      description: The timeouts, C(tcp), C(tcp_fin), C(udp) in seconds.
      type: dict
      returned: when O(timeouts) is given
  sample:
    services:
      - protocol: tcp
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
          - {address: 192.0.2.21, port: 80, family: ipv4, forwarding: dr, weight: 1, u_threshold: 0,
             l_threshold: 0}
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.lvs.cluster.plugins.module_utils._ipvs_module import (
    DEFAULT_BATCH_SIZE,
    LOCK_OPTIONS,
    SERVICE_KEY_OPTIONS,
    TIMEOUT_OPTIONS,
    run_table,
    table_service_options,
)


def build_module():
    argument_spec = dict(
        services=dict(type="list", elements="dict", default=[], options=table_service_options()),
        rules=dict(type="str"),
        timeouts=dict(type="dict", options=TIMEOUT_OPTIONS),
        purge=dict(type="bool", default=False),
        # The keys are checked by the model (errors name remove_services[N] and the value).
        remove_services=dict(type="list", elements="dict", default=[], options=SERVICE_KEY_OPTIONS),
        batch_size=dict(type="int", default=DEFAULT_BATCH_SIZE),
        return_table=dict(type="bool", default=False),
        **LOCK_OPTIONS
    )
    return AnsibleModule(argument_spec=argument_spec, supports_check_mode=True,
                         mutually_exclusive=[("services", "rules")])


def main():
    run_table(build_module())


if __name__ == "__main__":
    main()
