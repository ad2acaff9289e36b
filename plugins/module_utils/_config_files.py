# -*- coding: utf-8 -*-
# Copyright (c) 2026, lvs.cluster contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""A set of small configuration files written in one module run (the ``config_files`` module).

Private to the lvs.cluster collection: no stability promise.

Why one module run for several files: with ``copy`` or ``template`` every file costs two or three module runs
(stat, then the transfer and the copy), and on a slow host each run is seconds. The roles render their files on
the controller and hand them all to one run.

The algorithm of every lvs.cluster module: read the current files, compare with the desired ones, validate every
changed file that has a ``validate`` command (all of them before anything is written, so a file that fails leaves
the host as it was), then write only what changed, atomically (a temporary file in the same directory renamed
over the old one), never in check mode.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import tempfile

from ansible.module_utils.common.text.converters import to_bytes, to_text


class ConfigFilesError(Exception):
    """A file or directory that cannot be written; the message names the option, the path and the value."""


def read_bytes(path):
    """The file's bytes, or None when it does not exist. A directory or unreadable file is an error."""
    try:
        with open(path, "rb") as handle:
            return handle.read()
    except FileNotFoundError:
        return None
    except IsADirectoryError:
        raise ConfigFilesError("files: path %r is a directory, not a file" % (path,))
    except OSError as error:
        raise ConfigFilesError("files: path %r cannot be read: %s" % (path, error))


def check_entries(directories, files):
    """Absolute, distinct paths; a validate command with its %s. Raises ConfigFilesError."""
    seen = set()
    for option, entries in (("directories", directories), ("files", files)):
        for entry in entries:
            path = entry["path"]
            if not os.path.isabs(path):
                raise ConfigFilesError("%s: path %r is not an absolute path" % (option, path))
            if os.path.normpath(path) in seen:
                raise ConfigFilesError("%s: path %r is given twice" % (option, path))
            seen.add(os.path.normpath(path))
    for entry in files:
        if entry.get("validate") and "%s" not in entry["validate"]:
            raise ConfigFilesError("files: validate %r of %r has no %%s (where the file to check goes)"
                                   % (entry["validate"], entry["path"]))


def _validate(module, entry, content):
    """Run the entry's validate command on a temporary copy of the new content; raise when it fails."""
    directory = os.path.dirname(entry["path"])
    handle, temporary = tempfile.mkstemp(prefix=".%s." % os.path.basename(entry["path"]),
                                         dir=directory if os.path.isdir(directory) else None)
    try:
        with os.fdopen(handle, "wb") as output:
            output.write(content)
        rc, out, err = module.run_command(entry["validate"] % temporary)
    finally:
        os.unlink(temporary)
    if rc != 0:
        output = (err or out).strip()
        raise ConfigFilesError("files: the new %s fails its validate command %r (exit %d)%s"
                               % (entry["path"], entry["validate"], rc, ": " + output if output else ""))


def _write(module, path, content):
    """Write content over path atomically: a temporary file in the same directory renamed over it."""
    handle, temporary = tempfile.mkstemp(prefix=".%s." % os.path.basename(path), dir=os.path.dirname(path))
    try:
        with os.fdopen(handle, "wb") as output:
            output.write(content)
        module.atomic_move(temporary, path)
    finally:
        if os.path.exists(temporary):
            os.unlink(temporary)


def _attributes_change(module, path, entry):
    """Set mode, owner and group when they differ (only reported in check mode); True when one did."""
    changed = False
    if entry.get("mode") is not None:
        changed = module.set_mode_if_different(path, entry["mode"], changed)
    if entry.get("owner") is not None:
        changed = module.set_owner_if_different(path, entry["owner"], changed)
    if entry.get("group") is not None:
        changed = module.set_group_if_different(path, entry["group"], changed)
    return changed


def run_config_files(module):
    directories = module.params["directories"]
    files = module.params["files"]
    try:
        check_entries(directories, files)
        # Read and compare first: the plan of the whole run before any change.
        planned = []
        for entry in files:
            desired = to_bytes(entry["content"], errors="surrogate_or_strict")
            current = read_bytes(entry["path"])
            planned.append((entry, current, desired))
        if not module.check_mode:
            for entry, current, desired in planned:
                if entry.get("validate") and current != desired:
                    _validate(module, entry, desired)
    except ConfigFilesError as error:
        module.fail_json(msg=str(error))

    results = []
    diffs = []
    for entry in directories:
        path = entry["path"]
        exists = os.path.isdir(path)
        if os.path.exists(path) and not exists:
            module.fail_json(msg="directories: path %r exists and is not a directory" % (path,))
        if not exists and not module.check_mode:
            os.makedirs(path)
        attributes = _attributes_change(module, path, entry) if os.path.isdir(path) else False
        changes = (["created"] if not exists else []) + (["attributes"] if attributes else [])
        results.append({"path": path, "changed": bool(changes), "changes": changes})
        if not exists:
            diffs.append({"before_header": path, "after_header": path, "before": "(absent)\n",
                          "after": "(directory)\n"})

    for entry, current, desired in planned:
        path = entry["path"]
        changes = []
        if current != desired:
            changes.append("created" if current is None else "content")
            diffs.append({"before_header": path, "after_header": path,
                          "before": "" if current is None else to_text(current, errors="surrogate_or_replace"),
                          "after": entry["content"]})
            if not module.check_mode:
                parent = os.path.dirname(path)
                if not os.path.isdir(parent):
                    module.fail_json(msg="files: the directory of %r does not exist (list it in directories)"
                                     % (path,), files=results)
                _write(module, path, desired)
        if os.path.exists(path) and _attributes_change(module, path, entry):
            changes.append("attributes")
        results.append({"path": path, "changed": bool(changes), "changes": changes})

    changed = any(result["changed"] for result in results)
    module.exit_json(changed=changed, files=results,
                     changed_paths=[result["path"] for result in results if result["changed"]],
                     **({"diff": diffs} if module._diff else {}))
