# -*- coding: utf-8 -*-
# Copyright (c) 2026, lvs.cluster contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import random

import pytest

from ansible_collections.lvs.cluster.plugins.module_utils._ipvs_model import (
    Real,
    Service,
    ServiceKey,
    Table,
    Timeouts,
)
from ansible_collections.lvs.cluster.plugins.module_utils._ipvs_plan import (
    ACTIONS,
    Operation,
    PlanError,
    apply_operations,
    count_operations,
    describe_timeouts,
    merge_timeouts,
    plan_real,
    plan_service,
    plan_table,
    plan_timeouts,
)


def tcp(address="192.0.2.10", port=80, protocol="tcp"):
    return ServiceKey(family="ipv6" if ":" in address else "ipv4", protocol=protocol, address=address, port=port)


def fwm(mark, family="ipv4"):
    return ServiceKey(family=family, fwmark=mark)


def svc(key=None, reals=(), **attrs):
    return Service(key=key or tcp(), reals=tuple(reals), **attrs)


def real(address="192.0.2.21", port=80, **attrs):
    return Real(address=address, port=port, family="ipv6" if ":" in address else "ipv4", **attrs)


def words(operations):
    return [str(op) for op in operations]


def actions(operations):
    return [op.action for op in operations]


# ---------------------------------------------------------------------------------------------------------------
# Operation
# ---------------------------------------------------------------------------------------------------------------


class TestOperation:
    def test_str_reads_like_ipvsadm(self):
        service = svc(reals=[real()])
        assert str(Operation("add_real", service, real())) == \
            "add real 192.0.2.21:80 to TCP 192.0.2.10:80 (dr, weight 1)"
        assert str(Operation("add_service", svc(scheduler="sh", scheduler_flags=("sh-port",)))) == \
            "add service TCP 192.0.2.10:80 (sh, flags sh-port)"
        assert str(Operation("add_service", svc(key=tcp(port=0), persistent=300, persistence_prefix=24))) == \
            "add service TCP 192.0.2.10:0 (wlc, persistent 300, netmask 255.255.255.0)"
        assert str(Operation("delete_service", svc(fwm(7)))) == "delete service FWM 7 IPv4"
        assert str(Operation("delete_real", svc(tcp("2001:db8::1", 443)), real("2001:db8::21", 443))) == \
            "delete real [2001:db8::21]:443 from TCP [2001:db8::1]:443"
        tunnel = real("198.51.100.7", 0, forwarding="tun", tun_type="gue", tun_port=6080, tun_flags=("csum",))
        assert str(Operation("add_real", svc(fwm(10)), tunnel)) == \
            "add real 198.51.100.7:0 to FWM 10 IPv4 (tun, weight 1, tun-type gue, tun-port 6080, tun-flags csum)"

    def test_edit_words_name_what_changes(self):
        edit = plan_service(svc(), svc(scheduler="rr", persistent=60), manage_reals=False)
        assert words(edit) == ["edit service TCP 192.0.2.10:80 (scheduler wlc -> rr, persistent none -> 60)"]
        edit = plan_real(svc(), real(weight=5, u_threshold=100), real(weight=0))
        assert words(edit) == ["edit real 192.0.2.21:80 of TCP 192.0.2.10:80 (weight 5 -> 0, u-threshold 100 -> "
                               "none)"]

    def test_service_operations_never_carry_reals(self):
        operation = Operation("add_service", svc(reals=[real()]))
        assert operation.service.reals == ()
        assert operation == Operation("add_service", svc())

    def test_previous_takes_no_part_in_equality(self):
        assert Operation("edit_real", svc(), real(weight=2), previous=real()) == \
            Operation("edit_real", svc(), real(weight=2))

    @pytest.mark.parametrize("action, with_real", [("bogus", False), ("add_real", False), ("add_service", True)])
    def test_malformed_operations_are_refused(self, action, with_real):
        with pytest.raises(ValueError):
            Operation(action, svc(), real() if with_real else None)


# ---------------------------------------------------------------------------------------------------------------
# plan_real / plan_service
# ---------------------------------------------------------------------------------------------------------------


