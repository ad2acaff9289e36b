#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) 2026, lvs.cluster contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: ipvs_info
short_description: Read the IPVS (LVS) table, counters, timeouts and sync daemons
version_added: 0.1.0
description:
  - Reads everything the kernel's IPVS holds through generic netlink - services with their real servers,
    connection counts, traffic counters and rates, timeouts, connection sync daemons, the IPVS version and the
    size of the connection table - like C(ipvsadm -Ln --stats --rate), C(ipvsadm -L --timeout) and
    C(ipvsadm -L --daemon) together.
  - Changes nothing.
author: lvs.cluster maintainers (@lvs-cluster)
extends_documentation_fragment:
  - lvs.cluster.attributes
  - lvs.cluster.attributes.ipvs
attributes:
  diff_mode:
    details: Nothing ever changes, so there is never a diff.
notes:
  - Fails if the ip_vs kernel module is not loaded (nothing has used IPVS yet); any of the other ipvs modules
    loads it.
seealso:
  - module: lvs.cluster.ipvs_service
  - module: lvs.cluster.ipvs_real
  - module: lvs.cluster.ipvs_table
options:
  stats:
    description:
      - Read the traffic counters and rates of every service and real server.
      - When V(false), the C(stats) of services and real servers are null (connection counts are always read).
    type: bool
    default: true
  lock_timeout:
    description:
      - Accepted and ignored, so that C(module_defaults) for the C(lvs.cluster.ipvs) group can set it for the
        writer modules; this module only reads and never takes the host-wide writer lock.
    type: int
"""

EXAMPLES = r"""
- name: Read IPVS
  lvs.cluster.ipvs_info:
  register: lvs

- name: Active connections per real server of the first service
  ansible.builtin.debug:
    msg: "{{ lvs.ipvs.services[0].reals | items2dict(key_name='address', value_name='active_conns') }}"

- name: Only the configuration, no counters
  lvs.cluster.ipvs_info:
    stats: false
  register: lvs_config
"""

RETURN = r"""
ipvs:
  description: What the kernel holds.
  returned: always
  type: dict
  contains:
    version:
      description: The IPVS version of the kernel.
      type: str
      sample: 1.2.1
    conn_tab_size:
      description: The size of the connection hash table (the C(ip_vs) module's C(conn_tab_bits) as entries).
      type: int
      sample: 4096
    timeouts:
      description: Connection timeouts in seconds.
      type: dict
      contains:
        tcp:
          description: Established TCP connections.
          type: int
        tcp_fin:
          description: TCP connections after a FIN.
          type: int
        udp:
          description: UDP.
          type: int
      sample: {tcp: 900, tcp_fin: 120, udp: 300}
    daemons:
      description: The running connection synchronisation daemons.
      type: list
      elements: dict
      contains:
        state:
          description: V(master) or V(backup).
          type: str
        mcast_interface:
          description: The multicast interface.
          type: str
        syncid:
          description: The sync ID.
          type: int
        sync_maxlen:
          description: The maximum sync message length, if the kernel reports it.
          type: int
        mcast_group:
          description: The multicast group, if the kernel reports it.
          type: str
        mcast_port:
          description: The multicast port, if the kernel reports it.
          type: int
        mcast_ttl:
          description: The multicast TTL, if the kernel reports it.
          type: int
      sample: [{state: master, mcast_interface: eth0, syncid: 1, sync_maxlen: 1472, mcast_group: 224.0.0.81,
                mcast_port: 8848, mcast_ttl: 1}]
    services:
      description: The virtual services in a stable order (address services before fwmark services).
      type: list
      elements: dict
      contains:
        protocol:
          description: V(tcp), V(udp) or V(sctp); absent for fwmark services.
          type: str
        address:
          description: The virtual address; absent for fwmark services.
          type: str
        port:
          description: The port; absent for fwmark services.
          type: int
        fwmark:
          description: The firewall mark; only for fwmark services.
          type: int
        family:
          description: V(ipv4) or V(ipv6).
          type: str
        scheduler:
          description: The scheduler.
          type: str
        persistent:
          description: The persistence timeout in seconds; null if not persistent.
          type: int
        persistence_netmask:
          description: The persistence netmask (dotted for IPv4, prefix length for IPv6); null if not persistent.
          type: str
        one_packet:
          description: One-packet scheduling.
          type: bool
        scheduler_flags:
          description: Scheduler flags, for example V(sh-port).
          type: list
          elements: str
        pe_name:
          description: The persistence engine, or null.
          type: str
        stats:
          description: Traffic counters and rates of the service; null with O(stats=false).
          type: dict
          contains:
            conns:
              description: Connections scheduled.
              type: int
            inpkts:
              description: Incoming packets.
              type: int
            outpkts:
              description: Outgoing packets.
              type: int
            inbytes:
              description: Incoming bytes.
              type: int
            outbytes:
              description: Outgoing bytes.
              type: int
            cps:
              description: Connections per second (rate estimate).
              type: int
            inpps:
              description: Incoming packets per second.
              type: int
            outpps:
              description: Outgoing packets per second.
              type: int
            inbps:
              description: Incoming bytes per second.
              type: int
            outbps:
              description: Outgoing bytes per second.
              type: int
        reals:
          description: The real servers.
          type: list
          elements: dict
          contains:
            address:
              description: The address of the real server.
              type: str
            port:
              description: Its port.
              type: int
            family:
              description: V(ipv4) or V(ipv6).
              type: str
            forwarding:
              description: V(dr), V(nat), V(tun), or the kernel's own V(local) and V(bypass).
              type: str
            weight:
              description: The weight.
              type: int
            u_threshold:
              description: Upper connection threshold (0 - none).
              type: int
            l_threshold:
              description: Lower connection threshold (0 - none).
              type: int
            tun_type:
              description: Tunnel type; only with V(tun) forwarding.
              type: str
            tun_port:
              description: GUE tunnel port (0 otherwise); only with V(tun) forwarding.
              type: int
            tun_flags:
              description: Tunnel checksum flags; only with V(tun) forwarding.
              type: list
              elements: str
            active_conns:
              description: Active connections.
              type: int
            inactive_conns:
              description: Inactive connections.
              type: int
            persistent_conns:
              description: Persistence templates pointing to this real server.
              type: int
            stats:
              description: Traffic counters and rates, the keys of RV(ipvs.services[].stats); null with O(stats=false).
              type: dict
  sample:
    version: 1.2.1
    conn_tab_size: 4096
    timeouts: {tcp: 900, tcp_fin: 120, udp: 300}
    daemons: []
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
        stats: {conns: 12, inpkts: 340, outpkts: 0, inbytes: 22010, outbytes: 0, cps: 0, inpps: 1, outpps: 0,
                inbps: 95, outbps: 0}
        reals:
          - address: 192.0.2.21
            port: 80
            family: ipv4
            forwarding: dr
            weight: 1
            u_threshold: 0
            l_threshold: 0
            active_conns: 2
            inactive_conns: 5
            persistent_conns: 0
            stats: {conns: 12, inpkts: 340, outpkts: 0, inbytes: 22010, outbytes: 0, cps: 0, inpps: 1, outpps: 0,
                    inbps: 95, outbps: 0}
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.lvs.cluster.plugins.module_utils._ipvs_module import run_info


def build_module():
    return AnsibleModule(argument_spec=dict(stats=dict(type="bool", default=True), lock_timeout=dict(type="int")),
                         supports_check_mode=True)


def main():
    run_info(build_module())


if __name__ == "__main__":
    main()
