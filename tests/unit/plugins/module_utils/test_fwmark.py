# -*- coding: utf-8 -*-
# Copyright (c) 2025, lvs.cluster maintainers
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Unit tests of plugins/module_utils/_fwmark.py.

The fixtures under fixtures/fwmark/ are real output of nft 1.0.6 / iptables 1.8.9, captured in a throwaway
network namespace by fixtures/fwmark/capture.sh.

Set LVS_FWMARK_LIVE=1 (as root, with nft and iptables installed) to also run the live round-trip property
tests, which apply rendered rules in a throwaway network namespace and parse them back.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import ipaddress
import os
import shutil
import subprocess
import uuid

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from ansible_collections.lvs.cluster.plugins.module_utils import _fwmark as fw
from ansible_collections.lvs.cluster.plugins.module_utils import _fwmark_iptables as fwipt
from ansible_collections.lvs.cluster.plugins.module_utils import _fwmark_model as fwmodel
from ansible_collections.lvs.cluster.plugins.module_utils import _fwmark_nft as fwnft

FIXTURES = os.path.join(os.path.dirname(__file__), 'fixtures', 'fwmark')
BINS = {
    'nft': '/usr/sbin/nft',
    'iptables': '/usr/sbin/iptables',
    'ip6tables': '/usr/sbin/ip6tables',
    'iptables-restore': '/usr/sbin/iptables-restore',
    'ip6tables-restore': '/usr/sbin/ip6tables-restore',
}


def fixture(name):
    with open(os.path.join(FIXTURES, name)) as handle:
        return handle.read()


def get_bin(name):
    return BINS.get(name)


class FakeRun(object):
    """``run`` callable: answers by the argv's tail, records every call."""

    def __init__(self, answers=None):
        self.answers = dict(answers or {})
        self.calls = []

    def __call__(self, argv, data=None):
        self.calls.append((list(argv), data))
        key = ' '.join(argv)
        for pattern, answer in self.answers.items():
            if key.endswith(pattern):
                return answer
        if argv[1:3] == ['-f', '-'] or argv[0].endswith('-restore'):
            return 0, '', ''
        raise AssertionError('unexpected command %r' % (argv,))

    @property
    def changing_calls(self):
        return [c for c in self.calls if c[0][1:3] == ['-f', '-'] or c[0][0].endswith('-restore')]


def params(**kwargs):
    base = dict(mark=1, name=None, destination=None, family=None, protocol='tcp', ports=[], backend='auto',
                nft_table='lvs_cluster_fwmark', state='present')
    base.update(kwargs)
    return base


def spec(**kwargs):
    return fwmodel.build_spec(params(**kwargs))


# ------------------------------------------------------------------------------------------------
# validation
# ------------------------------------------------------------------------------------------------

@pytest.mark.parametrize('overrides, words', [
    (dict(mark=0, destination=['192.0.2.1']), ['mark', '0']),
    (dict(mark=-1, destination=['192.0.2.1']), ['mark', '-1']),
    (dict(mark=2 ** 32, destination=['192.0.2.1']), ['mark', '4294967296']),
    (dict(mark=None, destination=['192.0.2.1']), ['mark', 'None']),
    (dict(mark=True, destination=['192.0.2.1']), ['mark', 'True']),
    (dict(name='two words', destination=['192.0.2.1']), ['name', "'two words'"]),
    (dict(name='x' * 65, destination=['192.0.2.1']), ['name', 'xxxx']),
    (dict(name='quo"te', destination=['192.0.2.1']), ['name', 'quo"te']),
    (dict(name='-dash', destination=['192.0.2.1']), ['name', '-dash']),
    (dict(nft_table='1table', destination=['192.0.2.1']), ['nft_table', '1table']),
    (dict(nft_table='my-table', destination=['192.0.2.1']), ['nft_table', 'my-table']),
    (dict(destination=['not-an-ip']), ['destination', 'not-an-ip']),
    (dict(destination=['192.0.2.300']), ['destination', '192.0.2.300']),
    (dict(destination=['192.0.2.5/24']), ['destination', '192.0.2.5/24', 'host bits', '192.0.2.0/24']),
    (dict(destination=['192.0.2.0/33']), ['destination', '192.0.2.0/33']),
    (dict(destination=['192.0.2.1', '2001:db8::1']), ['destination', 'mixes', '2001:db8::1']),
    (dict(destination=['2001:db8::1'], family='ipv4'), ['destination', '2001:db8::1', 'IPv6', 'ipv4']),
    (dict(destination=['192.0.2.1'], family='ipv6'), ['destination', '192.0.2.1', 'IPv4', 'ipv6']),
    (dict(destination=['10.0.0.0/8', '10.1.0.0/16']), ['destination', '10.0.0.0/8', '10.1.0.0/16', 'overlap']),
    (dict(destination=['192.0.2.1', 42]), ['destination', '42']),
    (dict(destination=[]), ['destination', 'required', '[]']),
    (dict(destination=None), ['destination', 'required', 'None']),
    (dict(destination=['192.0.2.1'], ports=[0]), ['ports', 'port 0', 'out of range']),
    (dict(destination=['192.0.2.1'], ports=[65536]), ['ports', '65536', 'out of range']),
    (dict(destination=['192.0.2.1'], ports=['70000']), ['ports', '70000']),
    (dict(destination=['192.0.2.1'], ports=['100-70000']), ['ports', '70000', '100-70000']),
    (dict(destination=['192.0.2.1'], ports=['90-80']), ['ports', "'90-80'", 'ends before it starts']),
    (dict(destination=['192.0.2.1'], ports=['http']), ['ports', "'http'"]),
    (dict(destination=['192.0.2.1'], ports=['80-']), ['ports', "'80-'"]),
    (dict(destination=['192.0.2.1'], ports=['']), ['ports', "''"]),
    (dict(destination=['192.0.2.1'], ports=[True]), ['ports', 'True']),
    (dict(destination=['192.0.2.1'], ports=[80.5]), ['ports', '80.5']),
    (dict(destination=['192.0.2.1'], ports=[-1]), ['ports', '-1']),
    (dict(destination=['192.0.2.1'], protocol='all', ports=[80]), ['ports', 'all', 'has no ports', '[80]']),
    (dict(destination=['192.0.2.1'], protocol='icmp'), ['protocol', 'icmp']),
    (dict(destination=['192.0.2.1'], family='ipx'), ['family', 'ipx']),
    (dict(destination=['192.0.2.1'], state='gone'), ['state', 'gone']),
])
def test_build_spec_rejects_bad_input(overrides, words):
    with pytest.raises(fwmodel.FwmarkError) as err:
        fwmodel.build_spec(params(**overrides))
    for word in words:
        assert word in err.value.msg


