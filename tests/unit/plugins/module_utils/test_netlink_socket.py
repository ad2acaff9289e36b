# -*- coding: utf-8 -*-
# Copyright (c) 2026, lvs.cluster contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The real AF_NETLINK transport against the host kernel's generic netlink controller (nlctrl), which every Linux
kernel has (IPVS is not needed): receive timeouts, non-blocking drains and a receive-buffer overflow."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import errno
import socket
import time

import pytest

from ansible_collections.lvs.cluster.plugins.module_utils import _netlink as nl


def open_transport(**kwargs):
    try:
        return nl.SocketTransport(**kwargs)
    except OSError as exc:  # no netlink at all (an unusual sandbox): nothing to test against
        pytest.skip("no AF_NETLINK socket here: %s" % exc)


def getfamily(name="nlctrl"):
    payload = nl.genl_payload(nl.CTRL_CMD_GETFAMILY, 1, [nl.nla_nulstring(nl.CTRL_ATTR_FAMILY_NAME, name)])
    return (nl.GENL_ID_CTRL, payload, 0)


def test_a_request_is_answered_through_the_preallocated_buffer():
    with nl.NetlinkSocket(open_transport()) as sock:
        assert sock.resolve_family("nlctrl")["id"] == nl.GENL_ID_CTRL
        assert sock.resolve_family("nlctrl")["name"] == "nlctrl"  # the buffer is reused, the answers are copies


def test_the_socket_blocks_with_a_kernel_receive_timeout():
    transport = open_transport(timeout=7.5)
    try:
        assert transport.sock.gettimeout() is None  # blocking: no poll() of Python's own before each receive
        raw = transport.sock.getsockopt(socket.SOL_SOCKET, socket.SO_RCVTIMEO, 16)
        assert raw != bytes(len(raw))  # SO_RCVTIMEO is set
    finally:
        transport.close()


def test_a_non_blocking_receive_does_not_wait_for_the_timeout():
    # Behaviour, not speed: with Python's socket timeout, MSG_DONTWAIT still waited the whole timeout (60 s here).
    transport = open_transport(timeout=60)
    try:
        started = time.monotonic()
        assert transport.recv(block=False) is None
        assert time.monotonic() - started < 30
    finally:
        transport.close()


def test_an_unknown_family_is_a_clean_error():
    with nl.NetlinkSocket(open_transport()) as sock:
        with pytest.raises(nl.NetlinkError) as info:
            sock.resolve_family("lvsnosuchfamily")
    assert info.value.errno == errno.ENOENT


def test_a_receive_buffer_overflow_ends_the_batch_at_once_and_leaves_the_socket_usable():
    # Each GETFAMILY answer is about 1-2 KiB: 400 in one sendmsg overflow a 4 KiB receive buffer. The batch
    # must report the lost answers as unknown right away (not wait for the socket timeout, 60 s here).
    transport = open_transport(rcvbuf=4096, timeout=60)
    with nl.NetlinkSocket(transport) as sock:
        started = time.monotonic()
        outcomes = sock.batch([getfamily()] * 400, chunk=400)
        assert time.monotonic() - started < 30
        statuses = set(outcome.status for outcome in outcomes)
        assert "unknown" in statuses and "error" not in statuses and "not_sent" not in statuses
        assert sock.resolve_family("nlctrl")["id"] == nl.GENL_ID_CTRL
