# -*- coding: utf-8 -*-
# Copyright (c) 2026, lvs.cluster contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Bad survey answers, launched the way AWX launches a job (tests/awx/awx_job.py: ansible-runner, AWX's private
data dir), fail at the argument specs with the variable and the value, before any task reaches a host's state.
Runs on this machine (no IPVS needed): the job fails before the first task that would need it."""
import json
import os
import subprocess
import sys

import pytest

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
INVENTORY = """all:
  children:
    directors:
      hosts:
        localhost:
          ansible_connection: local
          ansible_python_interpreter: %s
    realservers:
      hosts:
        rs1:  # named by the description, never contacted: the jobs only run on the directors
          lvs_real_address: 192.0.2.21
  vars:
    lvs_virtual_services:
      - {name: web, vip: 192.0.2.100, port: 80, real_server_group: realservers}
""" % sys.executable


@pytest.mark.parametrize("playbook, survey, words", [
    ("playbooks/drain.yml", {"operations_real_server": "rs1", "operations_drain_on_timeout": "maybe"},
     ["operations_drain_on_timeout must be one of: fail, continue, got: maybe"]),
    ("playbooks/drain.yml", {"operations_real_server": "rs1", "operations_drain_timeout": "soon"},
     ["operations_drain_timeout", "soon"]),
    ("playbooks/undrain.yml", {}, ["missing required arguments: operations_real_server"]),
    ("playbooks/drain.yml", {"operations_real_server": "rs9"}, ["director_drain: rs9 is no real server"]),
])
def test_a_bad_survey_answer_fails_the_job_before_any_change(tmp_path, playbook, survey, words):
    inventory = tmp_path / "hosts.yml"
    inventory.write_text(INVENTORY)
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=os.path.join(REPO_ROOT, ".build", "collections"))
    out = subprocess.run([sys.executable, os.path.join(REPO_ROOT, "tests", "awx", "awx_job.py"), playbook,
                          "--inventory", str(inventory), "--survey", json.dumps(survey)],
                         capture_output=True, text=True, env=env, check=True)
    job = json.loads(out.stdout)
    assert job["rc"] != 0 and job["status"] == "failed"
    assert job["stats"]["localhost"]["changed"] == 0
    messages = " ".join(task["msg"] or "" for task in job["failed_tasks"])
    assert all(word in messages for word in words), job["failed_tasks"]