class TestPlanReal:
    def test_nothing_to_do(self):
        assert plan_real(svc(), None, None) == []
        assert plan_real(svc(), real(weight=3), real(weight=3)) == []

    def test_counters_are_not_changes(self):
        assert plan_real(svc(), real(active_conns=10), real()) == []

    def test_add_edit_delete(self):
        assert actions(plan_real(svc(), None, real())) == ["add_real"]
        assert actions(plan_real(svc(), real(), None)) == ["delete_real"]
        (edit,) = plan_real(svc(), real(), real(forwarding="nat"))
        assert edit.action == "edit_real" and edit.real.forwarding == "nat"

    @pytest.mark.parametrize("change", [
        dict(forwarding="nat"), dict(weight=0), dict(u_threshold=10), dict(l_threshold=1),
        dict(forwarding="tun", tun_type="ipip", tun_port=0),
    ])
    def test_every_attribute_is_an_edit_in_place(self, change):
        assert actions(plan_real(svc(), real(), real(**change))) == ["edit_real"]

    def test_tunnel_changes_are_edits(self):
        before = real(forwarding="tun", tun_type="ipip", tun_port=0)
        after = real(forwarding="tun", tun_type="gue", tun_port=6080, tun_flags=("remcsum",))
        assert actions(plan_real(svc(), before, after)) == ["edit_real"]

    def test_different_reals_are_refused(self):
        with pytest.raises(ValueError):
            plan_real(svc(), real(port=80), real(port=81))


class TestPlanService:
    def test_create_with_reals(self):
        desired = svc(reals=[real("192.0.2.22"), real("192.0.2.21")])
        ops = plan_service(None, desired, manage_reals=True)
        assert actions(ops) == ["add_service", "add_real", "add_real"]
        assert [op.real.address for op in ops[1:]] == ["192.0.2.21", "192.0.2.22"]

    def test_create_without_managing_reals_ignores_them(self):
        assert actions(plan_service(None, svc(reals=[real()]), manage_reals=False)) == ["add_service"]

    def test_delete_does_not_delete_reals_one_by_one(self):
        assert actions(plan_service(svc(reals=[real(), real("192.0.2.22")]), None, manage_reals=True)) == \
            ["delete_service"]

    def test_nothing(self):
        assert plan_service(None, None, manage_reals=True) == []
        current = svc(reals=[real()], scheduler="rr")
        assert plan_service(current, svc(reals=[real()], scheduler="rr"), manage_reals=True) == []

    @pytest.mark.parametrize("change", [
        dict(scheduler="rr"), dict(persistent=300), dict(one_packet=True), dict(pe_name="sip", persistent=5),
        dict(scheduler="sh", scheduler_flags=("sh-port",)),
    ])
    def test_attribute_changes_are_edits_in_place(self, change):
        ops = plan_service(svc(reals=[real()]), svc(reals=[real()], **change), manage_reals=True)
        assert actions(ops) == ["edit_service"]

    def test_netmask_change_is_an_edit(self):
        before = svc(persistent=300)
        after = svc(persistent=300, persistence_prefix=24)
        assert actions(plan_service(before, after, manage_reals=False)) == ["edit_service"]

    def test_without_managing_reals_extra_and_missing_reals_stay(self):
        current = svc(reals=[real("192.0.2.21"), real("192.0.2.22")])
        desired = svc(reals=[real("192.0.2.23")], scheduler="rr")
        assert actions(plan_service(current, desired, manage_reals=False)) == ["edit_service"]

    def test_managing_reals_makes_them_exactly_the_listed_ones(self):
        current = svc(reals=[real("192.0.2.21"), real("192.0.2.22", weight=2), real("192.0.2.23")])
        desired = svc(reals=[real("192.0.2.22", weight=5), real("192.0.2.24"), real("192.0.2.21")])
        ops = plan_service(current, desired, manage_reals=True)
        assert words(ops) == [
            "add real 192.0.2.24:80 to TCP 192.0.2.10:80 (dr, weight 1)",
            "edit real 192.0.2.22:80 of TCP 192.0.2.10:80 (weight 2 -> 5)",
            "delete real 192.0.2.23:80 from TCP 192.0.2.10:80",
        ]

    def test_real_port_change_is_delete_and_add(self):
        current = svc(reals=[real("10.0.0.1", 8080, forwarding="nat")])
        desired = svc(reals=[real("10.0.0.1", 8081, forwarding="nat")])
        assert actions(plan_service(current, desired, manage_reals=True)) == ["add_real", "delete_real"]

    def test_different_services_are_refused(self):
        with pytest.raises(ValueError):
            plan_service(svc(tcp(port=80)), svc(tcp(port=81)), manage_reals=True)


# ---------------------------------------------------------------------------------------------------------------
# plan_table
# ---------------------------------------------------------------------------------------------------------------


