# -*- coding: utf-8 -*-
# Copyright (c) 2025, lvs.cluster maintainers
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Packet-marking rules for IPVS fwmark services (nftables and iptables backends).

PRIVATE to the ``lvs.cluster`` collection: the leading underscore means this file is an
implementation detail of ``lvs.cluster.fwmark``; nothing in here has a stability promise and it may
change in any release without notice. Standard library only (``_host_lock`` is too).

The flow follows ``docs/architecture.md``:

1. ``build_spec(params)`` validates and normalises the user's options into a ``FwmarkSpec``
   (every error names the option and the value), before any command runs;
2. a backend (``NftBackend`` / ``IptablesBackend``) reads the rules in force and parses them into
   normalised ``Rule`` objects; it only ever looks at rules carrying the comment
   ``lvs.cluster fwmark <mark>[ <name>]``;
3. the backend renders the desired ``Rule`` list from the spec, ``diff_rules`` compares the two
   multisets and the backend turns the difference into ``Command`` objects (one atomic
   ``nft -f -`` transaction, or one ``iptables-restore --noflush`` commit per family);
4. ``ensure()`` ties it together; it takes a ``run(argv, data=None) -> (rc, out, err)`` callable and a
   ``get_bin(name) -> path or None`` callable so that everything here tests without a host. Outside check mode
   it holds the host-wide writer lock (``_host_lock``, standard library only too) from step 2 to the last
   command, so it never interleaves with another lvs.cluster writer on the host.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import collections
import ipaddress
import json
import re
import shlex

from ansible_collections.lvs.cluster.plugins.module_utils._host_lock import (
    DEFAULT_TIMEOUT as DEFAULT_LOCK_TIMEOUT,
    HostLockError,
    check_timeout,
    writer_lock,
)

MARK_MIN = 1
MARK_MAX = 0xFFFFFFFF
PORT_MIN = 1
PORT_MAX = 65535
FAMILIES = ('ipv4', 'ipv6')
PROTOCOLS = ('tcp', 'udp', 'sctp', 'all')
PORT_PROTOCOLS = ('tcp', 'udp', 'sctp')
BACKENDS = ('auto', 'nftables', 'iptables')

DEFAULT_TABLE = 'lvs_cluster_fwmark'
CHAIN = 'prerouting'
CHAIN_TYPE = 'filter'
CHAIN_HOOK = 'prerouting'
CHAIN_PRIO = -150  # "priority mangle"
IPTABLES_TABLE = 'mangle'
IPTABLES_CHAIN = 'PREROUTING'
MULTIPORT_MAX = 15  # xt_multiport: at most 15 ports, a range counts as two
COMMENT_PREFIX = 'lvs.cluster fwmark'

_NAME_RE = re.compile(r'^[A-Za-z0-9][A-Za-z0-9_.:@+/-]{0,63}$')
_TABLE_RE = re.compile(r'^[A-Za-z][A-Za-z0-9_]{0,63}$')
_COMMENT_RE = re.compile(r'^lvs\.cluster fwmark ([0-9]+)(?: (\S+))?$')
_PORT_RE = re.compile(r'^\s*([0-9]+)\s*(?:[-:]\s*([0-9]+)\s*)?$')

_FAMILY_OF_VERSION = {4: 'ipv4', 6: 'ipv6'}
_NFT_ADDR_PROTO = {'ipv4': 'ip', 'ipv6': 'ip6'}
_FAMILY_OF_NFT_PROTO = {'ip': 'ipv4', 'ip6': 'ipv6'}
_IPPROTO_NUMBERS = {6: 'tcp', 17: 'udp', 132: 'sctp'}
_IPTABLES_BIN = {'ipv4': 'iptables', 'ipv6': 'ip6tables'}
_IPTABLES_RESTORE_BIN = {'ipv4': 'iptables-restore', 'ipv6': 'ip6tables-restore'}
_HOST_PREFIX = {'ipv4': 32, 'ipv6': 128}


class FwmarkError(Exception):
    """A failure with a message fit for ``fail_json(msg=...)``; ``details`` go alongside it."""

    def __init__(self, msg, **details):
        super(FwmarkError, self).__init__(msg)
        self.msg = msg
        self.details = details


# --------------------------------------------------------------------------------------------
# Validation and normalisation of user input
# --------------------------------------------------------------------------------------------

