# -*- coding: utf-8 -*-
# Copyright (c) 2026, lvs.cluster contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""model -> module parameters -> model: the director's plan hands lvs.cluster.ipvs_table each service as
``_lvs_cluster.ipvs_table_services`` writes it; the module's argument spec (defaults, types) and its parser must
read back exactly the service the plan meant, for any table the model accepts (hypothesis)."""
from hypothesis import given, settings
from ipvs_strategies import tables

from ansible.module_utils.common.arg_spec import ArgumentSpecValidator

from ansible_collections.lvs.cluster.plugins.module_utils._ipvs_module import table_from_params, table_service_options
from ansible_collections.lvs.cluster.plugins.module_utils._lvs_cluster import _table_params

VALIDATOR = ArgumentSpecValidator({"services": dict(type="list", elements="dict", options=table_service_options())})


@settings(max_examples=150, deadline=None)
@given(tables(max_services=4))
def test_the_plan_s_parameters_read_back_into_the_same_table(table):
    entries = [_table_params(service) for service in table.services]
    result = VALIDATOR.validate({"services": entries})
    assert not result.error_messages, result.error_messages
    read_back, _timeouts = table_from_params(result.validated_parameters["services"])
    assert read_back == table
