# -*- coding: utf-8 -*-
# Copyright (c) 2026, lvs.cluster contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Run one playbook of the collection the way AWX / Automation Controller runs a job template, with ansible-runner
and AWX's private data dir layout, and print a JSON summary of the job for the caller to assert on.

    awx_job.py playbooks/NAME.yml --inventory SOURCE [--inventory SOURCE...] [--survey JSON] [--job-type check]
               [--diff]

The private data dir holds what AWX writes for a job: ``project/`` (the project's checkout: this repository),
``inventory/`` (the inventory sources, copied), ``env/extravars`` (the survey answers plus the ``awx_*`` and
``tower_*`` job variables AWX adds), ``env/settings`` and ``env/envvars``. The playbook path is relative to the
project, as in a job template, and the job runs with the project as its working directory; a job template of
type check and one that shows changes add ``--check`` and ``--diff``, as AWX does.

The summary: ``rc``, ``status``, ``stats`` (per host: ok, changed, failures, unreachable, from the
``playbook_on_stats`` event), ``artifact_data`` (what the job handed to ``set_stats``), ``failed_tasks``
(host, task, message) and ``debug`` (host, task, msg of every debug task).
"""
import argparse
import json
import os
import shutil
import sys
import tempfile

import ansible_runner

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
STATS_KEYS = ("ok", "changed", "failures", "dark", "skipped")


def awx_job_variables(job_id, template_name, inventory_name):
    """The variables AWX adds to every job's extra vars (both spellings, as AWX does)."""
    variables = {}
    for prefix in ("awx", "tower"):
        variables.update({
            prefix + "_job_id": job_id,
            prefix + "_job_launch_type": "manual",
            prefix + "_job_template_id": 7,
            prefix + "_job_template_name": template_name,
            prefix + "_user_id": 1,
            prefix + "_user_name": "admin",
            prefix + "_inventory_id": 2,
            prefix + "_inventory_name": inventory_name,
            prefix + "_project_revision": "0" * 40,
            prefix + "_project_scm_branch": "main",
        })
    return variables


def private_data_dir(base, inventories, extravars, envvars):
    os.symlink(REPO_ROOT, os.path.join(base, "project"))
    inventory_dir = os.path.join(base, "inventory")
    os.mkdir(inventory_dir)
    # AWX imports an inventory source's hosts, groups and their group_vars/host_vars into one inventory; here the
    # sources' files go side by side in inventory/ and their group_vars/host_vars into inventory/group_vars etc.
    for index, source in enumerate(inventories):
        files = ([os.path.join(source, name) for name in sorted(os.listdir(source))] if os.path.isdir(source)
                 else [source])
        for path in files:
            name = os.path.basename(path)
            if os.path.isdir(path) and name in ("group_vars", "host_vars"):
                shutil.copytree(path, os.path.join(inventory_dir, name), dirs_exist_ok=True)
            elif os.path.isfile(path):
                shutil.copy(path, os.path.join(inventory_dir, "%02d-%s" % (index, name)))
    env = os.path.join(base, "env")
    os.mkdir(env)
    with open(os.path.join(env, "extravars"), "w") as handle:
        json.dump(extravars, handle)
    with open(os.path.join(env, "settings"), "w") as handle:
        json.dump({"suppress_ansible_output": True, "job_timeout": 0, "pexpect_timeout": 5}, handle)
    with open(os.path.join(env, "envvars"), "w") as handle:
        json.dump(envvars, handle)


def summarize(runner):
    summary = {"rc": runner.rc, "status": runner.status, "stats": {}, "artifact_data": {}, "failed_tasks": [],
               "debug": []}
    for event in runner.events:
        data = event.get("event_data") or {}
        if event.get("event") == "playbook_on_stats":
            for key in STATS_KEYS:
                for host, count in (data.get(key) or {}).items():
                    summary["stats"].setdefault(host, dict((name, 0) for name in STATS_KEYS))[key] = count
            summary["artifact_data"] = data.get("artifact_data") or {}
        elif event.get("event") == "runner_on_failed" and not data.get("ignore_errors"):
            summary["failed_tasks"].append({"host": data.get("host"), "task": data.get("task"),
                                            "msg": (data.get("res") or {}).get("msg")})
        elif event.get("event") == "runner_on_ok" and data.get("task_action") in ("debug", "ansible.builtin.debug"):
            summary["debug"].append({"host": data.get("host"), "task": data.get("task"),
                                     "msg": (data.get("res") or {}).get("msg")})
    return summary


def main(argv):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("playbook", help="the job template's playbook, relative to the project (playbooks/NAME.yml)")
    parser.add_argument("--inventory", action="append", required=True, help="an inventory source (repeatable)")
    parser.add_argument("--survey", default="{}", help="the survey answers, as JSON")
    parser.add_argument("--template-name", default="lvs.cluster job")
    parser.add_argument("--job-id", type=int, default=42)
    parser.add_argument("--job-type", choices=("run", "check"), default="run",
                        help="the job template's job type: check runs the playbook with --check, as AWX does")
    parser.add_argument("--diff", action="store_true", help="the job template's 'show changes' (--diff)")
    parser.add_argument("--keep", help="keep the private data dir here (default: a temporary one, removed)")
    args = parser.parse_args(argv)

    extravars = json.loads(args.survey)
    extravars.update(awx_job_variables(args.job_id, args.template_name, "lvs lab"))
    envvars = {"ANSIBLE_COLLECTIONS_PATH": os.environ.get("ANSIBLE_COLLECTIONS_PATH",
                                                          os.path.join(REPO_ROOT, ".build", "collections")),
               "ANSIBLE_HOST_KEY_CHECKING": "False", "ANSIBLE_FORCE_COLOR": "False"}
    base = args.keep or tempfile.mkdtemp(prefix="awx-job-")
    if args.keep:
        shutil.rmtree(base, ignore_errors=True)
        os.makedirs(base)
    try:
        private_data_dir(base, args.inventory, extravars, envvars)
        cmdline = " ".join((["--check"] if args.job_type == "check" else []) + (["--diff"] if args.diff else []))
        runner = ansible_runner.run(private_data_dir=base, playbook=args.playbook, quiet=True, ident=str(args.job_id),
                                    cmdline=cmdline or None)
        print(json.dumps(summarize(runner), sort_keys=True))
    finally:
        if not args.keep:
            shutil.rmtree(base, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
