# -*- coding: utf-8 -*-
# Copyright (c) 2026, lvs.cluster contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The AWX job templates as code (awx/job_templates.yml) and their surveys (awx/surveys/*.json) against the
playbooks they launch: every playbook exists, every survey is a valid AWX survey spec, and every survey variable
is an option of the argument spec of a role entry point the playbook runs, with a matching type, choices and
default. A survey that asks for a variable the playbook does not validate, or offers a choice the role refuses,
fails here instead of in a job."""
import glob
import json
import os

import pytest
import yaml

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
AWX_DIR = os.path.join(REPO_ROOT, "awx")
SURVEY_TYPES = {"text", "textarea", "password", "integer", "float", "multiplechoice", "multiselect"}
STRING_TYPES = {"text", "textarea", "password"}


def load_yaml(path):
    with open(path) as handle:
        return yaml.safe_load(handle)


def job_templates():
    return load_yaml(os.path.join(AWX_DIR, "job_templates.yml"))["lvs_awx_job_templates"]


def entry_points(playbook):
    """(role, entry point) of every lvs.cluster role the playbook (and the playbooks it imports) runs."""
    found = []
    for play in load_yaml(playbook):
        if "ansible.builtin.import_playbook" in play:
            target = play["ansible.builtin.import_playbook"]
            found += entry_points(os.path.join(os.path.dirname(playbook), target))
            continue
        for role in play.get("roles") or []:
            found.append((role["role"].split(".")[-1], "main"))
        for task in play.get("tasks") or []:
            for action in ("ansible.builtin.include_role", "ansible.builtin.import_role"):
                if action in task:
                    name = task[action]["name"].split(".")[-1]
                    found.append((name, os.path.splitext(task[action].get("tasks_from", "main"))[0]))
    return found


def options_of(playbook):
    options = {}
    for role, entry_point in entry_points(playbook):
        specs = load_yaml(os.path.join(REPO_ROOT, "roles", role, "meta", "argument_specs.yml"))["argument_specs"]
        assert entry_point in specs, "%s runs %s/%s, which has no argument spec" % (playbook, role, entry_point)
        options.update(specs[entry_point].get("options") or {})
    return options


@pytest.mark.parametrize("template", job_templates(), ids=lambda template: template["name"])
def test_the_playbook_of_every_job_template_exists(template):
    assert os.path.isfile(os.path.join(REPO_ROOT, template["playbook"])), template


def test_every_survey_file_belongs_to_a_job_template():
    used = set(template["survey"] for template in job_templates() if "survey" in template)
    files = set(os.path.basename(path) for path in glob.glob(os.path.join(AWX_DIR, "surveys", "*.json")))
    assert files == used


def survey_cases():
    for template in job_templates():
        if "survey" not in template:
            continue
        with open(os.path.join(AWX_DIR, "surveys", template["survey"])) as handle:
            survey = json.load(handle)
        for question in survey["spec"]:
            yield pytest.param(template, survey, question, id="%s:%s" % (template["survey"], question["variable"]))


@pytest.mark.parametrize("template, survey, question", list(survey_cases()))
def test_every_survey_question_is_an_option_of_the_playbook(template, survey, question):
    assert survey["name"] and "description" in survey
    assert {"question_name", "variable", "type", "required"} <= set(question), question
    assert question["type"] in SURVEY_TYPES
    options = options_of(os.path.join(REPO_ROOT, template["playbook"]))
    variable = question["variable"]
    assert variable in options, "%s asks for %s, which %s does not validate (options: %s)" % (
        template["survey"], variable, template["playbook"], sorted(options))
    option = options[variable]
    kind = option.get("type", "str")
    if question["type"] in STRING_TYPES:
        assert kind == "str", (variable, kind)
    elif question["type"] == "integer":
        assert kind == "int", (variable, kind)
        assert question["min"] >= 0 and question["default"] >= question["min"]
    elif question["type"] == "float":
        assert kind == "float", (variable, kind)
    elif question["type"] == "multiselect":
        assert kind == "list" and set(question["choices"]) <= set(option.get("choices", question["choices"]))
    elif kind == "bool":  # multiplechoice: AWX sends the answer as a string, which the bool option accepts
        assert sorted(question["choices"]) == ["false", "true"], question["choices"]
    else:
        assert kind == "str" and sorted(question["choices"]) == sorted(option["choices"]), (question, option)
    if option.get("required"):
        assert question["required"] is True, "%s is required by the argument spec" % variable
    if "default" in option:
        expected = str(option["default"]).lower() if kind == "bool" else option["default"]
        assert question["default"] == expected, (question, option)
