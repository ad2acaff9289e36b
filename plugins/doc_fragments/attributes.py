# -*- coding: utf-8 -*-
# Copyright (c) 2026, lvs.cluster contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function

__metaclass__ = type


class ModuleDocFragment(object):
    # Every lvs.cluster module: full check mode and diff support, on Linux.
    DOCUMENTATION = r"""
options: {}
attributes:
  check_mode:
    description: Can run in check_mode and return changed status prediction without modifying target.
    support: full
  diff_mode:
    description: Will return details on what has changed (or possibly needs changing in check_mode), when in diff mode.
    support: full
  platform:
    description: Target OS/families that can be operated against.
    support: full
    platforms: linux
"""

    # The modules that speak IPVS generic netlink.
    IPVS = r"""
options: {}
requirements:
  - Linux with the ip_vs kernel module, Python on the managed host; nothing else
notes:
  - Needs C(CAP_NET_ADMIN) (run as root, for example with C(become)).
"""

    # The modules that change the host: they hold the host-wide writer lock (module_utils/_host_lock.py).
    LOCK = r"""
options:
  lock_timeout:
    description:
      - Wait at most this many seconds (0 to 86400) for the host-wide C(lvs.cluster) writer lock,
        C(/run/lock/lvs-cluster.lock), before failing with a message that names the holder (its pid, what it is
        and for how long it has held the lock). V(0) tries once.
      - The lock is held from reading the host's state to the last change, so two runs against one host (two
        plays, a play and C(lvs-netstate) at boot or reload) never interleave; the second one plans against what
        the first one left. A run that cannot take the lock changes nothing.
      - Check mode does not take the lock (it only reads).
    type: int
    default: 60
notes:
  - The lock only orders C(lvs.cluster)'s own writers (these modules and C(lvs-netstate)); C(ipvsadm), C(nft) or
    C(iptables) run by hand or by other tools do not take it.
"""