def test_bad_input_fails_before_any_command():
    run = FakeRun()
    with pytest.raises(fwmodel.FwmarkError):
        fw.ensure(params(mark=0, destination=['192.0.2.1']), run, get_bin)
    with pytest.raises(fwmodel.FwmarkError):
        fw.ensure(params(destination=['192.0.2.1'], ports=['9-1']), run, get_bin)
    assert run.calls == []


def test_build_spec_normalises():
    s = spec(mark=7, name='web', destination=['2001:DB8:0::10', '2001:db8::10/128', ' 2001:db8:1::/64 '],
             ports=[443, '80', '81', '8000:8010', '8005-8020', 443, '22 - 22'])
    assert s.family == 'ipv6'
    assert s.destinations == ('2001:db8::10', '2001:db8:1::/64')
    assert s.ports == ((22, 22), (80, 81), (443, 443), (8000, 8020))
    assert s.comment == 'lvs.cluster fwmark 7 web'
    assert s.families == ('ipv6',)


def test_adjacent_destinations_collapse_like_nft_interval_sets():
    # nft lists the interval set { 192.0.2.10, 192.0.2.11 } as 192.0.2.10/31: compare the same normal form
    assert spec(destination=['192.0.2.11', '192.0.2.10']).destinations == ('192.0.2.10/31',)
    assert spec(destination=['0.0.0.0/24', '0.0.1.0/24', '0.0.2.0/24']).destinations == ('0.0.0.0/23', '0.0.2.0/24')
    rule = fwnft.parse_nft_rule({'handle': 3, 'comment': 'lvs.cluster fwmark 1', 'expr': [
        {'match': {'op': '==', 'left': {'payload': {'protocol': 'ip', 'field': 'daddr'}},
                   'right': {'set': [{'range': ['0.0.1.0', '0.0.2.255']}, '0.0.3.0']}}},
        {'mangle': {'key': {'meta': {'key': 'mark'}}, 'value': 1}}]})
    assert rule.raw is None and rule.destinations == ('0.0.1.0/24', '0.0.2.0/24', '0.0.3.0')


def test_build_spec_limits():
    assert spec(mark=1, destination=['192.0.2.1']).mark == 1
    assert spec(mark=0xFFFFFFFF, destination=['192.0.2.1']).mark == 0xFFFFFFFF
    assert spec(destination=['192.0.2.1'], ports=[1, 65535]).ports == ((1, 1), (65535, 65535))
    assert spec(destination=['0.0.0.0/0']).destinations == ('0.0.0.0/0',)


def test_absent_needs_no_destination_and_covers_both_families():
    s = spec(state='absent')
    assert s.families == ('ipv4', 'ipv6')
    assert spec(state='absent', destination=['2001:db8::1']).families == ('ipv6',)
    assert spec(state='absent', family='ipv4').families == ('ipv4',)


@pytest.mark.parametrize('text, expected', [
    ('lvs.cluster fwmark 1', (1, None)),
    ('lvs.cluster fwmark 4294967295 web-1', (4294967295, 'web-1')),
    ('lvs.cluster fwmark', None),
    ('lvs.cluster fwmark x', None),
    ('lvs.cluster fwmark 1 two words', None),
    ('not ours 11', None),
    (None, None),
])
def test_parse_comment(text, expected):
    assert fwmodel.parse_comment(text) == expected


@given(st.lists(st.tuples(st.integers(1, 65535), st.integers(0, 300)), max_size=30))
def test_merge_ranges_properties(pairs):
    ranges = [(low, min(low + span, 65535)) for low, span in pairs]
    merged = fwmodel.merge_ranges(ranges)
    covered = set()
    for low, high in ranges:
        covered.update(range(low, high + 1))
    merged_cover = set()
    for low, high in merged:
        assert low <= high
        merged_cover.update(range(low, high + 1))
    assert merged_cover == covered
    for (_l1, h1), (l2, _h2) in zip(merged, merged[1:]):
        assert h1 + 1 < l2  # sorted, disjoint, not adjacent
    assert fwmodel.merge_ranges(merged) == merged


@given(st.lists(st.tuples(st.integers(1, 65535), st.booleans()), max_size=60))
def test_chunk_ports_fits_multiport(items):
    ranges = fwmodel.merge_ranges((p, min(p + 3, 65535)) if is_range else (p, p) for p, is_range in items)
    chunks = fwipt.chunk_ports(ranges)
    assert tuple(r for c in chunks for r in c) == ranges
    for chunk in chunks:
        assert chunk
        assert sum(1 if low == high else 2 for low, high in chunk) <= fwmodel.MULTIPORT_MAX


