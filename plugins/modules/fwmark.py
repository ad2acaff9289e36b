#!/usr/bin/python
# -*- coding: utf-8 -*-

# Copyright (c) 2025, lvs.cluster maintainers
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function
__metaclass__ = type


DOCUMENTATION = r"""
module: fwmark
short_description: Manage the packet-marking rules of IPVS firewall-mark services
version_added: 0.1.0
author: lvs.cluster maintainers (@lvs-cluster)
description:
  - Manages the rules that set a firewall mark on packets arriving for a virtual IP, so that several ports
    (for example V(80) and V(443)) of one address become one IPVS service C(FWM <mark>), as with
    C(iptables -t mangle -A PREROUTING -d VIP -p tcp -m multiport --dports 80,443 -j MARK --set-mark 1).
  - One task manages B(all) the rules of one O(mark) in one address family, and nothing else. The module
    finds its rules by their comment C(lvs.cluster fwmark <mark>) (followed by O(name) when set) and never
    reads, changes or removes a rule without such a comment.
  - Packets are marked in C(PREROUTING) only, so only packets arriving from the network are marked, not
    locally generated ones (as in the classic LVS setup, where clients are never on the director).
  - Changes are atomic. With nftables the old rules of the mark are deleted and the new ones added in one
    C(nft -f -) transaction; with iptables in one C(iptables-restore --noflush) commit per family.
    Rules that are already right are left alone.
requirements:
  - C(nft) (with JSON output, nftables 0.9.1 or later) for O(backend=nftables).
  - C(iptables), C(iptables-restore) (and C(ip6tables), C(ip6tables-restore) for IPv6), iptables 1.6.2 or later, for O(backend=iptables).
extends_documentation_fragment:
  - lvs.cluster.attributes
  - lvs.cluster.attributes.lock
options:
  mark:
    description:
      - The firewall mark to set, the C(N) of the IPVS service C(FWM N) (C(ipvsadm -A -f N)).
      - Identifies the set of rules this task manages.
      - Between V(1) and V(4294967295) (V(0xFFFFFFFF)); V(0) means "no mark" to IPVS and is refused.
    type: int
    required: true
  name:
    description:
      - Optional label, written into the rule comment after the mark (C(lvs.cluster fwmark 1 web)).
      - The mark alone identifies the rules, so changing the name relabels the existing rules.
      - "1 to 64 characters from C(A-Z a-z 0-9 _ . : @ + / -), starting with a letter or a digit."
    type: str
  destination:
    description:
      - Destination addresses (the virtual IPs) or prefixes whose packets are marked, for example
        V(192.0.2.10), V(198.51.100.0/24) or V(2001:db8::10).
      - All of one family. A prefix must not have host bits set, and the entries must not overlap.
      - Required when O(state=present). With O(state=absent) it is only used to infer O(family).
    type: list
    elements: str
  family:
    description:
      - The address family of the rules.
      - Inferred from O(destination) when not set. An address of the other family is an error.
      - With O(state=absent) and neither O(family) nor O(destination), the mark's rules of both families are removed.
    type: str
    choices: [ipv4, ipv6]
  protocol:
    description:
      - The transport protocol of the packets to mark.
      - V(all) marks every packet to the destination, whatever its protocol; O(ports) must then be empty.
    type: str
    choices: [tcp, udp, sctp, all]
    default: tcp
  ports:
    description:
      - Destination ports and port ranges, for example V([80, 443, "8000-8010"]). A range is written
        C(low-high) (C(low:high) is accepted too); ports are 1 to 65535.
      - Normalised into sorted, merged ranges (V([81, 80]) becomes C(80-81)).
      - Empty means every port of O(protocol).
    type: list
    elements: raw
    default: []
  backend:
    description:
      - Which firewall framework holds the rules.
      - V(nftables) uses the table O(nft_table) of family C(inet) that the module owns, with a chain
        C(prerouting) (C(type filter hook prerouting priority mangle)), one rule per mark.
      - V(iptables) uses the C(PREROUTING) chain of the C(mangle) table of C(iptables)/C(ip6tables),
        one rule per destination and per group of at most 15 ports (C(-m multiport)).
      - V(auto) picks V(iptables) when C(nft -j list tables) fails (no C(nft), no JSON support, no kernel
        support), or when C(iptables)/C(ip6tables) is the legacy variant (C(iptables -V) says C(legacy)) and
        its C(mangle) table already holds rules; otherwise it picks V(nftables). The result is returned as RV(backend).
      - V(auto) looks for the mark's rules in the chosen backend only; when switching backends, remove the rules
        from the old one with an explicit O(backend).
    type: str
    choices: [auto, nftables, iptables]
    default: auto
  nft_table:
    description:
      - Name of the C(inet) table the module owns with O(backend=nftables). It is created when needed
        and deleted when its last rule is removed.
      - Do not put your own rules into it; rules without the module's comment are left alone, though.
    type: str
    default: lvs_cluster_fwmark
  state:
    description:
      - V(present) makes the rules of O(mark) exactly the ones described; V(absent) removes them.
    type: str
    choices: [present, absent]
    default: present
notes:
  - Rules are appended to the end of the C(PREROUTING) chain (iptables). With nftables they live in their own
    chain at priority C(mangle); a later rule or chain that sets the mark again wins.
  - The module does not make the rules persistent across reboots; save them with your distribution's
    mechanism (C(nftables.service), C(netfilter-persistent)) or run the module at boot.
seealso:
  - name: ipvsadm(8)
    description: Firewall-mark virtual services (C(-f)).
    link: https://man7.org/linux/man-pages/man8/ipvsadm.8.html
  - name: nft(8)
    description: The nftables command line tool.
    link: https://www.netfilter.org/projects/nftables/manpage.html
"""

