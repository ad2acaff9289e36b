"""ipvsadm restore lines rendered from the model."""
from ansible_collections.lvs.cluster.plugins.module_utils._ipvs_model import parse_real, parse_service, Table
from ansible_collections.lvs.cluster.plugins.module_utils._ipvs_rules import ipvsadm_diff, render_rules


def _service(params, reals=()):
    service = parse_service(params)
    return service.with_reals(parse_real(real, service.key) for real in reals)


def test_dr_service_with_two_reals_renders_like_ipvsadm_save():
    table = Table(services=(_service({"address": "192.0.2.100", "port": 80, "scheduler": "rr"},
                                     [{"address": "192.0.2.22"}, {"address": "192.0.2.21", "weight": 3}]),))
    assert render_rules(table) == (
        "-A -t 192.0.2.100:80 -s rr\n"
        "-a -t 192.0.2.100:80 -r 192.0.2.21:80 -g -w 3\n"
        "-a -t 192.0.2.100:80 -r 192.0.2.22:80 -g -w 1\n"
    )


def test_persistence_netmask_flags_and_one_packet():
    table = Table(services=(
        _service({"protocol": "udp", "address": "2001:db8::53", "port": 53, "one_packet": True,
                  "scheduler": "sh", "scheduler_flags": ["sh-port", "sh-fallback"]}),
        _service({"address": "192.0.2.100", "port": 0, "persistent": 600,
                  "persistence_netmask": "255.255.255.0"}),
    ))
    assert render_rules(table).splitlines() == [
        "-A -t 192.0.2.100:0 -s wlc -p 600 -M 255.255.255.0",
        "-A -u [2001:db8::53]:53 -s sh -b sh-fallback,sh-port -o",
    ]


def test_fwmark_nat_thresholds_and_tunnels():
    fwm = _service({"fwmark": 7, "family": "ipv6", "persistent": True},
                   [{"address": "2001:db8::21", "forwarding": "nat", "port": 8080, "u_threshold": 100,
                     "l_threshold": 10}])
    tun = _service({"address": "198.51.100.1", "port": 443},
                   [{"address": "203.0.113.5", "forwarding": "tun", "tun_type": "gue", "tun_port": 6080,
                     "tun_flags": ["remcsum"]},
                    {"address": "203.0.113.6", "forwarding": "tun"}])
    assert render_rules(Table(services=(fwm, tun))).splitlines() == [
        "-A -t 198.51.100.1:443 -s wlc",
        "-a -t 198.51.100.1:443 -r 203.0.113.5:443 -i -w 1 --tun-type gue --tun-port 6080 --tun-remcsum",
        "-a -t 198.51.100.1:443 -r 203.0.113.6:443 -i -w 1",
        "-A -f 7 -6 -s wlc -p 300",
        "-a -f 7 -6 -r [2001:db8::21]:8080 -m -w 1 -x 100 -y 10",
    ]


def test_empty_table_renders_nothing():
    assert render_rules(Table()) == ""


# --diff: the changed objects only, in ipvsadm notation, bounded -------------------------------------------------

def _plan(current, desired, purge=False):
    from ansible_collections.lvs.cluster.plugins.module_utils._ipvs_plan import plan_table
    return plan_table(current, desired, purge)


def _web(port, weights):
    return _service({"address": "192.0.2.100", "port": port, "scheduler": "rr"},
                    [{"address": "192.0.2.%d" % (21 + index), "weight": weight} for index, weight in enumerate(weights)])


def test_diff_pairs_each_changed_object_before_and_after_in_table_order():
    current = Table(services=(_web(80, [1, 1]), _web(81, [1]), _web(82, [1])))
    desired = Table(services=(_web(80, [1, 3]), _web(81, [1, 1]).with_reals(()), _web(83, [2])))
    diff = ipvsadm_diff(current, _plan(current, desired, purge=True))
    assert diff["before"].splitlines() == [
        "-a -t 192.0.2.100:80 -r 192.0.2.22:80 -g -w 1",
        "-a -t 192.0.2.100:81 -r 192.0.2.21:81 -g -w 1",
        "-A -t 192.0.2.100:82 -s rr",
        "-a -t 192.0.2.100:82 -r 192.0.2.21:82 -g -w 1",
    ]
    assert diff["after"].splitlines() == [
        "-a -t 192.0.2.100:80 -r 192.0.2.22:80 -g -w 3",
        "-A -t 192.0.2.100:83 -s rr",
        "-a -t 192.0.2.100:83 -r 192.0.2.21:83 -g -w 2",
    ]


def test_diff_of_nothing_is_empty_and_timeouts_use_ipvsadm_set():
    from ansible_collections.lvs.cluster.plugins.module_utils._ipvs_model import Timeouts
    diff = ipvsadm_diff(Table(), [], (Timeouts(900, 120, 300), Timeouts(900, 120, 60)))
    assert (diff["before"], diff["after"]) == ("--set 900 120 300\n", "--set 900 120 60\n")
    assert ipvsadm_diff(Table(), [])["before"] == ""


def test_diff_is_bounded_whatever_the_change():
    desired = Table(services=tuple(_web(port, [1] * 10) for port in range(1000, 1100)))
    operations = _plan(Table(), desired)
    assert len(operations) == 1100
    diff = ipvsadm_diff(Table(), operations, limit=50)
    after = diff["after"].splitlines()
    assert len(after) == 51 and diff["before"].splitlines() == after[-1:]
    assert after[-1] == ("# ... and 1050 more changed objects, not shown (the task's operations list every "
                         "change)")
    assert after[0] == "-A -t 192.0.2.100:1000 -s rr"


# rules: the notation read back into the model ----------------------------------------------------------------

from hypothesis import given, settings  # noqa: E402
from ipvs_strategies import tables  # noqa: E402

from ansible_collections.lvs.cluster.plugins.module_utils._ipvs_rules import parse_rules  # noqa: E402


@settings(max_examples=150, deadline=None)
@given(tables())
def test_rendered_rules_read_back_into_the_same_table(table):
    assert parse_rules(render_rules(table)) == table