# ------------------------------------------------------------------------------------------------
# nftables: parsing real `nft -j` output
# ------------------------------------------------------------------------------------------------

def test_parse_nft_tables():
    assert fwnft.parse_nft_tables(fixture('nft_tables_empty.json')) == set()
    assert fwnft.parse_nft_tables(fixture('nft_tables_ours.json')) == {('inet', 'lvs_cluster_fwmark')}
    assert ('ip', 'other') in fwnft.parse_nft_tables(fixture('nft_tables_all.json'))
    with pytest.raises(fwmodel.FwmarkError):
        fwnft.parse_nft_tables('Error: something')


def test_parse_nft_json_mixed():
    state = fwnft.parse_nft_json(fixture('nft_table_mixed.json'))
    assert state.exists
    assert state.chain == {'type': 'filter', 'hook': 'prerouting', 'prio': -150, 'policy': 'accept'}
    assert state.other_objects == 0
    by_comment = {}
    for rule in state.rules:
        by_comment.setdefault(rule.comment, []).append(rule)
    assert len(state.rules) == 12

    one = by_comment['lvs.cluster fwmark 1']
    assert [r.to_dict() for r in one] == [
        {'family': 'ipv4', 'destination': ['192.0.2.10'], 'protocol': 'tcp', 'ports': ['80', '443'], 'mark': 1,
         'name': None, 'comment': 'lvs.cluster fwmark 1'},
        {'family': 'ipv6', 'destination': ['2001:db8::10'], 'protocol': 'tcp', 'ports': ['80', '443'], 'mark': 1,
         'name': None, 'comment': 'lvs.cluster fwmark 1'},
    ]
    assert isinstance(one[0].ref, int)
    web = by_comment['lvs.cluster fwmark 2 web'][0]
    assert (web.family, web.destinations, web.protocol, web.ports, web.mark) == (
        'ipv4', ('192.0.2.10', '198.51.100.0/24'), 'tcp', ((80, 80), (443, 443), (8000, 8010)), 2)
    assert web.to_dict()['name'] == 'web'
    dns = by_comment['lvs.cluster fwmark 3'][0]
    assert (dns.family, dns.destinations, dns.protocol, dns.ports) == ('ipv6', ('2001:db8::10',), 'udp', ((53, 53),))
    big = by_comment['lvs.cluster fwmark 4294967295'][0]
    assert (big.destinations, big.protocol, big.ports, big.mark) == (
        ('2001:db8::/64',), 'sctp', ((8000, 8010),), 0xFFFFFFFF)
    l4 = by_comment['lvs.cluster fwmark 5'][0]
    assert (l4.protocol, l4.ports, l4.raw) == ('tcp', (), None)
    everything = by_comment['lvs.cluster fwmark 6'][0]
    assert (everything.protocol, everything.ports, everything.raw) == ('all', (), None)
    single = by_comment['lvs.cluster fwmark 7'][0]
    assert single.ports == ((80, 80),)  # nft folds the one-element set "{ 80 }" into 80
    # a rule without a comment is not ours; it is parsed but never selected
    foreign = by_comment[None][0]
    assert foreign.owner is None
    # our comment with statements we never write: recognised as ours but unrecognised
    extra = by_comment['lvs.cluster fwmark 8'][0]
    assert extra.raw is not None and 'iifname' in extra.raw
    assert 'unrecognised' in extra.to_dict()
    # comment says 9, rule sets 10
    tampered = by_comment['lvs.cluster fwmark 9'][0]
    assert (tampered.owner, tampered.mark, tampered.raw) == ((9, None), 10, None)
    assert by_comment['not ours 11'][0].owner is None


def test_parse_nft_json_other_shapes():
    extra = fwnft.parse_nft_json(fixture('nft_table_extra_chain.json'))
    assert extra.other_objects == 1 and len(extra.rules) == 12
    wrong = fwnft.parse_nft_json(fixture('nft_table_wrong_priority.json'))
    assert wrong.chain['prio'] == 0
    with pytest.raises(fwmodel.FwmarkError):
        fwnft.parse_nft_json('not json')


def test_parse_nft_rule_tolerates_older_json_shapes():
    # older nft versions print meta keys as plain strings and set lookups with op "in"
    body = {'handle': 4, 'comment': 'lvs.cluster fwmark 1', 'expr': [
        {'match': {'op': 'in', 'left': {'payload': {'protocol': 'ip', 'field': 'daddr'}},
                   'right': {'set': ['192.0.2.10', '192.0.2.9']}}},
        {'match': {'op': '==', 'left': {'meta': 'l4proto'}, 'right': 6}},
        {'mangle': {'key': {'meta': 'mark'}, 'value': 1}}]}
    rule = fwnft.parse_nft_rule(body)
    assert rule.raw is None
    assert (rule.destinations, rule.protocol, rule.mark, rule.ref) == (('192.0.2.9', '192.0.2.10'), 'tcp', 1, 4)


