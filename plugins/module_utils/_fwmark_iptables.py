# -*- coding: utf-8 -*-
# Copyright (c) 2025, lvs.cluster maintainers
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The iptables backend of the fwmark module: our rules in the mangle table's PREROUTING read from
``iptables-save`` into ``Rule`` objects, changed with one ``iptables-restore --noflush`` commit per family.

PRIVATE to the ``lvs.cluster`` collection (see ``_fwmark``). Standard library only.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import ipaddress
import shlex

from ansible_collections.lvs.cluster.plugins.module_utils._ipvs_model import FULL_PREFIX
from ansible_collections.lvs.cluster.plugins.module_utils._fwmark_model import (
    Command,
    FAMILIES,
    FwmarkError,
    IPTABLES_CHAIN,
    IPTABLES_TABLE,
    MARK_MAX,
    MULTIPORT_MAX,
    PORT_MAX,
    PORT_MIN,
    PORT_PROTOCOLS,
    Rule,
    FAMILY_OF_VERSION,
    IPTABLES_BIN,
    IPTABLES_RESTORE_BIN,
    run_checked,
    format_network,
    format_port,
    merge_ranges,
    select_rules,
)


# --------------------------------------------------------------------------------------------
# iptables / ip6tables
# --------------------------------------------------------------------------------------------

def chunk_ports(ports, limit=MULTIPORT_MAX):
    """Split port ranges into groups that fit one ``-m multiport`` match (a range counts as two)."""
    chunks, current, weight = [], [], 0
    for port_range in ports:
        cost = 1 if port_range[0] == port_range[1] else 2
        if current and weight + cost > limit:
            chunks.append(tuple(current))
            current, weight = [], 0
        current.append(port_range)
        weight += cost
    if current:
        chunks.append(tuple(current))
    return chunks


def render_iptables_args(rule):
    """``Rule`` → the arguments after ``-A PREROUTING``, in the order ``iptables -S`` prints them."""
    args = ['-d', '%s/%d' % (rule.destinations[0], FULL_PREFIX[rule.family])
            if '/' not in rule.destinations[0] else rule.destinations[0]]
    if rule.protocol in PORT_PROTOCOLS:
        args += ['-p', rule.protocol]
        if len(rule.ports) == 1:
            args += ['-m', rule.protocol, '--dport', format_port(rule.ports[0], ':')]
        elif rule.ports:
            args += ['-m', 'multiport', '--dports', ','.join(format_port(p, ':') for p in rule.ports)]
    args += ['-m', 'comment', '--comment', rule.comment, '-j', 'MARK', '--set-xmark', '0x%x/0xffffffff' % rule.mark]
    return args


def render_iptables_line(rule, action='-A'):
    """A rule line in ``iptables -S`` / ``iptables-restore`` syntax (comment in double quotes)."""
    args = render_iptables_args(rule)
    out = [action, IPTABLES_CHAIN]
    for arg in args:
        out.append('"%s"' % arg if ' ' in arg or arg == '' else arg)
    return ' '.join(out)


def _parse_iptables_ports(text):
    ranges = []
    for item in text.split(','):
        low, sep, high = item.partition(':')
        low = int(low)
        high = int(high) if sep else low
        if not (PORT_MIN <= low <= high <= PORT_MAX):
            raise ValueError('bad port %r' % item)
        ranges.append((low, high))
    return tuple(ranges)