EXAMPLES = r"""
- name: Mark HTTP and HTTPS of one VIP with mark 1 (one IPVS service for both ports)
  lvs.cluster.fwmark:
    mark: 1
    name: web
    destination: 192.0.2.10
    protocol: tcp
    ports: [80, 443]

- name: The IPVS service FWM 1 that the mark feeds (HTTP and HTTPS stick to the same real server)
  lvs.cluster.ipvs_service:
    fwmark: 1
    family: ipv4
    scheduler: wlc
    persistent: 300

- name: Mark a port range of two VIPs over IPv6, with iptables
  lvs.cluster.fwmark:
    mark: 2
    destination:
      - 2001:db8::10
      - 2001:db8::11
    protocol: udp
    ports: ["5060", "10000-20000"]
    backend: iptables

- name: Mark everything sent to a /28, whatever the protocol
  lvs.cluster.fwmark:
    mark: 3
    destination: 198.51.100.16/28
    protocol: all

- name: Show what would change without changing anything
  lvs.cluster.fwmark:
    mark: 1
    destination: 192.0.2.10
    ports: [80, 443, 8443]
  check_mode: true
  register: plan

- name: Remove the rules of mark 1 (both families)
  lvs.cluster.fwmark:
    mark: 1
    state: absent
"""

RETURN = r"""
backend:
  description: The backend used, the choice made by O(backend=auto) when it was V(auto).
  returned: success
  type: str
  sample: nftables
rules:
  description:
    - The normalised rules of this mark in force after the task (that would be in force, in check mode).
    - Empty with O(state=absent).
  returned: success
  type: list
  elements: dict
  contains:
    family:
      description: Address family.
      type: str
      sample: ipv4
    destination:
      description: Destination addresses and prefixes (an address without a prefix length is a host).
      type: list
      elements: str
      sample: [192.0.2.10]
    protocol:
      description: V(tcp), V(udp), V(sctp), or V(all).
      type: str
      sample: tcp
    ports:
      description: Ports and C(low-high) ranges; empty for every port.
      type: list
      elements: str
      sample: ["80", "443"]
    mark:
      description: The mark the rule sets.
      type: int
      sample: 1
    name:
      description: The label from O(name), or V(null).
      type: str
      sample: web
    comment:
      description: The comment that identifies the rule.
      type: str
      sample: lvs.cluster fwmark 1 web
  sample:
    - family: ipv4
      destination: [192.0.2.10]
      protocol: tcp
      ports: ["80", "443"]
      mark: 1
      name: web
      comment: lvs.cluster fwmark 1 web
commands:
  description:
    - The commands that changed the host (that would change it, in check mode), as shell command lines; input
      fed on standard input is shown as a here-document. Empty when nothing changed.
  returned: success
  type: list
  elements: str
  sample:
    - "nft -f - <<'EOF'\nadd table inet lvs_cluster_fwmark\n...\nEOF"
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.lvs.cluster.plugins.module_utils._fwmark import (
    DEFAULT_LOCK_TIMEOUT,
    DEFAULT_TABLE,
    FwmarkError,
    ensure,
)


def build_module():
    return AnsibleModule(
        argument_spec=dict(
            mark=dict(type='int', required=True),
            name=dict(type='str'),
            destination=dict(type='list', elements='str'),
            family=dict(type='str', choices=['ipv4', 'ipv6']),
            protocol=dict(type='str', default='tcp', choices=['tcp', 'udp', 'sctp', 'all']),
            ports=dict(type='list', elements='raw', default=[]),
            backend=dict(type='str', default='auto', choices=['auto', 'nftables', 'iptables']),
            nft_table=dict(type='str', default=DEFAULT_TABLE),
            state=dict(type='str', default='present', choices=['present', 'absent']),
            lock_timeout=dict(type='int', default=DEFAULT_LOCK_TIMEOUT),
        ),
        required_if=[('state', 'present', ('destination',))],
        supports_check_mode=True,
    )


def main():
    module = build_module()

    def run(argv, data=None):
        return module.run_command(argv, data=data, environ_update=dict(LANG='C', LC_ALL='C', LC_MESSAGES='C'))

    def get_bin(name):
        return module.get_bin_path(name, required=False)

    try:
        result = ensure(module.params, run, get_bin, check_mode=module.check_mode)
    except FwmarkError as exc:
        module.fail_json(msg=exc.msg, **exc.details)
    if not module._diff:
        result.pop('diff')
    module.exit_json(**result)


if __name__ == '__main__':
    main()
