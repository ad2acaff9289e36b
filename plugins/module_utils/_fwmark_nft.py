# -*- coding: utf-8 -*-
# Copyright (c) 2025, lvs.cluster maintainers
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The nftables backend of the fwmark module: our rules in ``table inet <nft_table>`` read from ``nft -j`` into
``Rule`` objects, rendered back as one atomic ``nft -f -`` transaction; and the boot-time script of every mark.

PRIVATE to the ``lvs.cluster`` collection (see ``_fwmark``). Standard library only.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import ipaddress
import json

from ansible_collections.lvs.cluster.plugins.module_utils._fwmark_model import (
    CHAIN,
    CHAIN_HOOK,
    CHAIN_PRIO,
    CHAIN_TYPE,
    Command,
    DEFAULT_TABLE,
    FwmarkError,
    PORT_PROTOCOLS,
    Rule,
    FAMILY_OF_NFT_PROTO,
    FAMILY_OF_VERSION,
    IPPROTO_NUMBERS,
    NFT_ADDR_PROTO,
    require_bin,
    run_checked,
    build_spec,
    canonical_networks,
    format_port,
    merge_ranges,
    select_rules,
    validate_table,
)


# --------------------------------------------------------------------------------------------
# nftables
# --------------------------------------------------------------------------------------------

class NftState(object):
    """What ``nft -j list table inet <table>`` says: does the table exist, its chain, all its rules."""

    def __init__(self, exists=False, chain=None, rules=(), other_objects=0):
        self.exists = exists
        self.chain = chain  # dict with type/hook/prio/policy, or None
        self.rules = list(rules)  # every rule in our chain, ours or not
        self.other_objects = other_objects  # chains, sets, maps... that we did not create


def _nft_meta_key(node):
    if isinstance(node, dict) and 'meta' in node:
        meta = node['meta']
        return meta.get('key') if isinstance(meta, dict) else meta
    return None


def _nft_payload(node):
    if isinstance(node, dict) and 'payload' in node and isinstance(node['payload'], dict):
        payload = node['payload']
        return payload.get('protocol', payload.get('name')), payload.get('field')
    return None, None


def _nft_elements(right):
    if isinstance(right, dict) and 'set' in right:
        elements = right['set']
        return elements if isinstance(elements, list) else [elements]
    return [right]


def _nft_networks(element, family):
    """One address element (address, prefix or range) → list of networks."""
    if isinstance(element, dict) and 'elem' in element:
        element = element['elem'].get('val')
    if isinstance(element, str):
        nets = [ipaddress.ip_network(element, strict=True)]
    elif isinstance(element, dict) and 'prefix' in element:
        nets = [ipaddress.ip_network('%s/%s' % (element['prefix'].get('addr'), element['prefix'].get('len')),
                                     strict=True)]
    elif isinstance(element, dict) and 'range' in element and isinstance(element['range'][0], str):
        low, high = element['range']
        nets = list(ipaddress.summarize_address_range(ipaddress.ip_address(low), ipaddress.ip_address(high)))
    else:
        raise ValueError('unsupported address element %r' % (element,))
    for net in nets:
        if FAMILY_OF_VERSION[net.version] != family:
            raise ValueError('address %s does not match family %s' % (net, family))
    return nets


def _nft_port_range(element):
    if isinstance(element, dict) and 'elem' in element:
        element = element['elem'].get('val')
    if isinstance(element, bool):
        raise ValueError('unsupported port element %r' % (element,))
    if isinstance(element, int):
        return (element, element)
    if isinstance(element, dict) and 'range' in element:
        low, high = element['range']
        if isinstance(low, int) and isinstance(high, int) and not isinstance(low, bool):
            return (low, high)
    raise ValueError('unsupported port element %r' % (element,))


