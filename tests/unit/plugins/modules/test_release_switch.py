# -*- coding: utf-8 -*-
# Copyright (c) 2026, lvs.cluster contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Unit tests of plugins/modules/release_switch.py and module_utils/_release.py on a real directory tree."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json
import os
import threading

import pytest
import yaml

from ansible.module_utils.testing import patch_module_args

from ansible_collections.lvs.cluster.plugins.module_utils import _release as release
from ansible_collections.lvs.cluster.plugins.modules import release_switch
from test_ipvs_fakes import run_module


@pytest.fixture
def app(tmp_path):
    root = tmp_path / 'app'
    for name in ('v1', 'v2', 'v3'):
        (root / 'releases' / name).mkdir(parents=True)
    return root


@pytest.fixture
def run(monkeypatch):
    def run_switch(args, check=False, diff=False):
        return run_module(release_switch, args, None, monkeypatch, check_mode=check, diff=diff)
    return run_switch


def log_of(root):
    return [json.loads(line) for line in (root / 'deploy.log').read_text().splitlines()]


def test_documentation_matches_argspec():
    doc = yaml.safe_load(release_switch.DOCUMENTATION)
    yaml.safe_load(release_switch.EXAMPLES)
    yaml.safe_load(release_switch.RETURN)
    with patch_module_args(dict(app_root='/srv/app', release='v1')):
        spec = release_switch.build_module().argument_spec
    assert set(doc['options']) == set(spec)
    for name, option in spec.items():
        assert doc['options'][name]['type'] == option['type'], name
        assert doc['options'][name].get('default') == option.get('default'), name


def test_release_check_mode_then_real_then_idempotent(run, app):
    checked = run(dict(app_root=str(app), release='v1'), check=True, diff=True)
    assert checked['changed'] and checked['current'] == 'v1' and checked['switched_from'] is None
    assert checked['diff'] == {'before': {'current': None, 'releases': ['v1', 'v2', 'v3']},
                               'after': {'current': 'v1', 'releases': ['v1', 'v2', 'v3']}}
    assert not (app / 'current').exists() and not (app / 'deploy.log').exists()

    done = run(dict(app_root=str(app), release='v1'))
    assert done['changed'] and os.readlink(str(app / 'current')) == 'releases/v1'
    assert [(e['action'], e['release'], e['from']) for e in log_of(app)] == [('release', 'v1', None)]

    again = run(dict(app_root=str(app), release='v1'), check=True)
    assert not again['changed']
    again = run(dict(app_root=str(app), release='v1'))
    assert not again['changed'] and len(log_of(app)) == 1


def test_rollback_skips_a_release_that_was_rolled_back_away_from(run, app):
    for name in ('v1', 'v2', 'v3'):
        assert run(dict(app_root=str(app), release=name))['changed']
    # v3 is bad: back to v2 (what the release role does when v3's smoke test fails).
    back = run(dict(app_root=str(app), rollback=True))
    assert (back['current'], back['switched_from'], back['previous']) == ('v2', 'v3', 'v1')
    assert back['releases'] == ['v1', 'v2']
    # An operator's rollback now goes to v1, not to the bad v3.
    back = run(dict(app_root=str(app), rollback=True))
    assert (back['current'], back['switched_from']) == ('v1', 'v2')
    assert os.readlink(str(app / 'current')) == 'releases/v1'
    failed = run(dict(app_root=str(app), rollback=True))
    assert failed['failed'] and 'has no release before v1' in failed['msg']
    assert os.readlink(str(app / 'current')) == 'releases/v1'
    # Releasing v3 again puts it back in the order.
    assert run(dict(app_root=str(app), release='v3'))['previous'] == 'v1'


def test_named_rollback(run, app):
    for name in ('v1', 'v2', 'v3'):
        run(dict(app_root=str(app), release=name))
    back = run(dict(app_root=str(app), rollback=True, release='v1'))
    last = log_of(app)[-1]
    assert back['current'] == 'v1' and (last['action'], last['release'], last['from']) == ('rollback', 'v1', 'v3')


@pytest.mark.parametrize('args, message', [
    (dict(release='../etc'), "release: '../etc' is not a release id"),
    (dict(release='v9'), "has no release 'v9'"),
    (dict(rollback=True), 'has no release before None'),
    (dict(), 'rollback is False but all of the following are missing: release'),
])
def test_bad_input_fails_and_changes_nothing(run, app, args, message):
    result = run(dict(args, app_root=str(app)))
    assert result['failed'] and message in result['msg']
    assert not (app / 'current').exists() and not (app / 'deploy.log').exists()


def test_current_that_is_a_directory_is_refused(run, app):
    (app / 'current').mkdir()
    result = run(dict(app_root=str(app), release='v1'))
    assert result['failed'] and 'is not a symlink' in result['msg']


def test_prune_keeps_current_previous_and_unknown_directories(run, app):
    (app / 'releases' / 'v4').mkdir()
    (app / 'releases' / 'upload-in-progress').mkdir()
    pruned = [run(dict(app_root=str(app), release=name, keep=2))['pruned'] for name in ('v1', 'v2', 'v3', 'v4')]
    assert pruned == [[], [], ['v1'], ['v2']]
    assert sorted(os.listdir(str(app / 'releases'))) == ['upload-in-progress', 'v3', 'v4']
    assert release.prune(['a', 'b', 'c'], ['a', 'b', 'c'], 1, 'a', 'c') == ['b']
    assert release.prune(['a', 'b'], ['a', 'b'], 0, 'b', 'a') == []


def test_the_swap_never_leaves_the_link_missing(tmp_path):
    link = str(tmp_path / 'current')
    for name in ('a', 'b'):
        (tmp_path / name).mkdir()
    release.switch_symlink(link, 'a')
    missing = []
    stop = threading.Event()

    def reader():
        while not stop.is_set():
            try:
                os.readlink(link)
            except OSError as exc:
                missing.append(exc)

    thread = threading.Thread(target=reader)
    thread.start()
    try:
        for swap in range(1000):
            release.switch_symlink(link, 'ab'[swap % 2])
    finally:
        stop.set()
        thread.join()
    assert missing == []
    assert os.readlink(link) == 'b'