@pytest.mark.parametrize('expr', [
    [{'match': {'op': '!=', 'left': {'payload': {'protocol': 'ip', 'field': 'daddr'}}, 'right': '192.0.2.1'}},
     {'mangle': {'key': {'meta': {'key': 'mark'}}, 'value': 1}}],
    [{'match': {'op': '==', 'left': {'payload': {'protocol': 'ip', 'field': 'daddr'}}, 'right': '192.0.2.1'}},
     {'counter': {'packets': 0, 'bytes': 0}}, {'mangle': {'key': {'meta': {'key': 'mark'}}, 'value': 1}}],
    [{'match': {'op': '==', 'left': {'payload': {'protocol': 'ip', 'field': 'daddr'}}, 'right': '2001:db8::1'}},
     {'mangle': {'key': {'meta': {'key': 'mark'}}, 'value': 1}}],
    [{'match': {'op': '==', 'left': {'payload': {'protocol': 'ip', 'field': 'daddr'}}, 'right': '192.0.2.1'}}],
    [{'mangle': {'key': {'meta': {'key': 'mark'}}, 'value': 1}}],
    [{'match': {'op': '==', 'left': {'payload': {'protocol': 'ip', 'field': 'daddr'}}, 'right': '192.0.2.1'}},
     {'match': {'op': '==', 'left': {'payload': {'protocol': 'tcp', 'field': 'dport'}}, 'right': '@myset'}},
     {'mangle': {'key': {'meta': {'key': 'mark'}}, 'value': 1}}],
    [{'match': {'op': '==', 'left': {'payload': {'protocol': 'ip', 'field': 'daddr'}}, 'right': '192.0.2.1'}},
     {'match': {'op': '==', 'left': {'meta': {'key': 'l4proto'}}, 'right': 'icmp'}},
     {'mangle': {'key': {'meta': {'key': 'mark'}}, 'value': 1}}],
])
def test_parse_nft_rule_unrecognised(expr):
    rule = fwnft.parse_nft_rule({'handle': 9, 'comment': 'lvs.cluster fwmark 1', 'expr': expr})
    assert rule.raw is not None
    assert rule.owner == (1, None) and rule.ref == 9


# ------------------------------------------------------------------------------------------------
# nftables: rendering and planning
# ------------------------------------------------------------------------------------------------

def test_render_nft_rule():
    rule = fwnft.NftBackend.desired_rules(spec(name='web', destination=['198.51.100.0/24', '192.0.2.10'],
                                               ports=[443, 80, '8000-8010']))[0]
    assert fwnft.render_nft_rule(rule) == (
        'add rule inet lvs_cluster_fwmark prerouting ip daddr { 192.0.2.10, 198.51.100.0/24 } '
        'tcp dport { 80, 443, 8000-8010 } meta mark set 0x00000001 comment "lvs.cluster fwmark 1 web"')
    rule = fwnft.NftBackend.desired_rules(spec(mark=0xFFFFFFFF, destination=['2001:db8::10'], protocol='udp'))[0]
    assert fwnft.render_nft_rule(rule, 'other') == (
        'add rule inet other prerouting ip6 daddr 2001:db8::10 meta l4proto udp meta mark set 0xffffffff '
        'comment "lvs.cluster fwmark 4294967295"')
    rule = fwnft.NftBackend.desired_rules(spec(destination=['192.0.2.10'], protocol='all'))[0]
    assert 'l4proto' not in fwnft.render_nft_rule(rule) and 'dport' not in fwnft.render_nft_rule(rule)


def nft_backend(tables_fixture, table_fixture=None, table='lvs_cluster_fwmark'):
    answers = {'-j list tables inet': (0, fixture(tables_fixture), '')}
    if table_fixture:
        answers['-j list table inet %s' % table] = (0, fixture(table_fixture), '')
    answers['-j list tables'] = (0, fixture('nft_tables_all.json'), '')
    run = FakeRun(answers)
    return run


def test_nft_ensure_from_nothing():
    run = nft_backend('nft_tables_empty.json')
    result = fw.ensure(params(name='web', destination=['192.0.2.10'], ports=[80, 443], backend='nftables'),
                       run, get_bin)
    assert result['changed'] and result['backend'] == 'nftables'
    (argv, script), = run.changing_calls
    assert argv == ['/usr/sbin/nft', '-f', '-']
    assert script.splitlines() == [
        'add table inet lvs_cluster_fwmark',
        'add chain inet lvs_cluster_fwmark prerouting { type filter hook prerouting priority mangle; policy accept; }',
        'add rule inet lvs_cluster_fwmark prerouting ip daddr 192.0.2.10 tcp dport { 80, 443 } '
        'meta mark set 0x00000001 comment "lvs.cluster fwmark 1 web"',
    ]
    assert result['commands'] == ["/usr/sbin/nft -f - <<'EOF'\n" + script + 'EOF']
    assert result['diff']['before'] == {'mark': 1, 'backend': 'nftables', 'state': 'absent', 'rules': []}
    assert result['diff']['after']['rules'] == result['rules'] == [
        {'family': 'ipv4', 'destination': ['192.0.2.10'], 'protocol': 'tcp', 'ports': ['80', '443'], 'mark': 1,
         'name': 'web', 'comment': 'lvs.cluster fwmark 1 web'}]


def test_nft_ensure_idempotent_on_real_state():
    # nft_table_web.json is what nft printed after applying the script of test_nft_ensure_from_nothing
    run = nft_backend('nft_tables_ours.json', 'nft_table_web.json')
    result = fw.ensure(params(name='web', destination=['192.0.2.10'], ports=['443', 80], backend='nftables'),
                       run, get_bin)
    assert not result['changed'] and result['commands'] == [] and run.changing_calls == []
    assert result['diff']['before'] == result['diff']['after']


def test_nft_ensure_change_is_one_transaction():
    run = nft_backend('nft_tables_ours.json', 'nft_table_web.json')
    result = fw.ensure(params(name='web', destination=['192.0.2.10'], ports=[80, 443, 8443], backend='nftables'),
                       run, get_bin)
    assert result['changed']
    (_argv, script), = run.changing_calls
    assert script.splitlines() == [
        'delete rule inet lvs_cluster_fwmark prerouting handle 3',
        'add rule inet lvs_cluster_fwmark prerouting ip daddr 192.0.2.10 tcp dport { 80, 443, 8443 } '
        'meta mark set 0x00000001 comment "lvs.cluster fwmark 1 web"',
    ]


