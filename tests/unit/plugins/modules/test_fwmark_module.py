# -*- coding: utf-8 -*-
# Copyright (c) 2025, lvs.cluster maintainers
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Unit tests of plugins/modules/fwmark.py: main() against a fake ``run_command``.

The fake host is stateful: it keeps the output that ``nft -j list table`` / ``iptables -S`` return, and
switches to the real output captured after the same change (fixtures/fwmark/*_web.*) when the module
applies it, so that "apply, then run again" is checked end to end without a host.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os

import pytest
import yaml

from ansible.module_utils import basic
from ansible.module_utils.testing import patch_module_args

from ansible_collections.lvs.cluster.plugins.doc_fragments.attributes import ModuleDocFragment
from ansible_collections.lvs.cluster.plugins.modules import fwmark
from lock_helpers import read_lock_state

FIXTURES = os.path.join(os.path.dirname(__file__), '..', 'module_utils', 'fixtures', 'fwmark')

WEB_ARGS = dict(mark=1, name='web', destination=['192.0.2.10'], ports=[80, 443])
NFT_WEB_SCRIPT = (
    'add table inet lvs_cluster_fwmark\n'
    'add chain inet lvs_cluster_fwmark prerouting { type filter hook prerouting priority mangle; policy accept; }\n'
    'add rule inet lvs_cluster_fwmark prerouting ip daddr 192.0.2.10 tcp dport { 80, 443 } '
    'meta mark set 0x00000001 comment "lvs.cluster fwmark 1 web"\n')
IPT_WEB_INPUT = (
    '*mangle\n'
    '-A PREROUTING -d 192.0.2.10/32 -p tcp -m multiport --dports 80,443 -m comment --comment '
    '"lvs.cluster fwmark 1 web" -j MARK --set-xmark 0x1/0xffffffff\n'
    'COMMIT\n')


def fixture(name):
    with open(os.path.join(FIXTURES, name)) as handle:
        return handle.read()


class ExitJson(Exception):
    pass


class FailJson(Exception):
    pass


class FakeHost(object):
    """Answers the commands the module runs; applying the known 'web' change moves to the captured state."""

    def __init__(self, legacy=False, nft_ok=True):
        self.nft_tables = fixture('nft_tables_empty.json')
        self.nft_table = None
        self.ipt = {'iptables': fixture('iptables_empty.txt'), 'ip6tables': fixture('iptables_empty.txt')}
        self.legacy = legacy
        self.nft_ok = nft_ok
        self.calls = []

    def run_command(self, args, data=None, **kwargs):
        self.calls.append((list(args), data, kwargs))
        tool = os.path.basename(args[0])
        rest = list(args[1:])
        if tool == 'nft':
            if not self.nft_ok:
                return 1, '', 'Error: cache initialization failed: Operation not permitted'
            if rest == ['-j', 'list', 'tables']:
                return 0, self.nft_tables, ''
            if rest == ['-j', 'list', 'tables', 'inet']:
                return 0, self.nft_tables, ''
            if rest == ['-j', 'list', 'table', 'inet', 'lvs_cluster_fwmark'] and self.nft_table:
                return 0, self.nft_table, ''
            if rest == ['-f', '-']:
                if data == NFT_WEB_SCRIPT:
                    self.nft_tables = fixture('nft_tables_ours.json')
                    self.nft_table = fixture('nft_table_web.json')
                    return 0, '', ''
                if data == 'delete table inet lvs_cluster_fwmark\n':
                    self.nft_tables = fixture('nft_tables_empty.json')
                    self.nft_table = None
                    return 0, '', ''
                return 0, '', ''
        if tool in ('iptables', 'ip6tables'):
            if rest == ['-V']:
                return 0, '%s v1.8.9 (%s)\n' % (tool, 'legacy' if self.legacy else 'nf_tables'), ''
            if rest == ['-w', '-t', 'mangle', '-S']:
                return 0, fixture('iptables_legacy_mangle_all.txt') if self.legacy else '-P PREROUTING ACCEPT\n', ''
            if rest == ['-w', '-t', 'mangle', '-S', 'PREROUTING']:
                return 0, self.ipt[tool], ''
        if tool in ('iptables-restore', 'ip6tables-restore') and rest == ['-w', '--noflush']:
            if data == IPT_WEB_INPUT:
                self.ipt['iptables'] = fixture('iptables_web.txt')
            elif data.startswith('*mangle\n-D PREROUTING -d 192.0.2.10/32'):
                self.ipt['iptables'] = fixture('iptables_empty.txt')
            return 0, '', ''
        raise AssertionError('unexpected command %r' % (args,))

    @property
    def changing_calls(self):
        return [c for c in self.calls if c[0][1:] == ['-f', '-'] or c[0][0].endswith('-restore')]


@pytest.fixture
def host(monkeypatch):
    fake = FakeHost()

    def exit_json(self, **kwargs):
        raise ExitJson(kwargs)

    def fail_json(self, msg, **kwargs):
        kwargs['msg'] = msg
        raise FailJson(kwargs)

    monkeypatch.setattr(basic.AnsibleModule, 'exit_json', exit_json)
    monkeypatch.setattr(basic.AnsibleModule, 'fail_json', fail_json)
    monkeypatch.setattr(basic.AnsibleModule, 'run_command',
                        lambda self, args, data=None, **kw: fake.run_command(args, data, **kw))
    monkeypatch.setattr(basic.AnsibleModule, 'get_bin_path', lambda self, name, required=False, opt_dirs=None:
                        '/usr/sbin/' + name)
    return fake


def run_module(args, check=False, diff=False):
    args = dict(args)
    args['_ansible_check_mode'] = check
    args['_ansible_diff'] = diff
    with patch_module_args(args):
        with pytest.raises((ExitJson, FailJson)) as caught:
            fwmark.main()
    result = caught.value.args[0]
    result['failed'] = isinstance(caught.value, FailJson)
    return result


def documented_options(doc):
    """The module's own options plus those of its lvs.cluster.attributes doc fragments."""
    options = dict(doc['options'])
    for name in doc.get('extends_documentation_fragment', []):
        fragment = name.split('.')[3] if name.count('.') == 3 else 'DOCUMENTATION'
        options.update(yaml.safe_load(getattr(ModuleDocFragment, fragment.upper()))['options'])
    return options


def test_documentation_parses_and_matches_argspec():
    doc = yaml.safe_load(fwmark.DOCUMENTATION)
    yaml.safe_load(fwmark.EXAMPLES)
    yaml.safe_load(fwmark.RETURN)
    assert doc['module'] == 'fwmark' and doc['version_added'] == '0.1.0'
    with patch_module_args(dict(mark=1, destination=['192.0.2.1'])):
        spec = fwmark.build_module().argument_spec
    doc['options'] = documented_options(doc)
    assert 'lock_timeout' in doc['options']
    assert set(doc['options']) == set(spec)
    for name, option in spec.items():
        assert doc['options'][name]['type'] == option['type'], name
        assert doc['options'][name].get('default') == option.get('default'), name
        assert doc['options'][name].get('choices') == option.get('choices'), name
        assert doc['options'][name].get('required', False) == option.get('required', False), name


@pytest.mark.parametrize('backend', ['nftables', 'iptables'])
def test_check_mode_then_apply_then_idempotent(host, backend):
    args = dict(WEB_ARGS, backend=backend)
    checked = run_module(args, check=True, diff=True)
    assert checked['changed'] and not checked['failed']
    assert host.changing_calls == []  # check mode ran nothing that changes the host
    assert checked['diff']['before']['rules'] == []
    assert checked['diff']['after']['rules'] == checked['rules']

    applied = run_module(args)
    assert applied['changed'] and applied['backend'] == backend
    assert applied['commands'] == checked['commands']
    assert 'diff' not in applied  # only with --diff
    (argv, data, kwargs), = host.changing_calls
    assert data == (NFT_WEB_SCRIPT if backend == 'nftables' else IPT_WEB_INPUT)
    assert kwargs['environ_update']['LC_ALL'] == 'C'

    again_check = run_module(args, check=True)
    assert not again_check['changed'] and again_check['commands'] == []
    again = run_module(args, diff=True)
    assert not again['changed'] and again['rules'] == applied['rules']
    assert again['diff']['before'] == again['diff']['after']
    assert len(host.changing_calls) == 1

    removed = run_module(dict(mark=1, state='absent', backend=backend))
    assert removed['changed'] and removed['rules'] == []
    assert not run_module(dict(mark=1, state='absent', backend=backend))['changed']


def test_auto_picks_nftables(host):
    result = run_module(WEB_ARGS, check=True)
    assert result['backend'] == 'nftables'


def test_auto_picks_iptables_with_legacy_mangle_rules(host):
    host.legacy = True
    result = run_module(WEB_ARGS, check=True)
    assert result['backend'] == 'iptables'


def test_auto_picks_iptables_without_working_nft(host):
    host.nft_ok = False
    result = run_module(WEB_ARGS, check=True)
    assert result['backend'] == 'iptables'


@pytest.mark.parametrize('args, words', [
    (dict(mark=0, destination=['192.0.2.1']), ['mark', '0']),
    (dict(mark=-5, destination=['192.0.2.1']), ['mark', '-5']),
    (dict(mark=4294967296, destination=['192.0.2.1']), ['mark', '4294967296']),
    (dict(mark='one', destination=['192.0.2.1']), ['mark', 'one']),
    (dict(mark=1), ['destination']),
    (dict(mark=1, destination=['192.0.2.1'], protocol='icmp'), ['protocol', 'icmp']),
    (dict(mark=1, destination=['192.0.2.1'], backend='pf'), ['backend', 'pf']),
    (dict(mark=1, destination=['192.0.2.1'], family='ipv5'), ['family', 'ipv5']),
    (dict(mark=1, destination=['2001:db8::1'], family='ipv4'), ['destination', '2001:db8::1', 'ipv4']),
    (dict(mark=1, destination=['192.0.2.1', '2001:db8::1']), ['destination', 'mixes']),
    (dict(mark=1, destination=['192.0.2.999']), ['destination', '192.0.2.999']),
    (dict(mark=1, destination=['192.0.2.1'], ports=[70000]), ['ports', '70000']),
    (dict(mark=1, destination=['192.0.2.1'], ports=['443-80']), ['ports', '443-80']),
    (dict(mark=1, destination=['192.0.2.1'], protocol='all', ports=[80]), ['ports', 'all']),
    (dict(mark=1, destination=['192.0.2.1'], name='a b'), ['name', 'a b']),
    (dict(mark=1, destination=['192.0.2.1'], nft_table='bad-name'), ['nft_table', 'bad-name']),
])
def test_bad_input_fails_before_running_anything(host, args, words):
    result = run_module(args)
    assert result['failed']
    for word in words:
        assert word in result['msg']
    assert host.calls == []


def test_command_failure_is_reported(host, monkeypatch):
    original = host.run_command

    def failing(args, data=None, **kwargs):
        if list(args[1:]) == ['-f', '-']:
            return 1, '', 'Error: Could not process rule: No such file or directory'
        return original(args, data, **kwargs)

    monkeypatch.setattr(host, 'run_command', failing)
    result = run_module(dict(WEB_ARGS, backend='nftables'))
    assert result['failed'] and 'No such file or directory' in result['msg'] and result['rc'] == 1


# --------------------------------------------------------------------------------------------
# The host lock: held from the first read to the last command; check mode does not take it
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize('backend', ['nftables', 'iptables'])
def test_every_command_runs_under_the_lock(host, monkeypatch, lock_path, backend):
    holders = []
    original = host.run_command

    def watching(args, data=None, **kwargs):
        holders.append((read_lock_state(lock_path) or {}).get("what"))
        return original(args, data, **kwargs)

    monkeypatch.setattr(host, 'run_command', watching)
    result = run_module(dict(WEB_ARGS, backend=backend))
    assert result['changed'] and not result['failed']
    assert len(holders) == len(host.calls) and set(holders) == {'lvs.cluster.fwmark'}
    assert read_lock_state(lock_path) is None


def test_lock_timeout_fails_before_running_anything(host, lock_path, lock_holder):
    with lock_holder('lvs-netstate reload') as pid:
        result = run_module(dict(WEB_ARGS, lock_timeout=0))
    assert result['failed'] and result['changed'] is False
    assert result['msg'].startswith('could not take the lvs.cluster host lock %s within 0 s: held by pid %d '
                                    '(lvs-netstate reload, for ' % (lock_path, pid))
    assert host.calls == []


def test_check_mode_does_not_take_the_lock(host, lock_holder):
    with lock_holder('lvs.cluster.ipvs_table'):
        result = run_module(dict(WEB_ARGS, lock_timeout=0), check=True)
    assert result['changed'] and not result['failed']
    assert host.changing_calls == []


@pytest.mark.parametrize('value', [-1, 86401])
def test_bad_lock_timeout_fails_before_running_anything(host, value):
    result = run_module(dict(WEB_ARGS, lock_timeout=value))
    assert result['failed'] and result['msg'].startswith('lock_timeout: %d must be between 0 and 86400' % value)
    assert host.calls == []