def validate_mark(value, option='mark'):
    if isinstance(value, bool) or not isinstance(value, int):
        raise FwmarkError('%s must be an integer, got %r' % (option, value))
    if not MARK_MIN <= value <= MARK_MAX:
        raise FwmarkError('%s must be between %d and %d (0x%X), got %d'
                          % (option, MARK_MIN, MARK_MAX, MARK_MAX, value))
    return value


def validate_name(value):
    if value is None or value == '':
        return None
    if not _NAME_RE.match(value):
        raise FwmarkError('name must be 1 to 64 characters from A-Z a-z 0-9 _ . : @ + / - and start with a '
                          'letter or digit (it goes into a rule comment), got %r' % (value,))
    return value


def validate_table(value):
    if not isinstance(value, str) or not _TABLE_RE.match(value):
        raise FwmarkError('nft_table must start with a letter and contain only letters, digits and _ '
                          '(at most 64 characters), got %r' % (value,))
    return value


def parse_port_item(item):
    """One ``ports`` element (int, ``"80"``, ``"8000-8010"`` or ``"8000:8010"``) → ``(low, high)``."""
    if isinstance(item, bool):
        raise FwmarkError('ports: %r is not a port or a port range' % (item,))
    if isinstance(item, int):
        low = high = item
    elif isinstance(item, str):
        match = _PORT_RE.match(item)
        if not match:
            raise FwmarkError('ports: %r is not a port or a port range (use 80 or "8000-8010")' % (item,))
        low = int(match.group(1))
        high = int(match.group(2)) if match.group(2) is not None else low
    else:
        raise FwmarkError('ports: %r is not a port or a port range' % (item,))
    for port in (low, high):
        if not PORT_MIN <= port <= PORT_MAX:
            raise FwmarkError('ports: port %d in %r is out of range %d-%d' % (port, item, PORT_MIN, PORT_MAX))
    if high < low:
        raise FwmarkError('ports: range %r ends before it starts (%d < %d)' % (item, high, low))
    return (low, high)


def merge_ranges(ranges):
    """Sort ``(low, high)`` ranges and merge the overlapping and adjacent ones."""
    merged = []
    for low, high in sorted(ranges):
        if merged and low <= merged[-1][1] + 1:
            if high > merged[-1][1]:
                merged[-1] = (merged[-1][0], high)
        else:
            merged.append((low, high))
    return tuple(merged)


def normalize_ports(values, protocol='tcp'):
    """``ports`` option → canonical tuple of disjoint, non-adjacent ``(low, high)`` ranges."""
    values = list(values or [])
    if values and protocol not in PORT_PROTOCOLS:
        raise FwmarkError('ports: protocol %r has no ports, got ports %r (use protocol tcp, udp or sctp, '
                          'or leave ports empty)' % (protocol, values))
    return merge_ranges(parse_port_item(item) for item in values)


def format_port(port_range, sep='-'):
    low, high = port_range
    return str(low) if low == high else '%d%s%d' % (low, sep, high)


def _network(value, option):
    if not isinstance(value, str):
        raise FwmarkError('%s: %r is not an IP address or prefix' % (option, value))
    text = value.strip()
    try:
        if '/' in text:
            return ipaddress.ip_network(text, strict=True)
        return ipaddress.ip_network(ipaddress.ip_address(text))
    except ValueError as exc:
        if '/' in text:
            try:
                loose = ipaddress.ip_network(text, strict=False)
            except ValueError:
                pass
            else:
                raise FwmarkError('%s: %r has host bits set; did you mean %s (the prefix) or %s (the address)?'
                                  % (option, value, loose, text.split('/')[0]))
        raise FwmarkError('%s: %r is not an IPv4 or IPv6 address or prefix (%s)' % (option, value, exc))


def format_network(net):
    """Addresses without a prefix length, prefixes as ``addr/len`` (IPv6 compressed)."""
    if net.prefixlen == net.max_prefixlen:
        return str(net.network_address)
    return str(net)