def test_nft_rename_is_a_change():
    run = nft_backend('nft_tables_ours.json', 'nft_table_web.json')
    result = fw.ensure(params(name='www', destination=['192.0.2.10'], ports=[80, 443], backend='nftables'),
                       run, get_bin, check_mode=True)
    assert result['changed'] and run.changing_calls == []
    assert 'handle 3' in result['commands'][0] and 'fwmark 1 www' in result['commands'][0]


def test_nft_absent_of_last_rule_deletes_table():
    run = nft_backend('nft_tables_ours.json', 'nft_table_web.json')
    result = fw.ensure(params(state='absent', backend='nftables'), run, get_bin)
    assert result['changed'] and result['rules'] == []
    assert run.changing_calls[0][1] == 'delete table inet lvs_cluster_fwmark\n'


def test_nft_absent_keeps_other_rules_and_families():
    run = nft_backend('nft_tables_ours.json', 'nft_table_mixed.json')
    result = fw.ensure(params(state='absent', family='ipv6', backend='nftables'), run, get_bin)
    state = fwnft.parse_nft_json(fixture('nft_table_mixed.json'))
    v6 = [r for r in state.rules if r.comment == 'lvs.cluster fwmark 1' and r.family == 'ipv6'][0]
    assert run.changing_calls[0][1] == 'delete rule inet lvs_cluster_fwmark prerouting handle %d\n' % v6.ref
    assert [r['family'] for r in result['diff']['before']['rules']] == ['ipv6']


def test_nft_absent_with_extra_chain_keeps_table():
    run = nft_backend('nft_tables_ours.json', 'nft_table_extra_chain.json')
    state = fwnft.parse_nft_json(fixture('nft_table_extra_chain.json'))
    # pretend only mark 6's rule is in the chain: the extra chain must still keep the table alive
    backend = fwnft.NftBackend(run, get_bin)
    backend.state = fwnft.NftState(True, state.chain, [r for r in state.rules if r.comment == 'lvs.cluster fwmark 6'],
                                   state.other_objects)
    to_delete, to_add = fwmodel.diff_rules(backend.current_rules(spec(mark=6, state='absent')), [])
    (command,) = backend.plan(to_delete, to_add)
    assert command.stdin.startswith('delete rule inet lvs_cluster_fwmark prerouting handle ')


def test_nft_replaces_unrecognised_and_tampered_rules_but_not_foreign_ones():
    run = nft_backend('nft_tables_ours.json', 'nft_table_mixed.json')
    fw.ensure(params(mark=8, destination=['192.0.2.20'], ports=[80], backend='nftables'), run, get_bin)
    script = run.changing_calls[0][1]
    assert script.count('delete rule') == 1 and 'add rule' in script
    run = nft_backend('nft_tables_ours.json', 'nft_table_mixed.json')
    result = fw.ensure(params(mark=9, destination=['192.0.2.30'], ports=[80], backend='nftables'), run, get_bin)
    assert result['changed'] and 'meta mark set 0x00000009' in run.changing_calls[0][1]
    # mark 99 exists only as a rule without our comment: it is not ours, nothing to delete
    run = nft_backend('nft_tables_ours.json', 'nft_table_mixed.json')
    result = fw.ensure(params(mark=99, state='absent', backend='nftables'), run, get_bin)
    assert not result['changed'] and run.changing_calls == []


def test_nft_wrong_chain_is_an_error():
    run = nft_backend('nft_tables_ours.json', 'nft_table_wrong_priority.json')
    with pytest.raises(fwmodel.FwmarkError) as err:
        fw.ensure(params(destination=['192.0.2.10'], ports=[80], backend='nftables'), run, get_bin)
    assert 'priority 0' in err.value.msg and run.changing_calls == []


def test_nft_idempotent_for_every_rule_in_the_mixed_fixture():
    """Each well-formed rule nft printed must equal what the module would render for the same options."""
    state = fwnft.parse_nft_json(fixture('nft_table_mixed.json'))
    for rule in state.rules:
        if rule.owner is None or rule.raw is not None or rule.owner[0] != rule.mark:
            continue
        p = params(mark=rule.mark, name=rule.owner[1], destination=list(rule.destinations), family=rule.family,
                   protocol=rule.protocol, ports=[fwmodel.format_port(r) for r in rule.ports])
        assert fwnft.NftBackend.desired_rules(fwmodel.build_spec(p)) == [rule]


def test_nft_command_failure_is_reported():
    run = nft_backend('nft_tables_empty.json')
    run.answers['/usr/sbin/nft -f -'] = (1, '', 'Error: Could not process rule: Operation not permitted')
    with pytest.raises(fwmodel.FwmarkError) as err:
        fw.ensure(params(destination=['192.0.2.10'], backend='nftables'), run, get_bin)
    assert 'Operation not permitted' in err.value.msg and err.value.details['rc'] == 1


def test_nft_missing_binary():
    with pytest.raises(fwmodel.FwmarkError) as err:
        fw.ensure(params(destination=['192.0.2.10'], backend='nftables'), FakeRun(), lambda name: None)
    assert 'nft' in err.value.msg


# ------------------------------------------------------------------------------------------------
# iptables: parsing real `iptables -S` output, rendering, planning
# ------------------------------------------------------------------------------------------------