def parse_nft_rule(obj):
    """One ``{"rule": {...}}`` body → ``Rule``; an expression we do not render makes it ``raw``."""
    comment = obj.get('comment')
    family = None
    destinations = ()
    protocol = None
    ports = ()
    mark = None
    try:
        for expr in obj.get('expr', []):
            if 'match' in expr:
                match = expr['match']
                if match.get('op', '==') not in ('==', 'in'):
                    raise ValueError('unsupported operator %r' % (match.get('op'),))
                left, right = match.get('left'), match.get('right')
                proto, field = _nft_payload(left)
                if proto in FAMILY_OF_NFT_PROTO and field == 'daddr' and not destinations:
                    family = FAMILY_OF_NFT_PROTO[proto]
                    nets = [n for e in _nft_elements(right) for n in _nft_networks(e, family)]
                    destinations = canonical_networks(nets)
                elif proto in PORT_PROTOCOLS and field == 'dport' and protocol is None:
                    protocol = proto
                    ports = merge_ranges(_nft_port_range(e) for e in _nft_elements(right))
                elif _nft_meta_key(left) == 'l4proto' and protocol is None:
                    value = IPPROTO_NUMBERS.get(right, right)
                    if value not in PORT_PROTOCOLS:
                        raise ValueError('unsupported l4proto %r' % (right,))
                    protocol = value
                else:
                    raise ValueError('unsupported match %s' % json.dumps(match, sort_keys=True))
            elif 'mangle' in expr and _nft_meta_key(expr['mangle'].get('key')) == 'mark' and mark is None:
                value = expr['mangle'].get('value')
                if isinstance(value, bool) or not isinstance(value, int):
                    raise ValueError('unsupported mark value %r' % (value,))
                mark = value
            else:
                raise ValueError('unsupported statement %s' % json.dumps(expr, sort_keys=True))
        if not destinations or mark is None:
            raise ValueError('missing destination or mark statement')
    except (ValueError, TypeError, KeyError, AttributeError) as exc:
        return Rule(family, destinations, protocol, ports, mark, comment, ref=obj.get('handle'),
                    raw='%s: %s' % (exc, json.dumps(obj.get('expr'), sort_keys=True)))
    return Rule(family, destinations, protocol or 'all', ports, mark, comment, ref=obj.get('handle'))


def parse_nft_json(text, table=DEFAULT_TABLE, chain=CHAIN):
    """Output of ``nft -j list table inet <table>`` → ``NftState``."""
    try:
        data = json.loads(text)
        items = data['nftables']
    except (ValueError, TypeError, KeyError) as exc:
        raise FwmarkError('cannot parse the output of nft -j list table inet %s: %s' % (table, exc))
    state = NftState()
    for item in items:
        if not isinstance(item, dict):
            continue
        if 'table' in item:
            if item['table'].get('name') == table and item['table'].get('family') == 'inet':
                state.exists = True
        elif 'chain' in item:
            body = item['chain']
            if body.get('name') == chain:
                state.chain = dict((k, body.get(k)) for k in ('type', 'hook', 'prio', 'policy'))
            else:
                state.other_objects += 1
        elif 'rule' in item:
            body = item['rule']
            if body.get('chain') == chain:
                state.rules.append(parse_nft_rule(body))
        elif 'metainfo' not in item:
            state.other_objects += 1
    return state


def parse_nft_tables(text):
    """Output of ``nft -j list tables`` → set of ``(family, name)``."""
    try:
        items = json.loads(text)['nftables']
    except (ValueError, TypeError, KeyError) as exc:
        raise FwmarkError('cannot parse the output of nft -j list tables: %s' % exc)
    return set((i['table'].get('family'), i['table'].get('name')) for i in items
               if isinstance(i, dict) and 'table' in i)


def render_nft_rule(rule, table=DEFAULT_TABLE, chain=CHAIN):
    """``Rule`` → the ``add rule`` line of an nft script."""
    def group(items):
        items = list(items)
        return items[0] if len(items) == 1 else '{ %s }' % ', '.join(items)

    parts = ['add rule inet', table, chain,
             NFT_ADDR_PROTO[rule.family], 'daddr', group(rule.destinations)]
    if rule.protocol in PORT_PROTOCOLS:
        if rule.ports:
            parts += [rule.protocol, 'dport', group(format_port(p) for p in rule.ports)]
        else:
            parts += ['meta l4proto', rule.protocol]
    parts += ['meta mark set', '0x%08x' % rule.mark, 'comment', json.dumps(rule.comment)]
    return ' '.join(parts)


