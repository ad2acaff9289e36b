# -*- coding: utf-8 -*-
# Copyright (c) 2025, lvs.cluster maintainers
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Packet-marking rules for IPVS fwmark services (nftables and iptables backends).

PRIVATE to the ``lvs.cluster`` collection: the leading underscore means this file is an
implementation detail of ``lvs.cluster.fwmark``; nothing in here has a stability promise and it may
change in any release without notice. Standard library only (``_host_lock`` is too).

The files follow the IPVS pattern: ``_fwmark_model`` (options -> ``FwmarkSpec``, the normalised ``Rule``),
``_fwmark_nft`` and ``_fwmark_iptables`` (the backends), and this file, the module's algorithm. The flow:

1. ``build_spec(params)`` validates and normalises the user's options into a ``FwmarkSpec``
   (every error names the option and the value), before any command runs;
2. a backend (``NftBackend`` / ``IptablesBackend``) reads the rules in force and parses them into
   normalised ``Rule`` objects; it only ever looks at rules carrying the comment
   ``lvs.cluster fwmark <mark>[ <name>]``;
3. the backend renders the desired ``Rule`` list from the spec, ``diff_rules`` compares the two
   multisets and the backend turns the difference into ``Command`` objects (one atomic
   ``nft -f -`` transaction, or one ``iptables-restore --noflush`` commit per family);
4. ``ensure()`` ties it together; it takes a ``run(argv, data=None) -> (rc, out, err)`` callable and a
   ``get_bin(name) -> path or None`` callable so that everything here tests without a host. Outside check mode
   it holds the host-wide writer lock (``_host_lock``, standard library only too) from step 2 to the last
   command, so it never interleaves with another lvs.cluster writer on the host.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

from ansible_collections.lvs.cluster.plugins.module_utils._host_lock import (
    DEFAULT_TIMEOUT as DEFAULT_LOCK_TIMEOUT,
    HostLockError,
    check_timeout,
    writer_lock,
)
from ansible_collections.lvs.cluster.plugins.module_utils._fwmark_iptables import (
    IptablesBackend,
)
from ansible_collections.lvs.cluster.plugins.module_utils._fwmark_model import (
    DEFAULT_TABLE,
    FAMILIES,
    FwmarkError,
    IPTABLES_TABLE,
    IPTABLES_BIN,
    build_spec,
    diff_rules,
)
from ansible_collections.lvs.cluster.plugins.module_utils._fwmark_nft import (
    NftBackend,
)


# --------------------------------------------------------------------------------------------
# Backend choice and the whole algorithm
# --------------------------------------------------------------------------------------------

def nft_works(run, get_bin):
    nft = get_bin('nft')
    if not nft:
        return False
    rc, _out, _err = run([nft, '-j', 'list', 'tables'])
    return rc == 0


def iptables_legacy_in_use(run, get_bin, families=FAMILIES):
    """True when ``iptables``/``ip6tables`` is the legacy variant and its mangle table holds rules."""
    for family in families:
        binary = get_bin(IPTABLES_BIN[family])
        if not binary:
            continue
        rc, out, err = run([binary, '-V'])
        if rc != 0 or 'legacy' not in (out + err):
            continue
        rc, out, _err = run([binary, '-w', '-t', IPTABLES_TABLE, '-S'])
        if rc == 0 and any(line.startswith('-A ') for line in out.splitlines()):
            return True
    return False


def choose_backend(requested, run, get_bin, families=FAMILIES):
    """``auto`` → ``iptables`` if nft does not work or legacy iptables rules are in use in mangle, else ``nftables``."""
    if requested in ('nftables', 'iptables'):
        return requested
    if not nft_works(run, get_bin):
        return 'iptables'
    if iptables_legacy_in_use(run, get_bin, families):
        return 'iptables'
    return 'nftables'


def make_backend(name, run, get_bin, table=DEFAULT_TABLE):
    if name == 'nftables':
        return NftBackend(run, get_bin, table)
    return IptablesBackend(run, get_bin)


def state_dict(spec, rules, backend):
    return {
        'mark': spec.mark,
        'backend': backend,
        'state': 'present' if rules else 'absent',
        'rules': [r.to_dict() for r in rules],
    }


def ensure(params, run, get_bin, check_mode=False):
    """Read → plan → (apply) for one mark. Returns the module result (without ``diff`` gating).

    Outside check mode the host lock is held throughout; a lock that cannot be taken is a ``FwmarkError`` raised
    before anything is read or run.
    """
    spec = build_spec(params)  # validation first: nothing runs before the input is known good
    lock_timeout = _lock_timeout(params)
    try:
        with writer_lock('lvs.cluster.fwmark', lock_timeout, check_mode):
            backend_name = choose_backend(params.get('backend') or 'auto', run, get_bin, spec.families)
            backend = make_backend(backend_name, run, get_bin, params.get('nft_table') or DEFAULT_TABLE)
            if backend_name == 'iptables':
                backend.read(spec.families, required=spec.state == 'present')
            else:
                backend.read()
            current = backend.current_rules(spec)
            desired = backend.desired_rules(spec)
            to_delete, to_add = diff_rules(current, desired)
            commands = backend.plan(to_delete, to_add)
            changed = bool(commands)
            if changed and not check_mode:
                backend.apply(commands)
    except HostLockError as exc:
        raise FwmarkError(str(exc), changed=False)
    return {
        'changed': changed,
        'backend': backend_name,
        'rules': [r.to_dict() for r in desired],
        'commands': [str(c) for c in commands],
        'diff': {
            'before': state_dict(spec, current, backend_name),
            'after': state_dict(spec, desired, backend_name),
        },
    }


def _lock_timeout(params):
    value = params.get('lock_timeout')
    try:
        return check_timeout(DEFAULT_LOCK_TIMEOUT if value is None else value)
    except HostLockError as exc:
        raise FwmarkError(str(exc))
