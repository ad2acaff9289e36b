# -*- coding: utf-8 -*-
# Copyright (c) 2026, lvs.cluster contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""What the unit tests of the host lock share."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import fcntl
import json
import os


def read_lock_state(path):
    """None while the lock file at ``path`` is free, else its holder's record ({} when the holder wrote none)."""
    if not os.path.exists(path):
        return None
    # A new open file description: flock locks belong to descriptions, so this one competes like another process.
    fd = os.open(path, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return None
    except BlockingIOError:
        with open(path) as handle:
            text = handle.read()
        return json.loads(text) if text.strip() else {}
    finally:
        os.close(fd)
