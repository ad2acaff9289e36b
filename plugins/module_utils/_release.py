# -*- coding: utf-8 -*-
# Copyright (c) 2026, lvs.cluster contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Releases of an application on a real server: ``APP_ROOT/releases/ID``, the ``APP_ROOT/current`` symlink and
the append-only deploy log ``APP_ROOT/deploy.log`` (one JSON object per line).

Private to the lvs.cluster collection: no stability promise.

The deploy log, not directory times, says which release came before which: every switch appends
``{"time", "action": "release"|"rollback", "release", "from"}``. The release order is the order in which releases
were deployed; a release that was rolled back away from leaves the order (it is bad), so a later rollback never
returns to it.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import datetime
import json
import os
import re
import shutil

RELEASE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+-]*$")
LOG_NAME = "deploy.log"


class ReleaseError(Exception):
    """A release operation that cannot be done; the message names the option or file and the value."""


def check_release_id(value, option="release"):
    if not isinstance(value, str) or not RELEASE_ID.match(value) or value in (".", ".."):
        raise ReleaseError("%s: %r is not a release id (letters, digits and . _ + -, not starting with a "
                           "punctuation mark; no /)" % (option, value))
    return value


class AppRoot(object):
    """The layout under one application root."""

    def __init__(self, root):
        if not isinstance(root, str) or not os.path.isabs(root):
            raise ReleaseError("app_root: %r is not an absolute path" % (root,))
        self.root = os.path.normpath(root)
        self.releases = os.path.join(self.root, "releases")
        self.current = os.path.join(self.root, "current")
        self.log = os.path.join(self.root, LOG_NAME)

    def release_dir(self, release):
        return os.path.join(self.releases, release)

    def current_release(self):
        """The id of the release ``current`` points at, or None when there is no ``current``."""
        try:
            target = os.readlink(self.current)
        except FileNotFoundError:
            return None
        except OSError as exc:  # e.g. EINVAL: a directory or file, not a symlink
            raise ReleaseError("%s is not a symlink (%s): move it away before the first release"
                               % (self.current, exc.strerror))
        return os.path.basename(os.path.normpath(target))

    def deployed(self):
        try:
            return sorted(name for name in os.listdir(self.releases)
                          if os.path.isdir(os.path.join(self.releases, name)))
        except FileNotFoundError:
            return []

    def read_log(self):
        try:
            with open(self.log) as stream:
                lines = stream.read().splitlines()
        except FileNotFoundError:
            return []
        entries = []
        for number, line in enumerate(lines, 1):
            if not line.strip():
                continue
            try:
                entry = json.loads(line)
            except ValueError:
                raise ReleaseError("%s line %d is not JSON: %r" % (self.log, number, line[:80]))
            entries.append(entry)
        return entries

    def append_log(self, entry):
        # O_APPEND: one write per entry, never a rewrite of what is there.
        with open(self.log, "a") as stream:
            stream.write(json.dumps(entry, sort_keys=True) + "\n")
            stream.flush()
            os.fsync(stream.fileno())


def release_order(entries):
    """The releases in the order they were deployed, without those rolled back away from."""
    order = []
    for entry in entries:
        release = entry.get("release")
        if entry.get("action") == "release":
            if release in order:
                order.remove(release)
            order.append(release)
        elif entry.get("action") == "rollback":
            if entry.get("from") in order:
                order.remove(entry.get("from"))
            if release not in order:
                order.append(release)
    return order


def previous_release(order, current):
    """The release before ``current`` in the release order, or None."""
    if current not in order:
        return order[-1] if order else None
    index = order.index(current)
    return order[index - 1] if index > 0 else None


def prune(order, deployed, keep, current, previous):
    """Releases to delete so that ``keep`` remain: the oldest first, never ``current`` or ``previous``, and never a
    directory the log does not know (it may be an upload in progress or put there by hand)."""
    if keep <= 0:
        return []
    known = [release for release in order if release in deployed]
    protected = set([current, previous])
    excess = len(known) - keep
    result = []
    for release in known:
        if excess <= 0:
            break
        if release not in protected:
            result.append(release)
            excess -= 1
    return result


def switch_symlink(link, target):
    """Points ``link`` at ``target`` atomically: a new symlink under a temporary name in the same directory,
    then rename(2) over ``link``. Readers see the old target or the new one, never no link (``ln -sfn`` unlinks
    first)."""
    temporary = "%s.tmp-%d" % (link, os.getpid())
    try:
        os.unlink(temporary)
    except FileNotFoundError:
        pass
    os.symlink(target, temporary)
    try:
        os.rename(temporary, link)
    except OSError:
        os.unlink(temporary)
        raise
    # The rename is durable only once the directory is synced.
    directory = os.open(os.path.dirname(link) or ".", os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)


def plan_switch(app, release=None, rollback=False):
    """What a switch would do: ``(target, action, current, log entries)``; target None means nothing to do."""
    entries = app.read_log()
    order = release_order(entries)
    current = app.current_release()
    if release is not None:
        check_release_id(release)
    if rollback and release is None:
        release = previous_release(order, current)
        if release is None:
            raise ReleaseError("rollback: %s has no release before %s to go back to (releases in the deploy log, "
                               "oldest first: %s)" % (app.root, current, ", ".join(order) or "none"))
    if release is None:
        raise ReleaseError("release: a release id is needed unless rollback is true")
    if not os.path.isdir(app.release_dir(release)):
        raise ReleaseError("release: %s has no release %r (%s does not exist; deployed: %s)"
                           % (app.root, release, app.release_dir(release), ", ".join(app.deployed()) or "none"))
    if release == current:
        return None, None, current, entries
    return release, "rollback" if rollback else "release", current, entries


def _now():
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")


def run_release_switch(module):
    """lvs.cluster.release_switch: read the state, plan, diff, apply unless in check mode."""
    params = module.params
    try:
        app = AppRoot(params["app_root"])
        target, action, current, entries = plan_switch(app, params["release"], params["rollback"])
    except ReleaseError as exc:
        module.fail_json(msg=str(exc))
    result = dict(changed=target is not None, switched_from=current, pruned=[])
    if target is None:
        order = release_order(entries)
        result.update(current=current, previous=previous_release(order, current), releases=order)
        module.exit_json(**result)

    entry = {"time": _now(), "action": action, "release": target, "from": current}
    order_after = release_order(entries + [entry])
    previous_after = previous_release(order_after, target)
    deployed = app.deployed()
    pruned = prune(order_after, deployed, params["keep"], target, previous_after) if action == "release" else []
    result.update(current=target, previous=previous_after, releases=order_after, pruned=pruned)
    if module._diff:
        result["diff"] = dict(before={"current": current, "releases": deployed},
                              after={"current": target, "releases": [name for name in deployed if name not in pruned]})
    if not module.check_mode:
        # A relative link: the application root can be moved or mounted elsewhere.
        switch_symlink(app.current, os.path.join("releases", target))
        app.append_log(entry)
        for release in pruned:
            shutil.rmtree(app.release_dir(release))
    module.exit_json(**result)
