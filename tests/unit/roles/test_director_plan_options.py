# -*- coding: utf-8 -*-
# Copyright (c) 2026, lvs.cluster contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The director role hands the plan (lvs.cluster.director_plan) the same options from both entry points: main (its
own variables, __director_options in vars/main.yml) and reload_engine (another director's hostvars). A plan option
added to one and not the other, or unknown to the plan, fails here."""
import os
import re

import yaml

from ansible_collections.lvs.cluster.plugins.module_utils._lvs_cluster import DIRECTOR_PLAN_DEFAULTS

ROLE = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))),
                    "roles", "director")
# Options the filter resolves before the plan: director_ha and its group become the plan's vrrp.
FILTER_OPTIONS = {"ha", "ha_group"}


def _main_options():
    with open(os.path.join(ROLE, "vars", "main.yml")) as handle:
        return set(yaml.safe_load(handle)["__director_options"])


def _reload_options():
    with open(os.path.join(ROLE, "tasks", "reload_engine.yml")) as handle:
        tasks = yaml.safe_load(handle)
    (plan,) = [task for task in tasks if "director_plan" in str(task.get("ansible.builtin.set_fact", ""))]
    text = plan["ansible.builtin.set_fact"]["__director"]
    # The options dict literal, one option per line: its keys are the quoted names indented as the first one.
    indent = re.search(r"^( +)'vip_interface':", text, re.M).group(1)
    return set(re.findall(r"^%s'([a-z_]+)':" % indent, text, re.M))


def test_both_entry_points_pass_the_same_options():
    assert _main_options() == _reload_options()


def test_the_plan_knows_every_option_the_role_passes():
    plan_options = set(DIRECTOR_PLAN_DEFAULTS) - {"vrrp"}
    assert _main_options() - FILTER_OPTIONS == plan_options