def parse_iptables_line(line, family):
    """One ``-A PREROUTING ...`` line of ``iptables -S`` → ``Rule`` (``None`` for other lines).

    The rule's ``ref`` is the line itself, so it can be deleted with ``-D`` + the same arguments.
    """
    line = line.strip()
    if not line.startswith('-A '):
        return None
    try:
        tokens = shlex.split(line)
    except ValueError:
        return Rule(family, (), None, (), None, None, ref=line, raw='cannot tokenise: %s' % line)
    if len(tokens) < 2 or tokens[1] != IPTABLES_CHAIN:
        return None
    comment = None
    # find the comment first, so a rule we cannot parse is still recognised as ours
    for i, tok in enumerate(tokens):
        if tok == '--comment' and i + 1 < len(tokens):
            comment = tokens[i + 1]
    destinations, protocol, ports, mark = (), None, (), None
    try:
        i = 2
        while i < len(tokens):
            tok = tokens[i]
            nxt = tokens[i + 1] if i + 1 < len(tokens) else None
            if tok == '-d' and nxt is not None and not destinations:
                net = ipaddress.ip_network(nxt, strict=True)
                if FAMILY_OF_VERSION[net.version] != family:
                    raise ValueError('address %s is not %s' % (nxt, family))
                destinations = (format_network(net),)
                i += 2
            elif tok == '-p' and nxt in PORT_PROTOCOLS and protocol is None:
                protocol = nxt
                i += 2
            elif tok == '-m' and nxt in PORT_PROTOCOLS and nxt == protocol and i + 3 < len(tokens) \
                    and tokens[i + 2] == '--dport' and not ports:
                ports = _parse_iptables_ports(tokens[i + 3])
                if len(ports) != 1:
                    raise ValueError('bad --dport %r' % tokens[i + 3])
                i += 4
            elif tok == '-m' and nxt == 'multiport' and protocol and i + 3 < len(tokens) \
                    and tokens[i + 2] == '--dports' and not ports:
                ports = merge_ranges(_parse_iptables_ports(tokens[i + 3]))
                i += 4
            elif tok == '-m' and nxt == 'comment' and i + 3 < len(tokens) and tokens[i + 2] == '--comment':
                i += 4
            elif tok == '-j' and nxt == 'MARK' and i + 3 < len(tokens) \
                    and tokens[i + 2] in ('--set-xmark', '--set-mark'):
                value, _sep, mask = tokens[i + 3].partition('/')
                if mask and int(mask, 0) != MARK_MAX:
                    raise ValueError('mark mask %s is not 0xffffffff' % mask)
                mark = int(value, 0)
                i += 4
            else:
                raise ValueError('unsupported argument %r' % tok)
        if not destinations or mark is None:
            raise ValueError('missing destination or MARK target')
    except (ValueError, IndexError) as exc:
        return Rule(family, destinations, protocol, ports, mark, comment, ref=line, raw='%s: %s' % (exc, line))
    return Rule(family, destinations, protocol or 'all', ports, mark, comment, ref=line)


def parse_iptables_save(text, family):
    """Output of ``iptables -t mangle -S PREROUTING`` → list of every ``Rule`` in it (ours or not)."""
    rules = []
    for line in text.splitlines():
        rule = parse_iptables_line(line, family)
        if rule is not None:
            rules.append(rule)
    return rules


class IptablesBackend(object):
    """``iptables``/``ip6tables -t mangle`` PREROUTING rules, changed with ``iptables-restore --noflush``."""

    name = 'iptables'

    def __init__(self, run, get_bin):
        self.run = run
        self.get_bin = get_bin
        self.rules = {}

    def _bins(self, family, required):
        binary = self.get_bin(IPTABLES_BIN[family])
        restore = self.get_bin(IPTABLES_RESTORE_BIN[family])
        if not binary or not restore:
            if required:
                raise FwmarkError('%s and %s are needed for family %s but were not found on the managed host'
                                  % (IPTABLES_BIN[family], IPTABLES_RESTORE_BIN[family], family))
            return None, None
        return binary, restore

    def read_family(self, family, required=True):
        binary, _restore = self._bins(family, required)
        if binary is None:
            return []
        out = run_checked(self.run, [binary, '-w', '-t', IPTABLES_TABLE, '-S', IPTABLES_CHAIN])
        return parse_iptables_save(out, family)

    def read(self, families=FAMILIES, required=True):
        for family in families:
            # an absent without family tolerates a host without ip6tables
            self.rules[family] = self.read_family(family, required=required or len(families) == 1)
        return self.rules

    def current_rules(self, spec):
        rules = []
        for family in spec.families:
            rules.extend(select_rules(self.rules.get(family, []), spec.mark, (family,)))
        return rules

    @staticmethod
    def desired_rules(spec):
        if spec.state != 'present':
            return []
        rules = []
        for destination in spec.destinations:
            for chunk in (chunk_ports(spec.ports) or [()]):
                rules.append(Rule(spec.family, (destination,), spec.protocol, chunk, spec.mark, spec.comment))
        return rules

    def plan(self, to_delete, to_add):
        """One ``iptables-restore --noflush`` input per family: deletions then additions, one COMMIT."""
        commands = []
        for family in FAMILIES:
            deletes = [r for r in to_delete if r.family == family]
            adds = [r for r in to_add if r.family == family]
            if not deletes and not adds:
                continue
            _binary, restore = self._bins(family, True)
            lines = ['*%s' % IPTABLES_TABLE]
            lines += ['-D' + rule.ref[2:] for rule in deletes]
            lines += [render_iptables_line(rule, '-A') for rule in adds]
            lines.append('COMMIT')
            commands.append(Command([restore, '-w', '--noflush'], '\n'.join(lines) + '\n'))
        return commands

    def apply(self, commands):
        for command in commands:
            run_checked(self.run, command.argv, data=command.stdin)