def normalize_destinations(values, family=None, option='destination'):
    """``destination`` → ``(family, tuple of canonical strings)`` sorted and de-duplicated.

    Mixed families, a family that contradicts ``family``, host bits and overlapping prefixes are errors.
    """
    values = list(values or [])
    nets = []
    for value in values:
        net = _network(value, option)
        net_family = _FAMILY_OF_VERSION[net.version]
        if family is not None and net_family != family:
            raise FwmarkError('%s: %r is an %s address but family is %s'
                              % (option, value, 'IPv%d' % net.version, family))
        if nets and net.version != nets[0].version:
            raise FwmarkError('%s: mixes IPv4 and IPv6 (%s and %s); use one task per family'
                              % (option, format_network(nets[0]), value))
        nets.append(net)
    if nets:
        family = _FAMILY_OF_VERSION[nets[0].version]
    nets = sorted(set(nets))
    for first, second in zip(nets, nets[1:]):
        if first.overlaps(second):
            raise FwmarkError('%s: %s and %s overlap; list each address or prefix once'
                              % (option, format_network(first), format_network(second)))
    return family, canonical_networks(nets)


def canonical_networks(nets):
    """The smallest list of prefixes covering exactly the given networks, as sorted strings.

    The cover is unique, so it is the normal form of a set of addresses: nftables merges adjacent
    elements of an interval set (``0.0.0.0/24, 0.0.1.0/24`` lists as ``0.0.0.0/23``) and this makes both
    sides of the comparison agree.
    """
    nets = list(nets)
    if not nets:
        return ()
    return tuple(format_network(net) for net in ipaddress.collapse_addresses(nets))


def make_comment(mark, name=None):
    return '%s %d %s' % (COMMENT_PREFIX, mark, name) if name else '%s %d' % (COMMENT_PREFIX, mark)


def parse_comment(text):
    """``'lvs.cluster fwmark 7 web'`` → ``(7, 'web')``; anything else → ``None``."""
    if not isinstance(text, str):
        return None
    match = _COMMENT_RE.match(text)
    if not match:
        return None
    return int(match.group(1)), match.group(2)


class FwmarkSpec(object):
    """The desired state of one mark, validated and normalised."""

    def __init__(self, mark, state='present', name=None, family=None, destinations=(), protocol='tcp', ports=()):
        self.mark = mark
        self.state = state
        self.name = name
        self.family = family
        self.destinations = tuple(destinations)
        self.protocol = protocol
        self.ports = tuple(ports)

    @property
    def families(self):
        """The families this spec manages: one for present, one or both for absent."""
        return (self.family,) if self.family else FAMILIES

    @property
    def comment(self):
        return make_comment(self.mark, self.name)

    def __eq__(self, other):
        return isinstance(other, FwmarkSpec) and vars(self) == vars(other)

    def __ne__(self, other):
        return not self == other

    def __repr__(self):
        return 'FwmarkSpec(%r)' % (vars(self),)


def build_spec(params):
    """Module parameters → ``FwmarkSpec``. Raises ``FwmarkError`` naming the option and the value."""
    state = params.get('state') or 'present'
    if state not in ('present', 'absent'):
        raise FwmarkError('state must be present or absent, got %r' % (state,))
    mark = validate_mark(params.get('mark'))
    name = validate_name(params.get('name'))
    validate_table(params.get('nft_table') or DEFAULT_TABLE)
    family = params.get('family')
    if family is not None and family not in FAMILIES:
        raise FwmarkError('family must be one of %s, got %r' % (', '.join(FAMILIES), family))
    protocol = params.get('protocol') or 'tcp'
    if protocol not in PROTOCOLS:
        raise FwmarkError('protocol must be one of %s, got %r' % (', '.join(PROTOCOLS), protocol))
    ports = normalize_ports(params.get('ports'), protocol)
    family, destinations = normalize_destinations(params.get('destination'), family)
    if state == 'present' and not destinations:
        raise FwmarkError('destination is required (at least one address or prefix) when state is present, got %r'
                          % (params.get('destination'),))
    return FwmarkSpec(mark, state, name, family, destinations, protocol, ports)


# --------------------------------------------------------------------------------------------
# The normalised rule both backends read into and render from
# --------------------------------------------------------------------------------------------

