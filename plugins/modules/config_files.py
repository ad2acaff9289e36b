#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) 2026, lvs.cluster contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: config_files
short_description: Write a set of small configuration files (and their directories) in one module run
version_added: 0.4.0
author: lvs.cluster maintainers (@lvs-cluster)
description:
  - Writes every file of O(files) whose content, mode, owner or group differs, and creates the directories of
    O(directories), in one module run. The roles of this collection use it for their configuration files (the
    keepalived or ldirectord configuration, the admin state, the files restored at boot, the C(lvs-netstate)
    script, unit and state) - with M(ansible.builtin.copy) or M(ansible.builtin.template) each file costs two or
    three module runs.
  - The content is given (render templates on the controller with P(ansible.builtin.template#lookup)). A file is
    written atomically, a temporary file in its directory renamed over it, so a reader sees the old file or the
    new one.
  - Every changed file that has a O(files[].validate) command is checked before anything is written; when one
    fails, the module fails with the path, the command and its output, and changes nothing.
  - With C(--diff), one diff per created directory and per file whose content changes.
options:
  files:
    description:
      - The files to write.
    type: list
    elements: dict
    default: []
    suboptions:
      path:
        description:
          - The file's absolute path. Its directory must exist or be listed in O(directories).
        type: path
        required: true
      content:
        description:
          - The whole content of the file.
        type: str
        required: true
      mode:
        description:
          - The file's permissions, as for M(ansible.builtin.file) (an octal string such as V('0644'), or a
            symbolic mode). Left as they are when not given (a new file gets the default of the umask).
        type: raw
      owner:
        description:
          - The file's owner (a name or a uid). Left as it is when not given.
        type: str
      group:
        description:
          - The file's group (a name or a gid). Left as it is when not given.
        type: str
      validate:
        description:
          - A command that checks the new content before the file is written, with C(%s) where the path of a
            temporary file with that content goes, for example V(keepalived --config-test --use-file %s).
            Non-zero exit fails the module and nothing is written.
          - Runs only when the content changes, and not in check mode (what it checks may not be installed yet).
        type: str
  directories:
    description:
      - Directories to create (with their parents) before the files are written.
    type: list
    elements: dict
    default: []
    suboptions:
      path:
        description:
          - The directory's absolute path.
        type: path
        required: true
      mode:
        description:
          - The directory's permissions (see O(files[].mode)).
        type: raw
      owner:
        description:
          - The directory's owner.
        type: str
      group:
        description:
          - The directory's group.
        type: str
extends_documentation_fragment:
  - lvs.cluster.attributes
notes:
  - Meant for configuration files of a few kilobytes; the content travels in the module's arguments.
seealso:
  - module: ansible.builtin.copy
  - module: ansible.builtin.template
"""

EXAMPLES = r"""
- name: Write keepalived's configuration, checked by keepalived first, and its notify hook
  lvs.cluster.config_files:
    files:
      - path: /etc/keepalived/keepalived.conf
        content: "{{ lookup('ansible.builtin.template', 'keepalived.conf.j2') }}"
        mode: "0600"
        owner: root
        group: root
        validate: keepalived --config-test --use-file %s
      - path: /usr/local/sbin/notify-hook
        content: "{{ lookup('ansible.builtin.file', 'notify-hook') }}\n"
        mode: "0755"
  register: written

- name: Reload keepalived when its configuration changed
  ansible.builtin.systemd_service:
    name: keepalived
    state: reloaded
  when: "'/etc/keepalived/keepalived.conf' in written.changed_paths"
"""

RETURN = r"""
files:
  description: One entry per directory, then one per file, in the order given.
  returned: always
  type: list
  elements: dict
  contains:
    path:
      description: The path.
      type: str
    changed:
      description: Whether it was created or changed (would be, in check mode).
      type: bool
    changes:
      description: What changed, among V(created), V(content) and V(attributes) (mode, owner, group).
      type: list
      elements: str
  sample: [{"path": "/etc/lvs-cluster/director.json", "changed": true, "changes": ["content"]}]
changed_paths:
  description: The paths of the directories and files that changed (would change, in check mode).
  returned: always
  type: list
  elements: str
  sample: [/etc/lvs-cluster/director.json]
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.lvs.cluster.plugins.module_utils._config_files import run_config_files


def build_module():
    attributes = dict(
        mode=dict(type="raw"),
        owner=dict(type="str"),
        group=dict(type="str"),
    )
    return AnsibleModule(
        argument_spec=dict(
            files=dict(type="list", elements="dict", default=[], options=dict(
                path=dict(type="path", required=True),
                content=dict(type="str", required=True),
                validate=dict(type="str"),
                **attributes)),
            directories=dict(type="list", elements="dict", default=[], options=dict(
                path=dict(type="path", required=True),
                **attributes)),
        ),
        supports_check_mode=True,
    )


def main():
    run_config_files(build_module())


if __name__ == "__main__":
    main()