def test_parse_iptables_save():
    rules = fwipt.parse_iptables_save(fixture('iptables_mangle.txt'), 'ipv4')
    assert len(rules) == 12
    by_comment = {}
    for rule in rules:
        by_comment.setdefault(rule.comment, []).append(rule)
    one = by_comment['lvs.cluster fwmark 1'][0]
    assert one.to_dict() == {'family': 'ipv4', 'destination': ['192.0.2.10'], 'protocol': 'tcp',
                             'ports': ['80', '443'], 'mark': 1, 'name': None, 'comment': 'lvs.cluster fwmark 1'}
    assert one.ref.startswith('-A PREROUTING -d 192.0.2.10/32')
    web = by_comment['lvs.cluster fwmark 2 web'][0]
    assert (web.destinations, web.ports, web.mark, web.raw) == (('198.51.100.0/24',), ((8000, 8010),), 2, None)
    big = by_comment['lvs.cluster fwmark 4294967295'][0]
    assert (big.protocol, big.ports, big.mark) == ('sctp', ((80, 80), (8000, 8010)), 0xFFFFFFFF)
    assert by_comment['lvs.cluster fwmark 4'][0].protocol == 'all'
    udp = by_comment['lvs.cluster fwmark 5'][0]
    assert (udp.protocol, udp.ports, udp.raw) == ('udp', (), None)
    assert by_comment[None][0].owner is None and by_comment[None][0].mark == 99
    interface, negated = by_comment['lvs.cluster fwmark 8']
    assert '-i' in interface.raw and '!' in negated.raw
    assert by_comment['lvs.cluster fwmark 9'][0].mark == 10
    assert '0xff' in by_comment['lvs.cluster fwmark 10'][0].raw
    assert [r.ports for r in by_comment['lvs.cluster fwmark 12']] == [((1, 15),), ((16, 16),)]


def test_parse_ip6tables_save():
    rules = fwipt.parse_iptables_save(fixture('ip6tables_mangle.txt'), 'ipv6')
    assert [r.to_dict() for r in rules] == [
        {'family': 'ipv6', 'destination': ['2001:db8::10'], 'protocol': 'tcp', 'ports': ['80', '443'], 'mark': 1,
         'name': None, 'comment': 'lvs.cluster fwmark 1'},
        {'family': 'ipv6', 'destination': ['2001:db8::/64'], 'protocol': 'udp', 'ports': ['53'], 'mark': 3,
         'name': 'dns', 'comment': 'lvs.cluster fwmark 3 dns'},
    ]
    assert fwipt.parse_iptables_save(fixture('iptables_empty.txt'), 'ipv4') == []


def test_iptables_lines_round_trip_on_the_fixture():
    """Every well-formed line iptables printed is rendered back byte for byte."""
    for line in fixture('iptables_mangle.txt').splitlines() + fixture('ip6tables_mangle.txt').splitlines():
        family = 'ipv6' if '2001:' in line else 'ipv4'
        rule = fwipt.parse_iptables_line(line, family)
        if rule is None or rule.raw is not None or rule.owner is None:
            continue
        if rule.owner[0] == 12:
            # 1,2,...,15 is normalised into the range 1:15: the same packets, another spelling
            assert rule.ports in (((1, 15),), ((16, 16),))
            continue
        assert fwipt.render_iptables_line(rule) == line


def test_iptables_desired_rules_split_per_destination_and_multiport_limit():
    ports = list(range(1000, 1040, 2))  # 20 single ports: 15 + 5
    rules = fwipt.IptablesBackend.desired_rules(spec(destination=['192.0.2.10', '192.0.2.12'], ports=ports))
    assert len(rules) == 4
    lines = [fwipt.render_iptables_line(r) for r in rules]
    assert lines[0].startswith('-A PREROUTING -d 192.0.2.10/32 -p tcp -m multiport --dports 1000,1002,')
    assert lines[1].startswith('-A PREROUTING -d 192.0.2.10/32 -p tcp -m multiport --dports 1030,')
    assert lines[2].startswith('-A PREROUTING -d 192.0.2.12/32 -p tcp -m multiport --dports 1000,1002,')
    assert lines[0].endswith('-m comment --comment "lvs.cluster fwmark 1" -j MARK --set-xmark 0x1/0xffffffff')
    single = fwipt.IptablesBackend.desired_rules(spec(destination=['2001:db8::/64'], protocol='sctp', ports=['10-20']))
    assert fwipt.render_iptables_line(single[0]) == (
        '-A PREROUTING -d 2001:db8::/64 -p sctp -m sctp --dport 10:20 -m comment --comment "lvs.cluster fwmark 1" '
        '-j MARK --set-xmark 0x1/0xffffffff')
    anything = fwipt.IptablesBackend.desired_rules(spec(destination=['192.0.2.1'], protocol='all'))
    assert fwipt.render_iptables_line(anything[0]) == (
        '-A PREROUTING -d 192.0.2.1/32 -m comment --comment "lvs.cluster fwmark 1" -j MARK --set-xmark 0x1/0xffffffff')


def iptables_run(v4='iptables_empty.txt', v6='iptables_empty.txt'):
    return FakeRun({
        '/usr/sbin/iptables -w -t mangle -S PREROUTING': (0, fixture(v4), ''),
        '/usr/sbin/ip6tables -w -t mangle -S PREROUTING': (0, fixture(v6), ''),
    })


def test_iptables_ensure_from_nothing_then_idempotent():
    p = params(name='web', destination=['192.0.2.10'], ports=[80, 443], backend='iptables')
    run = iptables_run()
    result = fw.ensure(p, run, get_bin)
    assert result['changed'] and result['backend'] == 'iptables'
    (argv, stdin), = run.changing_calls
    assert argv == ['/usr/sbin/iptables-restore', '-w', '--noflush']
    assert stdin.splitlines() == [
        '*mangle',
        '-A PREROUTING -d 192.0.2.10/32 -p tcp -m multiport --dports 80,443 -m comment --comment '
        '"lvs.cluster fwmark 1 web" -j MARK --set-xmark 0x1/0xffffffff',
        'COMMIT']
    # iptables_web.txt is what iptables -S printed after that input was applied
    run = iptables_run(v4='iptables_web.txt')
    result = fw.ensure(p, run, get_bin)
    assert not result['changed'] and run.changing_calls == []
    assert result['rules'] == [{'family': 'ipv4', 'destination': ['192.0.2.10'], 'protocol': 'tcp',
                                'ports': ['80', '443'], 'mark': 1, 'name': 'web',
                                'comment': 'lvs.cluster fwmark 1 web'}]