class Rule(object):
    """One marking rule as it is (or would be) in force, normalised.

    ``ref`` is how the backend finds the rule again to delete it (nft handle, or the ``iptables -S``
    rule text); it is not part of the rule's identity. ``raw`` is set for a rule that carries our
    comment but that the parser does not fully understand: such a rule never equals a desired rule,
    so the module replaces it.
    """

    def __init__(self, family, destinations, protocol, ports, mark, comment, ref=None, raw=None):
        self.family = family
        self.destinations = tuple(destinations)
        self.protocol = protocol
        self.ports = tuple(ports)
        self.mark = mark
        self.comment = comment
        self.ref = ref
        self.raw = raw

    @property
    def owner(self):
        """``(mark, name)`` from the comment, or ``None`` for a rule that is not ours."""
        return parse_comment(self.comment)

    def key(self):
        return (self.family or '', self.destinations, self.protocol or '', self.ports, self.mark, self.comment,
                self.raw or '')

    def __eq__(self, other):
        return isinstance(other, Rule) and self.key() == other.key()

    def __ne__(self, other):
        return not self == other

    def __hash__(self):
        return hash(self.key())

    def __repr__(self):
        return 'Rule(%r)' % (self.to_dict(),)

    def to_dict(self):
        owner = self.owner
        result = {
            'family': self.family,
            'destination': list(self.destinations),
            'protocol': self.protocol,
            'ports': [format_port(p) for p in self.ports],
            'mark': self.mark,
            'name': owner[1] if owner else None,
            'comment': self.comment,
        }
        if self.raw is not None:
            result['unrecognised'] = self.raw
        return result


def diff_rules(current, desired):
    """Multiset difference: ``(to_delete, to_add)``; rules in both lists are left alone."""
    remaining = collections.Counter(r.key() for r in desired)
    to_delete = []
    for rule in current:
        if remaining[rule.key()] > 0:
            remaining[rule.key()] -= 1
        else:
            to_delete.append(rule)
    have = collections.Counter(r.key() for r in current)
    to_add = []
    for rule in desired:
        if have[rule.key()] > 0:
            have[rule.key()] -= 1
        else:
            to_add.append(rule)
    return to_delete, to_add


def select_rules(rules, mark, families):
    """Our rules for ``mark`` in ``families`` (rules of unknown family count for every family)."""
    selected = []
    for rule in rules:
        owner = rule.owner
        if owner is None or owner[0] != mark:
            continue
        if rule.family is not None and rule.family not in families:
            continue
        selected.append(rule)
    return selected


class Command(object):
    """A command that changes the host: ``argv`` plus optional ``stdin`` text."""

    def __init__(self, argv, stdin=None):
        self.argv = list(argv)
        self.stdin = stdin

    def __str__(self):
        line = ' '.join(shlex.quote(a) for a in self.argv)
        if self.stdin is None:
            return line
        return "%s <<'EOF'\n%sEOF" % (line, self.stdin if self.stdin.endswith('\n') else self.stdin + '\n')

    def __repr__(self):
        return 'Command(%r, stdin=%r)' % (self.argv, self.stdin)


def _run_checked(run, argv, data=None):
    rc, out, err = run(argv, data=data) if data is not None else run(argv)
    if rc != 0:
        raise FwmarkError('%s failed (rc=%s): %s' % (' '.join(argv), rc, (err or out or '').strip()),
                          cmd=' '.join(argv), rc=rc, stdout=out, stderr=err)
    return out


