# -*- coding: utf-8 -*-
# Copyright (c) 2026, lvs.cluster contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Unit tests of plugins/modules/config_files.py and module_utils/_config_files.py on a real directory tree."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os
import stat

import pytest
import yaml

from ansible.module_utils.testing import patch_module_args

from ansible_collections.lvs.cluster.plugins.modules import config_files
from test_ipvs_fakes import run_module


@pytest.fixture
def run(monkeypatch):
    def run_files(args, check=False, diff=False):
        return run_module(config_files, args, None, monkeypatch, check_mode=check, diff=diff)
    return run_files


def mode_of(path):
    return stat.S_IMODE(os.stat(str(path)).st_mode)


def test_documentation_matches_argspec():
    doc = yaml.safe_load(config_files.DOCUMENTATION)
    yaml.safe_load(config_files.EXAMPLES)
    yaml.safe_load(config_files.RETURN)
    with patch_module_args({}):
        spec = config_files.build_module().argument_spec
    assert set(doc['options']) == set(spec)
    for name, option in spec.items():
        assert doc['options'][name]['type'] == option['type'], name
        assert set(doc['options'][name]['suboptions']) == set(option['options']), name
        for sub, sub_spec in option['options'].items():
            assert doc['options'][name]['suboptions'][sub]['type'] == sub_spec['type'], (name, sub)


def test_check_mode_then_real_then_idempotent(run, tmp_path):
    directory = tmp_path / 'etc' / 'lvs-cluster'
    args = dict(directories=[dict(path=str(directory), mode='0755')],
                files=[dict(path=str(directory / 'a.json'), content='{"a": 1}\n', mode='0600'),
                       dict(path=str(directory / 'b.sh'), content='#!/bin/sh\n', mode='0755')])

    checked = run(args, check=True, diff=True)
    assert checked['changed'] and not directory.exists()
    assert checked['changed_paths'] == [str(directory), str(directory / 'a.json'), str(directory / 'b.sh')]
    assert [entry['changes'] for entry in checked['files']] == [['created'], ['created'], ['created']]
    assert checked['diff'][1] == {'before_header': str(directory / 'a.json'), 'after_header': str(directory / 'a.json'),
                                  'before': '', 'after': '{"a": 1}\n'}

    applied = run(args, diff=True)
    assert applied['changed'] and applied['changed_paths'] == checked['changed_paths']
    assert (directory / 'a.json').read_text() == '{"a": 1}\n'
    assert mode_of(directory / 'a.json') == 0o600 and mode_of(directory / 'b.sh') == 0o755
    assert mode_of(directory) == 0o755

    for check in (True, False):
        again = run(args, check=check, diff=True)
        assert not again['changed'] and again['changed_paths'] == [] and again['diff'] == []


def test_only_the_changed_file_is_written_and_reported(run, tmp_path):
    first, second = tmp_path / 'first', tmp_path / 'second'
    run(dict(files=[dict(path=str(first), content='one\n'), dict(path=str(second), content='two\n')]))
    inode = os.stat(str(first)).st_ino
    result = run(dict(files=[dict(path=str(first), content='one\n'), dict(path=str(second), content='2\n')]),
                 diff=True)
    assert result['changed_paths'] == [str(second)]
    assert result['files'][1]['changes'] == ['content']
    assert result['diff'] == [{'before_header': str(second), 'after_header': str(second),
                               'before': 'two\n', 'after': '2\n'}]
    assert os.stat(str(first)).st_ino == inode and second.read_text() == '2\n'


def test_a_mode_change_alone_is_a_change_and_check_mode_leaves_it(run, tmp_path):
    path = tmp_path / 'file'
    run(dict(files=[dict(path=str(path), content='x\n', mode='0644')]))
    checked = run(dict(files=[dict(path=str(path), content='x\n', mode='0600')]), check=True)
    assert checked['changed'] and checked['files'][0]['changes'] == ['attributes'] and mode_of(path) == 0o644
    applied = run(dict(files=[dict(path=str(path), content='x\n', mode='0600')]))
    assert applied['changed'] and mode_of(path) == 0o600


def test_a_failing_validate_changes_nothing(run, tmp_path):
    good, bad = tmp_path / 'good', tmp_path / 'bad'
    bad.write_text('old\n')
    result = run(dict(files=[dict(path=str(good), content='fine\n'),
                             dict(path=str(bad), content='broken\n',
                                  validate="/bin/sh -c 'grep -q fine \"$0\" || { echo not fine >&2; exit 3; }' %s")]))
    assert result['failed']
    assert str(bad) in result['msg'] and 'exit 3' in result['msg'] and 'not fine' in result['msg']
    assert not good.exists() and bad.read_text() == 'old\n'
    assert sorted(os.listdir(str(tmp_path))) == ['bad']  # no temporary file left behind


def test_a_passing_validate_sees_the_new_content(run, tmp_path):
    path = tmp_path / 'conf'
    result = run(dict(files=[dict(path=str(path), content='fine\n',
                                  validate="/bin/sh -c 'grep -q fine \"$0\"' %s")]))
    assert result['changed'] and path.read_text() == 'fine\n'


@pytest.mark.parametrize('args, message', [
    (dict(files=[dict(path='relative/file', content='')]), "files: path 'relative/file' is not an absolute path"),
    (dict(files=[dict(path='/tmp/x', content=''), dict(path='/tmp/x', content='')]), "files: path '/tmp/x' is given twice"),
    (dict(files=[dict(path='/tmp/x', content='', validate='true')]), "validate 'true' of '/tmp/x' has no %s"),
])
def test_bad_input_names_the_option_and_the_value(run, args, message):
    result = run(args)
    assert result['failed'] and message in result['msg']


def test_a_directory_in_place_of_a_file_fails(run, tmp_path):
    result = run(dict(files=[dict(path=str(tmp_path), content='x')]))
    assert result['failed'] and 'is a directory' in result['msg']


def test_a_missing_directory_fails_with_advice(run, tmp_path):
    result = run(dict(files=[dict(path=str(tmp_path / 'missing' / 'file'), content='x')]))
    assert result['failed'] and 'list it in directories' in result['msg']