class NftBackend(object):
    """``table inet <table>`` with chain ``prerouting`` (type filter hook prerouting priority mangle)."""

    name = 'nftables'

    def __init__(self, run, get_bin, table=DEFAULT_TABLE):
        self.run = run
        self.table = validate_table(table)
        self.nft = require_bin(get_bin, 'nft')
        self.state = None

    def read(self):
        tables = parse_nft_tables(run_checked(self.run, [self.nft, '-j', 'list', 'tables', 'inet']))
        if ('inet', self.table) not in tables:
            self.state = NftState()
        else:
            out = run_checked(self.run, [self.nft, '-j', 'list', 'table', 'inet', self.table])
            self.state = parse_nft_json(out, self.table)
        return self.state

    def current_rules(self, spec):
        return select_rules(self.state.rules, spec.mark, spec.families)

    @staticmethod
    def desired_rules(spec):
        if spec.state != 'present':
            return []
        return [Rule(spec.family, spec.destinations, spec.protocol, spec.ports, spec.mark, spec.comment)]

    def plan(self, to_delete, to_add):
        """One nft script, applied as one transaction by ``nft -f -``."""
        state = self.state
        if not to_delete and not to_add:
            return []
        t = self.table
        if state.chain is not None and (state.chain.get('type'), state.chain.get('hook'), state.chain.get('prio')) \
                != (CHAIN_TYPE, CHAIN_HOOK, CHAIN_PRIO):
            raise FwmarkError('chain %s in table inet %s exists as type %s hook %s priority %s, not type %s hook %s '
                              'priority mangle (%d); fix or delete the table, or set nft_table'
                              % (CHAIN, t, state.chain.get('type'), state.chain.get('hook'), state.chain.get('prio'),
                                 CHAIN_TYPE, CHAIN_HOOK, CHAIN_PRIO))
        lines = []
        if not to_add and state.exists and state.other_objects == 0 and len(to_delete) == len(state.rules):
            # the last rules of the table the module owns go: leave nothing behind
            lines.append('delete table inet %s' % t)
        else:
            if to_add and not state.exists:
                lines.append('add table inet %s' % t)
            if to_add and state.chain is None:
                lines.append('add chain inet %s %s { type %s hook %s priority mangle; policy accept; }'
                             % (t, CHAIN, CHAIN_TYPE, CHAIN_HOOK))
            for rule in to_delete:
                lines.append('delete rule inet %s %s handle %d' % (t, CHAIN, rule.ref))
            for rule in to_add:
                lines.append(render_nft_rule(rule, t))
        return [Command([self.nft, '-f', '-'], '\n'.join(lines) + '\n')]

    def apply(self, commands):
        for command in commands:
            run_checked(self.run, command.argv, data=command.stdin)


def render_nft_boot_script(params_list, table=DEFAULT_TABLE):
    """A whole ``nft -f`` script that recreates the module's table with the rules of every mark given.

    ``params_list`` holds module-style parameters, one dict per mark (as the director role passes to the module),
    so a boot-time restore and the module cannot disagree about what a mark's rule is. Loading it replaces the
    table atomically; an empty list removes it.
    """
    table = validate_table(table)
    lines = ['table inet %s' % table, 'delete table inet %s' % table]
    rules = []
    for params in params_list:
        spec = build_spec(dict(params, state='present'))
        rules.extend(NftBackend.desired_rules(spec))
    if rules:
        lines.append('add table inet %s' % table)
        lines.append('add chain inet %s %s { type %s hook %s priority mangle; policy accept; }'
                     % (table, CHAIN, CHAIN_TYPE, CHAIN_HOOK))
        lines.extend(render_nft_rule(rule, table) for rule in sorted(rules, key=lambda r: (r.mark, r.family)))
    return '\n'.join(lines) + '\n'
