#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) 2026, lvs.cluster contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: release_switch
short_description: Point an application's C(current) symlink at a release, atomically, and log it
version_added: 0.2.0
author: lvs.cluster maintainers (@lvs-cluster)
description:
  - An application root holds releases in C(APP_ROOT/releases/ID) and serves the one C(APP_ROOT/current) points
    at. This module switches C(current) to a release (O(release)), or back to the previous one (O(rollback)).
  - The switch is atomic. A new symlink is made under a temporary name in the same directory and renamed over
    C(current) (C(rename(2))), so a reader sees the old release or the new one, never no C(current) (C(ln -sfn)
    unlinks first). The link is relative (C(releases/ID)).
  - Every switch appends one JSON line (C(time), C(action), C(release), C(from)) to C(APP_ROOT/deploy.log), which
    is never rewritten. The log says which release came before which, so a rollback never guesses from file
    times. A release that was rolled back away from counts as bad and is never the target of a later rollback
    (until it is released again).
  - After a release (not after a rollback), releases beyond the last O(keep) of the deploy log are deleted, oldest
    first; the current and the previous release are never deleted, nor directories the log does not know.
  - Used by the P(lvs.cluster.release#role) role, which also drains the real server, uploads the release and
    smoke-tests it.
options:
  app_root:
    description:
      - The application root (an absolute path) with C(releases/) and C(current).
    type: path
    required: true
  release:
    description:
      - The id of the release to switch to; C(APP_ROOT/releases/ID) must exist. Letters, digits and C(. _ + -).
      - Required unless O(rollback=true). With O(rollback=true) it names the release to go back to.
    type: str
  rollback:
    description:
      - Go back to the release before the current one in the deploy log (or to O(release) when given), and log
        the switch as a rollback away from the current release.
      - Fails when the deploy log has no release before the current one.
    type: bool
    default: false
  keep:
    description:
      - How many releases to keep after a release. V(0) keeps all.
    type: int
    default: 5
extends_documentation_fragment:
  - lvs.cluster.attributes
notes:
  - Switching to the release that is already current changes nothing and logs nothing.
seealso:
  - name: Rolling releases
    description: The release and rollback playbooks built on this module.
    link: https://github.com/lvs-cluster/lvs.cluster/blob/main/docs/release.md
"""

EXAMPLES = r"""
- name: Serve release 2026.11.29-1
  lvs.cluster.release_switch:
    app_root: /srv/app
    release: 2026.11.29-1

- name: Back to the previous release
  lvs.cluster.release_switch:
    app_root: /srv/app
    rollback: true
"""

RETURN = r"""
current:
  description: The release C(current) points at afterwards (null when there is none).
  returned: always
  type: str
  sample: 2026.11.29-1
switched_from:
  description: The release C(current) pointed at before (null when there was none).
  returned: always
  type: str
  sample: 2026.11.28-3
previous:
  description: The release a rollback would go back to afterwards (null when there is none).
  returned: always
  type: str
releases:
  description: The release order from the deploy log afterwards, oldest first, without rolled-back releases.
  returned: always
  type: list
  elements: str
pruned:
  description: Releases deleted (or, in check mode, to be deleted) because of O(keep).
  returned: always
  type: list
  elements: str
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.lvs.cluster.plugins.module_utils._release import run_release_switch


def build_module():
    return AnsibleModule(
        argument_spec=dict(
            app_root=dict(type="path", required=True),
            release=dict(type="str"),
            rollback=dict(type="bool", default=False),
            keep=dict(type="int", default=5),
        ),
        required_if=[("rollback", False, ["release"])],
        supports_check_mode=True,
    )


def main():
    run_release_switch(build_module())


if __name__ == "__main__":
    main()