def _require_bin(get_bin, name):
    path = get_bin(name)
    if not path:
        raise FwmarkError('%s not found on the managed host (install it, or choose another backend)' % name)
    return path


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
        if _FAMILY_OF_VERSION[net.version] != family:
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
                if proto in _FAMILY_OF_NFT_PROTO and field == 'daddr' and not destinations:
                    family = _FAMILY_OF_NFT_PROTO[proto]
                    nets = [n for e in _nft_elements(right) for n in _nft_networks(e, family)]
                    destinations = canonical_networks(nets)
                elif proto in PORT_PROTOCOLS and field == 'dport' and protocol is None:
                    protocol = proto
                    ports = merge_ranges(_nft_port_range(e) for e in _nft_elements(right))
                elif _nft_meta_key(left) == 'l4proto' and protocol is None:
                    value = _IPPROTO_NUMBERS.get(right, right)
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
             _NFT_ADDR_PROTO[rule.family], 'daddr', group(rule.destinations)]
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
        self.nft = _require_bin(get_bin, 'nft')
        self.state = None

    def read(self):
        tables = parse_nft_tables(_run_checked(self.run, [self.nft, '-j', 'list', 'tables', 'inet']))
        if ('inet', self.table) not in tables:
            self.state = NftState()
        else:
            out = _run_checked(self.run, [self.nft, '-j', 'list', 'table', 'inet', self.table])
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
            _run_checked(self.run, command.argv, data=command.stdin)


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
    args = ['-d', '%s/%d' % (rule.destinations[0], _HOST_PREFIX[rule.family])
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
                if _FAMILY_OF_VERSION[net.version] != family:
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
        binary = self.get_bin(_IPTABLES_BIN[family])
        restore = self.get_bin(_IPTABLES_RESTORE_BIN[family])
        if not binary or not restore:
            if required:
                raise FwmarkError('%s and %s are needed for family %s but were not found on the managed host'
                                  % (_IPTABLES_BIN[family], _IPTABLES_RESTORE_BIN[family], family))
            return None, None
        return binary, restore

    def read_family(self, family, required=True):
        binary, _restore = self._bins(family, required)
        if binary is None:
            return []
        out = _run_checked(self.run, [binary, '-w', '-t', IPTABLES_TABLE, '-S', IPTABLES_CHAIN])
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
            _run_checked(self.run, command.argv, data=command.stdin)


# --------------------------------------------------------------------------------------------
# Backend choice and the whole algorithm
# --------------------------------------------------------------------------------------------

def nft_works(run, get_bin):
    nft = get_bin('nft')
    if not nft:
        return False
    rc, _out, _err = run([nft, '-j', 'list', 'tables'])
    return rc == 0


def iptables_legacy_in_use(run, get_bin, families=FAMILIES):
    """True when ``iptables``/``ip6tables`` is the legacy variant and its mangle table holds rules."""
    for family in families:
        binary = get_bin(_IPTABLES_BIN[family])
        if not binary:
            continue
        rc, out, err = run([binary, '-V'])
        if rc != 0 or 'legacy' not in (out + err):
            continue
        rc, out, _err = run([binary, '-w', '-t', IPTABLES_TABLE, '-S'])
        if rc == 0 and any(line.startswith('-A ') for line in out.splitlines()):
            return True
    return False


def choose_backend(requested, run, get_bin, families=FAMILIES):
    """``auto`` → ``iptables`` if nft does not work or legacy iptables rules are in use in mangle, else ``nftables``."""
    if requested in ('nftables', 'iptables'):
        return requested
    if not nft_works(run, get_bin):
        return 'iptables'
    if iptables_legacy_in_use(run, get_bin, families):
        return 'iptables'
    return 'nftables'


def make_backend(name, run, get_bin, table=DEFAULT_TABLE):
    if name == 'nftables':
        return NftBackend(run, get_bin, table)
    return IptablesBackend(run, get_bin)


def state_dict(spec, rules, backend):
    return {
        'mark': spec.mark,
        'backend': backend,
        'state': 'present' if rules else 'absent',
        'rules': [r.to_dict() for r in rules],
    }


def ensure(params, run, get_bin, check_mode=False):
    """Read → plan → (apply) for one mark. Returns the module result (without ``diff`` gating).

    Outside check mode the host lock is held throughout; a lock that cannot be taken is a ``FwmarkError`` raised
    before anything is read or run.
    """
    spec = build_spec(params)  # validation first: nothing runs before the input is known good
    lock_timeout = _lock_timeout(params)
    try:
        with writer_lock('lvs.cluster.fwmark', lock_timeout, check_mode):
            backend_name = choose_backend(params.get('backend') or 'auto', run, get_bin, spec.families)
            backend = make_backend(backend_name, run, get_bin, params.get('nft_table') or DEFAULT_TABLE)
            if backend_name == 'iptables':
                backend.read(spec.families, required=spec.state == 'present')
            else:
                backend.read()
            current = backend.current_rules(spec)
            desired = backend.desired_rules(spec)
            to_delete, to_add = diff_rules(current, desired)
            commands = backend.plan(to_delete, to_add)
            changed = bool(commands)
            if changed and not check_mode:
                backend.apply(commands)
    except HostLockError as exc:
        raise FwmarkError(str(exc), changed=False)
    return {
        'changed': changed,
        'backend': backend_name,
        'rules': [r.to_dict() for r in desired],
        'commands': [str(c) for c in commands],
        'diff': {
            'before': state_dict(spec, current, backend_name),
            'after': state_dict(spec, desired, backend_name),
        },
    }


def _lock_timeout(params):
    value = params.get('lock_timeout')
    try:
        return check_timeout(DEFAULT_LOCK_TIMEOUT if value is None else value)
    except HostLockError as exc:
        raise FwmarkError(str(exc))


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
