# -*- coding: utf-8 -*-
# Copyright (c) 2026, lvs.cluster contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The schema of a virtual service is written in several places; this test fails when they disagree.

- the modules' argument specs (``_ipvs_module``: what ``ipvs_service``, ``ipvs_real`` and ``ipvs_table`` accept;
  their DOCUMENTATION is held to the argspecs by ansible-test's validate-modules);
- the director role's ``meta/argument_specs.yml`` (``lvs_virtual_services``, what users read in the role docs);
- the cluster parser's known keys (``_lvs_cluster``) and the health-check model (``_lvs_health.HealthCheck``).

Names, types, list elements, choices and defaults must agree wherever both sides state them.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import dataclasses
import os

import pytest
import yaml

from ansible_collections.lvs.cluster.plugins.module_utils import _ipvs_module as module_specs
from ansible_collections.lvs.cluster.plugins.module_utils import _lvs_cluster as cluster
from ansible_collections.lvs.cluster.plugins.module_utils import _lvs_health as health

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))
COMPARED = ("type", "elements", "choices")


def role_options(role, variable):
    with open(os.path.join(ROOT, "roles", role, "meta", "argument_specs.yml")) as handle:
        specs = yaml.safe_load(handle)["argument_specs"]
    return specs["main"]["options"][variable]


SERVICE = role_options("director", "lvs_virtual_services")["options"]
REAL = SERVICE["real_servers"]["options"]
HEALTH = SERVICE["health_check"]["options"]
MODULE_SERVICE = dict(module_specs.SERVICE_KEY_OPTIONS, **module_specs.SERVICE_ATTRIBUTE_OPTIONS)
MODULE_REAL = module_specs.TABLE_REAL_OPTIONS


def stated(spec):
    """What a spec says of one option, the way both kinds of spec spell it (type str is the default)."""
    said = {"type": spec.get("type", "str")}
    for key in ("elements", "choices"):
        if spec.get(key) is not None:
            said[key] = list(spec[key])
    return said


def test_the_role_documents_exactly_the_keys_the_parser_knows():
    assert set(SERVICE) == cluster._KNOWN_SERVICE_KEYS
    assert set(REAL) == cluster._KNOWN_REAL_KEYS


@pytest.mark.parametrize("name", cluster._SERVICE_OPTIONS)
def test_a_service_option_is_the_same_in_the_role_and_the_modules(name):
    # The description has no address/family: vip gives both.
    assert stated(SERVICE[name]) == stated(MODULE_SERVICE[name]), name
    if "default" in MODULE_SERVICE[name] and MODULE_SERVICE[name]["default"] not in (None, []):
        assert SERVICE[name].get("default") == MODULE_SERVICE[name]["default"], name


# A real server option with a service-wide default (forwarding, ...) takes its default from the service's key.
SERVICE_KEY_OF_REAL = dict((real_key, service_key) for service_key, real_key in cluster._REAL_DEFAULTS.items())


@pytest.mark.parametrize("name", cluster._REAL_OPTIONS)
def test_a_real_server_option_is_the_same_in_the_role_and_the_modules(name):
    assert stated(REAL[name]) == stated(MODULE_REAL[name]), name
    documented = SERVICE[SERVICE_KEY_OF_REAL[name]] if name in SERVICE_KEY_OF_REAL else REAL[name]
    if MODULE_REAL[name].get("default") not in (None, []):
        assert documented.get("default") == MODULE_REAL[name]["default"], name
    if name in SERVICE_KEY_OF_REAL:
        assert "default" not in REAL[name], "%s: the service's %s is its default" % (name, SERVICE_KEY_OF_REAL[name])


@pytest.mark.parametrize("service_key, real_key", sorted(cluster._REAL_DEFAULTS.items()))
def test_a_service_wide_default_for_real_servers_has_the_real_option_s_type(service_key, real_key):
    assert stated(SERVICE[service_key]) == stated(MODULE_REAL[real_key]), service_key


def test_health_check_options_match_the_model_names_defaults_and_choices():
    fields = dict((field.name, field) for field in dataclasses.fields(health.HealthCheck))
    assert set(HEALTH) == set(fields)
    python_types = {"str": str, "int": int, "bool": bool}
    for name, field in fields.items():
        documented = HEALTH[name]
        if field.default is None:
            assert "default" not in documented, name
        else:
            assert documented.get("default") == field.default, name
            assert isinstance(field.default, python_types[documented.get("type", "str")]), name
    assert HEALTH["type"]["choices"] == list(health.CHECK_TYPES)
    assert HEALTH["on_failure"]["choices"] == list(health.ON_FAILURE)
    assert HEALTH["dns_type"]["choices"] == list(health.DNS_TYPES)
    # A real server's override takes the same keys (documented as "any key of the service's health_check").
    assert REAL["health_check"]["type"] == "dict"


def test_the_engine_choices_match_the_model():
    engine = role_options("director", "director_engine")
    assert engine["choices"] == list(health.ENGINES)
    assert engine["default"] == "netlink"
