# -*- coding: utf-8 -*-
# Copyright (c) 2025, lvs.cluster maintainers
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The fwmark model: user options validated into a ``FwmarkSpec``, and the normalised ``Rule`` both backends read
into and render from (``diff_rules`` compares them), with the ``Command`` a backend plans.

PRIVATE to the ``lvs.cluster`` collection (see ``_fwmark``). Standard library and ``_ipvs_model`` (the errors' base).
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import collections
import ipaddress
import re
import shlex

from ansible_collections.lvs.cluster.plugins.module_utils._ipvs_model import IpvsError

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

FAMILY_OF_VERSION = {4: 'ipv4', 6: 'ipv6'}
NFT_ADDR_PROTO = {'ipv4': 'ip', 'ipv6': 'ip6'}
FAMILY_OF_NFT_PROTO = {'ip': 'ipv4', 'ip6': 'ipv6'}
IPPROTO_NUMBERS = {6: 'tcp', 17: 'udp', 132: 'sctp'}
IPTABLES_BIN = {'ipv4': 'iptables', 'ipv6': 'ip6tables'}
IPTABLES_RESTORE_BIN = {'ipv4': 'iptables-restore', 'ipv6': 'ip6tables-restore'}


class FwmarkError(IpvsError):
    """A failure with a message fit for ``fail_json(msg=...)``, naming the option and the value for bad input;
    ``details`` go alongside it. An ``IpvsError`` like every error of the collection's IPVS code."""

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
        net_family = FAMILY_OF_VERSION[net.version]
        if family is not None and net_family != family:
            raise FwmarkError('%s: %r is an %s address but family is %s'
                              % (option, value, 'IPv%d' % net.version, family))
        if nets and net.version != nets[0].version:
            raise FwmarkError('%s: mixes IPv4 and IPv6 (%s and %s); use one task per family'
                              % (option, format_network(nets[0]), value))
        nets.append(net)
    if nets:
        family = FAMILY_OF_VERSION[nets[0].version]
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


def run_checked(run, argv, data=None):
    rc, out, err = run(argv, data=data) if data is not None else run(argv)
    if rc != 0:
        raise FwmarkError('%s failed (rc=%s): %s' % (' '.join(argv), rc, (err or out or '').strip()),
                          cmd=' '.join(argv), rc=rc, stdout=out, stderr=err)
    return out


def require_bin(get_bin, name):
    path = get_bin(name)
    if not path:
        raise FwmarkError('%s not found on the managed host (install it, or choose another backend)' % name)
    return path
