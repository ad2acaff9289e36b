#!/usr/bin/env python3
"""Bulk IPVS benchmark, run INSIDE a lab director (a real IPVS kernel): lvs.cluster's table engine vs ipvsadm -R.

Usage (benchmarks/run does this for you):
    PYTHONPATH=<dir holding ansible_collections/> python3 ipvs_table_bench.py [--services 1000] [--reals 10]

Measures, on the same host in the same run:
  1. initial apply of SERVICES x REALS from an empty table with the engine ipvs_table uses (read, plan, apply in
     batches);
  2. the same table with `ipvsadm -R` from a restore file rendered from the same model;
  3. a no-op reconcile (read against the desired table, plan: nothing to do);
  4. `ipvsadm -Sn` of that table (the floor of a read);
  5. a change of 5 % of the reals (weights), reconciled;
and prints each time and the ratios. One run each: TCG timings vary by 10-20 % between runs.
"""
import argparse
import ipaddress
import resource
import subprocess
import sys
import time

from ansible_collections.lvs.cluster.plugins.module_utils._ipvs_kernel import IpvsKernel
from ansible_collections.lvs.cluster.plugins.module_utils._ipvs_model import Real, Service, ServiceKey, Table
from ansible_collections.lvs.cluster.plugins.module_utils._ipvs_plan import plan_table
from ansible_collections.lvs.cluster.plugins.module_utils._ipvs_rules import render_rules

# Benchmark-only addresses: IPVS services need not be local, and no packet is sent to them.
SERVICE_NET = ipaddress.ip_network("198.18.0.0/16")
REAL_NET = ipaddress.ip_network("198.19.0.0/16")


def build_table(service_count, real_count, weight=1):
    services = []
    for index in range(service_count):
        address = str(SERVICE_NET[1 + index // 200])
        port = 10000 + index % 200
        key = ServiceKey(family="ipv4", protocol="tcp", address=address, port=port)
        reals = tuple(Real(address=str(REAL_NET[1 + real]), port=port, family="ipv4", weight=weight)
                      for real in range(real_count))
        services.append(Service(key=key, scheduler="wlc", reals=reals))
    return Table(services=tuple(services))


def change_weights(table, fraction):
    """Raise the weight of every 1/fraction-th real (5 % of the reals for fraction 0.05)."""
    step = int(round(1 / fraction))
    counter = 0
    services = []
    for service in table.services:
        reals = []
        for real in service.reals:
            if counter % step == 0:
                real = Real(address=real.address, port=real.port, family=real.family, weight=real.weight + 1)
            reals.append(real)
            counter += 1
        services.append(service.with_reals(reals))
    return Table(services=tuple(services))


def reconcile(desired, batch_size):
    """What ipvs_table does: read, plan, apply. Returns (seconds, operations)."""
    started = time.perf_counter()
    with IpvsKernel(batch_size=batch_size) as kernel:
        operations = plan_table(kernel.read_table(expected=desired), desired, purge=True)
        kernel.apply(operations)
    return time.perf_counter() - started, len(operations)


def ipvsadm(*args, stdin=None):
    subprocess.run(["ipvsadm"] + list(args), input=stdin, text=True, check=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--services", type=int, default=1000)
    parser.add_argument("--reals", type=int, default=10)
    parser.add_argument("--batch-size", type=int, default=100)
    args = parser.parse_args()

    desired = build_table(args.services, args.reals)
    objects = args.services * (1 + args.reals)
    rules = render_rules(desired)
    print("table: %d services x %d reals = %d objects; batch size %d"
          % (args.services, args.reals, objects, args.batch_size))

    ipvsadm("-C")
    initial, initial_ops = reconcile(desired, args.batch_size)
    print("1. ipvs_table engine, initial apply from empty: %6.2f s (%d operations)" % (initial, initial_ops))

    ipvsadm("-C")
    started = time.perf_counter()
    ipvsadm("-R", stdin=rules)
    restore = time.perf_counter() - started
    print("2. ipvsadm -R of the same table:               %6.2f s" % restore)

    noop, noop_ops = reconcile(desired, args.batch_size)
    if noop_ops:
        sys.exit("the table ipvsadm restored differs from the model: %d operations planned" % noop_ops)
    print("3. no-op reconcile (read + plan):               %6.2f s (0 operations)" % noop)

    started = time.perf_counter()
    subprocess.run(["ipvsadm", "-Sn"], stdout=subprocess.DEVNULL, check=True)
    save = time.perf_counter() - started
    print("4. ipvsadm -Sn of the same table (a dump):      %6.2f s" % save)

    changed, changed_ops = reconcile(change_weights(desired, 0.05), args.batch_size)
    print("5. reconcile a 5 %% change of the reals:         %6.2f s (%d operations)" % (changed, changed_ops))

    # The goals of issue 13, each next to its measured ratio (one run: TCG timings vary by 10-20 %).
    for name, ratio, goal in (("initial apply / ipvsadm -R", initial / restore, 0.7),
                              ("no-op reconcile / ipvsadm -Sn", noop / save, 1.5),
                              ("no-op reconcile / ipvsadm -R", noop / restore, 0.3),
                              ("5 % change / ipvsadm -R", changed / restore, 0.3)):
        print("ratio %-30s %5.2f  (goal <= %.1f: %s)" % (name, ratio, goal, "met" if ratio <= goal else "NOT met"))
    print("peak RSS of this process (the engine, the model and the plan): %.0f MB"
          % (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0))
    print("restore_seconds=%.3f" % restore)  # for benchmarks/run's Ansible ratios
    ipvsadm("-C")


if __name__ == "__main__":
    main()