def test_iptables_change_deletes_and_adds_in_one_commit():
    run = iptables_run(v4='iptables_mangle.txt')
    fw.ensure(params(mark=12, destination=['192.0.2.10'], ports=list(range(1, 17)), backend='iptables'),
              run, get_bin)
    (_argv, stdin), = run.changing_calls
    lines = stdin.splitlines()
    assert lines[0] == '*mangle' and lines[-1] == 'COMMIT'
    assert [line.split()[0] for line in lines[1:-1]] == ['-D', '-D', '-A']
    assert '--dport 1:16' in lines[3]
    original = fixture('iptables_mangle.txt').splitlines()
    assert '-A' + lines[1][2:] in original and '-A' + lines[2][2:] in original


def test_iptables_absent_both_families():
    run = iptables_run(v4='iptables_mangle.txt', v6='ip6tables_mangle.txt')
    result = fw.ensure(params(mark=1, state='absent', backend='iptables'), run, get_bin, check_mode=True)
    assert result['changed'] and run.changing_calls == []
    assert [c.split()[0] for c in result['commands']] == ['/usr/sbin/iptables-restore', '/usr/sbin/ip6tables-restore']
    assert all('-D PREROUTING' in c and '-A PREROUTING' not in c for c in result['commands'])


def test_iptables_absent_tolerates_missing_ip6tables():
    run = iptables_run(v4='iptables_web.txt')
    result = fw.ensure(params(state='absent', backend='iptables'), run,
                       lambda name: None if name.startswith('ip6') else get_bin(name))
    assert result['changed'] and len(run.changing_calls) == 1


def test_iptables_present_v6_needs_ip6tables():
    with pytest.raises(fwmodel.FwmarkError) as err:
        fw.ensure(params(destination=['2001:db8::1'], backend='iptables'), iptables_run(),
                  lambda name: None if name.startswith('ip6') else get_bin(name))
    assert 'ip6tables' in err.value.msg and 'ipv6' in err.value.msg


def test_iptables_replaces_unrecognised_rules_and_keeps_foreign_ones():
    run = iptables_run(v4='iptables_mangle.txt')
    fw.ensure(params(mark=8, destination=['192.0.2.20'], ports=[80], backend='iptables'), run, get_bin)
    stdin = run.changing_calls[0][1]
    assert stdin.count('-D PREROUTING') == 2 and stdin.count('-A PREROUTING') == 1
    assert '0x63' not in stdin  # the rule without our comment


# ------------------------------------------------------------------------------------------------
# backend choice
# ------------------------------------------------------------------------------------------------

def test_choose_backend():
    ok_nft = {'/usr/sbin/nft -j list tables': (0, fixture('nft_tables_all.json'), '')}
    legacy = {'/usr/sbin/iptables -V': (0, fixture('iptables_version_legacy.txt'), ''),
              '/usr/sbin/ip6tables -V': (0, 'ip6tables v1.8.9 (legacy)\n', '')}
    assert fw.choose_backend('iptables', FakeRun(), get_bin) == 'iptables'
    assert fw.choose_backend('nftables', FakeRun(), get_bin) == 'nftables'
    assert fw.choose_backend('auto', FakeRun(), lambda n: None) == 'iptables'
    assert fw.choose_backend('auto', FakeRun({'nft -j list tables': (1, '', 'Error: Operation not permitted')}),
                             get_bin) == 'iptables'
    run = FakeRun(dict(ok_nft, **{'/usr/sbin/iptables -V': (0, fixture('iptables_version_nft.txt'), ''),
                                  '/usr/sbin/ip6tables -V': (0, 'ip6tables v1.8.9 (nf_tables)\n', '')}))
    assert fw.choose_backend('auto', run, get_bin) == 'nftables'
    run = FakeRun(dict(ok_nft, **legacy))
    run.answers['/usr/sbin/iptables -w -t mangle -S'] = (0, fixture('iptables_legacy_mangle_all.txt'), '')
    assert fw.choose_backend('auto', run, get_bin, ('ipv4',)) == 'iptables'
    run = FakeRun(dict(ok_nft, **legacy))
    run.answers['/usr/sbin/iptables -w -t mangle -S'] = (0, '-P PREROUTING ACCEPT\n-P INPUT ACCEPT\n', '')
    run.answers['/usr/sbin/ip6tables -w -t mangle -S'] = (0, '-P PREROUTING ACCEPT\n', '')
    assert fw.choose_backend('auto', run, get_bin) == 'nftables'


# ------------------------------------------------------------------------------------------------
# property tests
# ------------------------------------------------------------------------------------------------

# addresses drawn from a small block half of the time, so that adjacent and mergeable prefixes are common
ipv4_hosts = st.one_of(st.integers(0, 2 ** 32 - 1), st.integers(0, 1024).map(lambda n: 0xC0000200 + n)).map(
    ipaddress.IPv4Address)
ipv6_hosts = st.one_of(st.integers(0, 2 ** 128 - 1), st.integers(0, 1024).map(lambda n: (0x20010db8 << 96) + n)).map(
    ipaddress.IPv6Address)