def big_current():
    return Table(services=(
        svc(tcp(port=80), reals=[real("192.0.2.21"), real("192.0.2.22")]),
        svc(tcp(port=443), persistent=300, reals=[real("192.0.2.21", 443)]),
        svc(tcp("192.0.2.11", 53, "udp"), reals=[real("192.0.2.31", 53)]),
        svc(fwm(5), reals=[real("192.0.2.41", 0)]),
    ))


class TestPlanTable:
    def test_identical_tables_need_nothing(self):
        assert plan_table(big_current(), big_current(), purge=True) == []
        assert plan_table(big_current(), big_current(), purge=False) == []

    def test_empty_to_table_and_back(self):
        ops = plan_table(Table(), big_current(), purge=False)
        assert count_operations(ops) == dict(add_service=4, edit_service=0, add_real=5, edit_real=0, delete_real=0,
                                             delete_service=0)
        assert apply_operations(Table(), ops) == big_current()
        back = plan_table(big_current(), Table(), purge=True)
        assert actions(back) == ["delete_service"] * 4
        assert apply_operations(big_current(), back) == Table()

    def test_purge_false_leaves_unmentioned_services(self):
        desired = Table(services=(svc(tcp(port=80), reals=[real("192.0.2.21")]),))
        ops = plan_table(big_current(), desired, purge=False)
        assert words(ops) == ["delete real 192.0.2.22:80 from TCP 192.0.2.10:80"]

    def test_purge_true_deletes_unmentioned_services(self):
        desired = Table(services=(svc(tcp(port=80), reals=[real("192.0.2.21"), real("192.0.2.22")]),))
        ops = plan_table(big_current(), desired, purge=True)
        assert words(ops) == ["delete service TCP 192.0.2.10:443", "delete service UDP 192.0.2.11:53",
                              "delete service FWM 5 IPv4"]

    def test_without_purge_only_the_listed_unmentioned_services_are_deleted(self):
        desired = Table(services=(svc(tcp(port=80), reals=[real("192.0.2.21"), real("192.0.2.22")]),))
        remove = [tcp(port=443), tcp(address="192.0.2.99", port=80)]  # the second is not in the table
        ops = plan_table(big_current(), desired, purge=False, remove=remove)
        assert words(ops) == ["delete service TCP 192.0.2.10:443"]

    def test_a_described_service_without_reals_loses_its_reals(self):
        desired = Table(services=(svc(tcp(port=80)),))
        assert actions(plan_table(big_current(), desired, purge=False)) == ["delete_real", "delete_real"]

    def test_safe_order_new_capacity_first(self):
        desired = Table(services=(
            svc(tcp(port=80), scheduler="rr", reals=[real("192.0.2.21", weight=3), real("192.0.2.23")]),
            svc(tcp(port=8080), reals=[real("192.0.2.21", 8080)]),
            svc(fwm(5), reals=[real("192.0.2.41", 0), real("192.0.2.42", 0)]),
        ))
        ops = plan_table(big_current(), desired, purge=True)
        assert words(ops) == [
            "add service TCP 192.0.2.10:8080 (wlc)",
            "edit service TCP 192.0.2.10:80 (scheduler wlc -> rr)",
            "add real 192.0.2.23:80 to TCP 192.0.2.10:80 (dr, weight 1)",
            "add real 192.0.2.21:8080 to TCP 192.0.2.10:8080 (dr, weight 1)",
            "add real 192.0.2.42:0 to FWM 5 IPv4 (dr, weight 1)",
            "edit real 192.0.2.21:80 of TCP 192.0.2.10:80 (weight 1 -> 3)",
            "delete real 192.0.2.22:80 from TCP 192.0.2.10:80",
            "delete service TCP 192.0.2.10:443",
            "delete service UDP 192.0.2.11:53",
        ]
        groups = [ACTIONS.index(op.action) for op in ops]
        assert groups == sorted(groups)
        assert apply_operations(big_current(), ops) == desired

    def test_order_is_deterministic_whatever_the_input_order(self):
        services = list(big_current().services)
        expected = words(plan_table(Table(), Table(services=tuple(services)), purge=False))
        for seed in range(10):
            rng = random.Random(seed)
            rng.shuffle(services)
            shuffled = [s.with_reals(rng.sample(list(s.reals), len(s.reals))) for s in services]
            assert words(plan_table(Table(), Table(services=tuple(shuffled)), purge=False)) == expected

    def test_addresses_sort_numerically(self):
        desired = Table(services=(svc(tcp("192.0.2.10", 80)), svc(tcp("192.0.2.9", 80)),
                                  svc(tcp("192.0.2.100", 80))))
        assert [op.service.key.address for op in plan_table(Table(), desired, purge=False)] == \
            ["192.0.2.9", "192.0.2.10", "192.0.2.100"]

    def test_family_of_a_fwmark_service_makes_another_service(self):
        current = Table(services=(svc(fwm(5)),))
        desired = Table(services=(svc(fwm(5, "ipv6")),))
        assert words(plan_table(current, desired, purge=True)) == ["add service FWM 5 IPv6 (wlc)",
                                                                   "delete service FWM 5 IPv4"]

    def test_forwarding_change_is_an_edit_not_a_replacement(self):
        current = Table(services=(svc(reals=[real("192.0.2.21")]),))
        desired = Table(services=(svc(reals=[real("192.0.2.21", forwarding="nat")]),))
        assert actions(plan_table(current, desired, purge=True)) == ["edit_real"]

    def test_minimal_on_large_tables(self):
        services = [svc(tcp("10.0.%d.%d" % (i // 250, i % 250 + 1), 80),
                        reals=[real("10.1.0.%d" % (j + 1)) for j in range(5)]) for i in range(300)]
        current = Table(services=tuple(services))
        changed = list(services)
        changed[17] = changed[17].with_reals(changed[17].reals[:4])
        changed[200] = Service(key=changed[200].key, scheduler="rr", reals=changed[200].reals)
        ops = plan_table(current, Table(services=tuple(changed)), purge=False)
        assert actions(ops) == ["edit_service", "delete_real"]


class TestApplyOperations:
    def test_refuses_what_the_kernel_refuses(self):
        table = Table(services=(svc(reals=[real()]),))
        with pytest.raises(PlanError):
            apply_operations(table, [Operation("add_service", svc())])
        with pytest.raises(PlanError):
            apply_operations(table, [Operation("add_real", svc(), real())])
        with pytest.raises(PlanError):
            apply_operations(table, [Operation("edit_real", svc(), real("192.0.2.99"))])
        with pytest.raises(PlanError):
            apply_operations(table, [Operation("delete_service", svc(tcp(port=81)))])
        with pytest.raises(PlanError):
            apply_operations(Table(), [Operation("add_real", svc(), real())])

    def test_edit_service_keeps_reals(self):
        table = Table(services=(svc(reals=[real()]),))
        after = apply_operations(table, [Operation("edit_service", svc(scheduler="rr"))])
        assert after.services[0].scheduler == "rr"
        assert after.services[0].reals == (real(),)

    def test_timeouts_ride_along(self):
        table = Table(timeouts=Timeouts(1, 2, 3))
        assert apply_operations(table, [Operation("add_service", svc())]).timeouts == Timeouts(1, 2, 3)


class TestTimeouts:
    def test_nothing_wanted(self):
        assert plan_timeouts(Timeouts(900, 120, 300), None) is None
        assert plan_timeouts(Timeouts(900, 120, 300), Timeouts()) is None

    def test_only_given_values_count(self):
        assert plan_timeouts(Timeouts(900, 120, 300), Timeouts(tcp=900)) is None
        change = plan_timeouts(Timeouts(900, 120, 300), Timeouts(udp=60))
        assert change == Timeouts(udp=60)
        assert merge_timeouts(Timeouts(900, 120, 300), change) == Timeouts(900, 120, 60)
        assert describe_timeouts(change) == "set timeouts udp 60"

    def test_all(self):
        change = plan_timeouts(Timeouts(900, 120, 300), Timeouts(1, 2, 3))
        assert change == Timeouts(1, 2, 3)
        assert describe_timeouts(change) == "set timeouts tcp 1, tcp_fin 2, udp 3"


def test_thousands_of_reals_of_one_service_apply_and_edit_in_plan_order():
    key = ServiceKey(family="ipv4", protocol="tcp", address="192.0.2.1", port=80)
    reals = tuple(Real(address="10.0.%d.%d" % (index // 256, index % 256), port=80, family="ipv4")
                  for index in range(4000))
    desired = Table(services=(Service(key=key, reals=reals),))
    operations = plan_table(Table(), desired, purge=True)
    assert len(operations) == 4001 and apply_operations(Table(), operations) == desired
    reweighted = Table(services=(Service(key=key, reals=tuple(Real(address=real.address, port=80, family="ipv4",
                                                                   weight=2) for real in reals[::2])),))
    change = plan_table(desired, reweighted, purge=True)
    assert count_operations(change)["edit_real"] == 2000 and count_operations(change)["delete_real"] == 2000
    assert apply_operations(desired, change) == reweighted