@st.composite
def specs(draw, family=None):
    family = family or draw(st.sampled_from(fwmodel.FAMILIES))
    hosts = ipv4_hosts if family == 'ipv4' else ipv6_hosts
    top = 32 if family == 'ipv4' else 128
    nets = set()
    for address in draw(st.lists(hosts, min_size=1, max_size=4)):
        prefix = draw(st.integers(top - 8, top))
        net = ipaddress.ip_network('%s/%d' % (address, prefix), strict=False)
        if not any(net.overlaps(other) for other in nets):
            nets.add(net)
    protocol = draw(st.sampled_from(fwmodel.PROTOCOLS))
    ports = []
    if protocol != 'all':
        for low, span in draw(st.lists(st.tuples(st.integers(1, 65535), st.integers(0, 50)), max_size=25)):
            high = min(low + span, 65535)
            ports.append(low if low == high else '%d-%d' % (low, high))
    name = draw(st.one_of(st.none(), st.from_regex(r'\A[A-Za-z0-9][A-Za-z0-9_.:@+/-]{0,20}\Z')))
    return params(mark=draw(st.integers(1, 0xFFFFFFFF)), name=name, family=draw(st.sampled_from([None, family])),
                  destination=[str(n) for n in nets], protocol=protocol, ports=ports)


@given(specs())
def test_spec_normalisation_is_idempotent(p):
    first = fwmodel.build_spec(p)
    again = fwmodel.build_spec(params(mark=first.mark, name=first.name, destination=list(first.destinations),
                                      protocol=first.protocol, ports=[fwmodel.format_port(r) for r in first.ports]))
    assert again == first


@given(specs())
def test_iptables_render_parse_round_trip(p):
    desired = fwipt.IptablesBackend.desired_rules(fwmodel.build_spec(p))
    text = '-P PREROUTING ACCEPT\n' + '\n'.join(fwipt.render_iptables_line(r) for r in desired) + '\n'
    parsed = fwipt.parse_iptables_save(text, desired[0].family)
    assert parsed == desired
    assert fwmodel.diff_rules(parsed, desired) == ([], [])


@given(st.lists(st.integers(0, 5), max_size=8), st.lists(st.integers(0, 5), max_size=8))
def test_diff_rules_multiset(current_ids, desired_ids):
    def rule(i):
        return fwmodel.Rule('ipv4', ('192.0.2.%d' % i,), 'tcp', (), 1, 'lvs.cluster fwmark 1')
    current = [rule(i) for i in current_ids]
    desired = [rule(i) for i in desired_ids]
    to_delete, to_add = fwmodel.diff_rules(current, desired)
    remaining = list(current)
    for r in to_delete:
        remaining.remove(r)
    assert sorted(remaining + to_add, key=fwmodel.Rule.key) == sorted(desired, key=fwmodel.Rule.key)


# ------------------------------------------------------------------------------------------------
# live round trip against the real nft / iptables in a throwaway network namespace (opt-in)
# ------------------------------------------------------------------------------------------------

LIVE = os.environ.get('LVS_FWMARK_LIVE') == '1'


@pytest.fixture(scope='module')
def netns():
    if not LIVE:
        pytest.skip('set LVS_FWMARK_LIVE=1 (root, nft, iptables) to run live netns tests')
    name = 'lvs-fwmark-test-%s' % uuid.uuid4().hex[:8]
    subprocess.check_call(['ip', 'netns', 'add', name])
    try:
        yield name
    finally:
        subprocess.call(['ip', 'netns', 'del', name])


def live_run(ns):
    def run(argv, data=None):
        proc = subprocess.run(['ip', 'netns', 'exec', ns] + list(argv), input=data, capture_output=True, text=True,
                              check=False)
        return proc.returncode, proc.stdout, proc.stderr
    return run


@pytest.mark.parametrize('backend', ['nftables', 'iptables'])
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(p=specs())
def test_live_apply_read_round_trip(netns, backend, p):
    run = live_run(netns)
    p = dict(p, backend=backend)
    first = fw.ensure(p, run, shutil.which)
    assert first['changed']
    second = fw.ensure(p, run, shutil.which)
    assert not second['changed'], second['diff']
    assert second['rules'] == first['rules']
    gone = fw.ensure(dict(p, state='absent'), run, shutil.which)
    assert gone['changed']
    assert not fw.ensure(dict(p, state='absent'), run, shutil.which)['changed']


def test_boot_script_recreates_the_table_with_the_rules_the_module_writes():
    from ansible_collections.lvs.cluster.plugins.module_utils._fwmark_nft import render_nft_boot_script
    script = render_nft_boot_script([
        {"mark": 2, "destination": ["2001:db8::100"], "ports": [80]},
        {"mark": 1, "name": "web", "destination": ["192.0.2.100"], "ports": [443, 80]},
    ])
    assert script.splitlines() == [
        "table inet lvs_cluster_fwmark",
        "delete table inet lvs_cluster_fwmark",
        "add table inet lvs_cluster_fwmark",
        "add chain inet lvs_cluster_fwmark prerouting { type filter hook prerouting priority mangle; policy accept; }",
        'add rule inet lvs_cluster_fwmark prerouting ip daddr 192.0.2.100 tcp dport { 80, 443 } '
        'meta mark set 0x00000001 comment "lvs.cluster fwmark 1 web"',
        'add rule inet lvs_cluster_fwmark prerouting ip6 daddr 2001:db8::100 tcp dport 80 '
        'meta mark set 0x00000002 comment "lvs.cluster fwmark 2"',
    ]


def test_boot_script_without_marks_only_removes_the_table():
    from ansible_collections.lvs.cluster.plugins.module_utils._fwmark_nft import render_nft_boot_script
    assert render_nft_boot_script([]) == "table inet lvs_cluster_fwmark\ndelete table inet lvs_cluster_fwmark\n"
