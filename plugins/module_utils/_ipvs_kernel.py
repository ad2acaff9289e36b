# -*- coding: utf-8 -*-
# Copyright (c) 2026, lvs.cluster contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The kernel's IPVS table through generic netlink: read it into the model, apply operations in batches.

Private to the lvs.cluster collection: no stability promise.

What the kernel does (``net/netfilter/ipvs/ip_vs_ctl.c``, ``net/netlink/genetlink.c``) and what we rely on:

* Looking the family "IPVS" up by name makes the controller call
  ``request_module("net-pf-16-proto-16-family-IPVS")``; ip_vs carries that alias
  (``MODULE_ALIAS_GENL_FAMILY``, since Linux 5.16), so on such kernels the lookup loads ip_vs. Older kernels,
  or hosts/containers that cannot load modules, answer ENOENT until ip_vs is loaded some other way.
* Every IPVS command needs CAP_NET_ADMIN (GENL_ADMIN_PERM): EPERM otherwise.
* GET_SERVICE answers one service (ESRCH if absent) or, as a dump, all of them; GET_DEST exists only as a
  dump, per service, and dumps nothing (no error) when the service does not exist; GET_DAEMON is a dump;
  GET_INFO / GET_CONFIG reply with top-level attributes.
* NEW_SERVICE: EEXIST if it exists, ENOENT if the scheduler or persistence engine module cannot be
  loaded, EINVAL for a missing member or an IPv6 prefix outside 1..128, EAFNOSUPPORT for a family the kernel
  lacks. Any other service or destination command on a missing service: ESRCH.
* NEW_DEST: EEXIST if the real exists; SET_DEST/DEL_DEST: ENOENT if it does not; ERANGE for a negative
  weight or l_threshold > u_threshold; EINVAL for an unusable address, GUE without port, a mixed-family real
  that is not tunnelled (or any while a sync daemon runs).
* NEW_DAEMON: EEXIST if running, EINVAL for a bad group; DEL_DAEMON: ESRCH if not running.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import errno
import os

from ansible_collections.lvs.cluster.plugins.module_utils._netlink import (
    DEFAULT_BATCH,
    NetlinkBatchError,
    NetlinkDecodeError,
    NetlinkError,
    NetlinkSocket,
)
from ansible_collections.lvs.cluster.plugins.module_utils import _ipvs_wire as wire
from ansible_collections.lvs.cluster.plugins.module_utils._ipvs_model import (
    Daemon,
    IpvsError,
    Table,
)

UNAVAILABLE_MESSAGE = ("IPVS is not available in this kernel (module ip_vs not loaded and could not be "
                       "auto-loaded)")
PERMISSION_MESSAGE = "permission denied: managing IPVS needs CAP_NET_ADMIN (run as root, become: true)"

ACTION_COMMANDS = {
    "add_service": wire.IPVS_CMD_NEW_SERVICE,
    "edit_service": wire.IPVS_CMD_SET_SERVICE,
    "delete_service": wire.IPVS_CMD_DEL_SERVICE,
    "add_real": wire.IPVS_CMD_NEW_DEST,
    "edit_real": wire.IPVS_CMD_SET_DEST,
    "delete_real": wire.IPVS_CMD_DEL_DEST,
}


# ---------------------------------------------------------------------------------------------------------------
# Errors
# ---------------------------------------------------------------------------------------------------------------


class IpvsKernelError(IpvsError):
    """The kernel refused or could not answer; ``errno`` is the errno (or None)."""

    def __init__(self, message, errno_value=None):
        self.errno = errno_value
        super(IpvsKernelError, self).__init__(message)


class IpvsUnavailable(IpvsKernelError):
    """No IPVS generic netlink family in this kernel (or no netlink at all)."""


class IpvsPermissionError(IpvsKernelError):
    """The caller lacks CAP_NET_ADMIN."""


class IpvsOperationError(IpvsKernelError):
    """An operation failed while applying a plan.

    ``operation`` is the first failed operation; ``applied`` every operation the kernel acknowledged (in plan
    order, including ones sent in the same batch after the failure: the kernel processes a whole batch);
    ``failed`` a list of ``(operation, message)``; ``unknown`` operations that were sent but whose
    acknowledgement was lost (receive buffer overflow); ``not_applied`` operations never sent.
    """

    def __init__(self, message, operation, errno_value=None, applied=(), failed=(), unknown=(), not_applied=()):
        self.operation = operation
        self.applied = list(applied)
        self.failed = list(failed)
        self.unknown = list(unknown)
        self.not_applied = list(not_applied)
        super(IpvsOperationError, self).__init__(message, errno_value)


# ---------------------------------------------------------------------------------------------------------------
# Messages
# ---------------------------------------------------------------------------------------------------------------


def real_of_service(real, key):
    return "real server %s of service %s" % (real, key)


def operation_error_message(action, service, real, error):
    """A sentence naming the object and what the errno means for this command."""
    key = service.key
    code = error.errno
    what = "service %s" % key if real is None else real_of_service(real, key)
    if code == errno.EPERM:
        return PERMISSION_MESSAGE
    if code == errno.ESRCH:
        return "no such service %s" % key
    if action in ("add_service", "edit_service"):
        if code == errno.ENOENT:
            if service.pe_name:
                return ("scheduler '%s' or persistence engine '%s' is not available: kernel module ip_vs_%s or "
                        "ip_vs_pe_%s could not be loaded" % (service.scheduler, service.pe_name,
                                                             service.scheduler, service.pe_name))
            return ("scheduler '%s' (or persistence engine) is not available: kernel module ip_vs_%s could not "
                    "be loaded" % (service.scheduler, service.scheduler))
        if code == errno.EEXIST:
            return "service %s already exists" % key
    if action in ("add_real", "edit_real", "delete_real"):
        if code == errno.EEXIST:
            return "%s already exists" % what
        if code == errno.ENOENT:
            return "no such real server %s in service %s" % (real, key)
        if code == errno.ERANGE:
            return ("%s: the kernel refused weight %d / thresholds %d..%d (weight must not be negative, "
                    "l_threshold must not exceed u_threshold)"
                    % (what, real.weight, real.l_threshold, real.u_threshold))
    if code == errno.EAFNOSUPPORT:
        return "%s: address family %s is not supported by this kernel's IPVS" % (what, (real or key).family)
    if code == errno.EINVAL:
        return ("%s: the kernel refused the attribute set (EINVAL): e.g. an unusable address, a mixed-family "
                "real without tunnel forwarding or while a sync daemon runs, a GUE tunnel without port, or a "
                "persistence prefix out of range" % what)
    return "%s %s failed: %s" % (action.replace("_", " "), what, error)


# ---------------------------------------------------------------------------------------------------------------
# Kernel modules: can the kernel load a scheduler before we ask it to?
# ---------------------------------------------------------------------------------------------------------------


def _module_name(path_or_name):
    """``kernel/net/netfilter/ipvs/ip_vs_rr.ko.xz`` -> ``ip_vs_rr`` (kmod treats - and _ alike)."""
    name = os.path.basename(path_or_name.strip())
    if ".ko" in name:
        name = name[:name.index(".ko")]
    return name.replace("-", "_")


def _module_names(path, field):
    """The module names a kmod index file lists (one per line; ``field`` 0 of a space- or colon-separated
    line); None when the file cannot be read."""
    try:
        with open(path) as handle:
            return set(_module_name(line.replace(":", " ").split()[field]) for line in handle if line.strip())
    except (IOError, OSError):
        return None


def missing_kernel_modules(names, root="/", release=None):
    """Of the kernel modules ``names``, those the running kernel has neither loaded (/proc/modules), built in
    (modules.builtin) nor installed (modules.dep of /lib/modules/RELEASE), sorted; ``(release, missing)``.

    ``missing`` is None when the host cannot say (no readable modules.dep, as in a container without the host's
    module tree): the kernel then answers for itself when the operation is sent.
    """
    release = release or os.uname()[2]
    module_dir = os.path.join(root, "lib", "modules", release)
    installed = _module_names(os.path.join(module_dir, "modules.dep"), 0)
    if installed is None:
        return release, None
    known = installed | (_module_names(os.path.join(module_dir, "modules.builtin"), 0) or set())
    known |= _module_names(os.path.join(root, "proc", "modules"), 0) or set()
    return release, sorted(set(_module_name(name) for name in names) - known)


# ---------------------------------------------------------------------------------------------------------------
# The kernel
# ---------------------------------------------------------------------------------------------------------------


class IpvsKernel:
    """IPVS through generic netlink.

    Use as a context manager; ``socket`` (a :class:`NetlinkSocket`, e.g. over a fake transport) is opened on
    demand otherwise.
    """

    def __init__(self, socket=None, batch_size=DEFAULT_BATCH):
        self._socket = socket
        self._own_socket = socket is None
        self.batch_size = batch_size
        self.family_id = None
        self.family_version = None

    # Life cycle ---------------------------------------------------------------------------------------------
    def __enter__(self):
        self.open()
        return self

    def __exit__(self, *exc):
        self.close()
        return False

    def open(self):
        if self._socket is None:
            try:
                self._socket = NetlinkSocket()
            except OSError as exc:
                # EAFNOSUPPORT/EPROTONOSUPPORT: no netlink here (another OS, a seccomp'd container).
                raise IpvsUnavailable("%s: cannot open a generic netlink socket: %s" % (UNAVAILABLE_MESSAGE, exc),
                                      exc.errno)
        if self.family_id is None:
            try:
                family = self._socket.resolve_family(wire.IPVS_GENL_NAME)
            except NetlinkError as exc:
                if exc.errno == errno.ENOENT:
                    raise IpvsUnavailable(UNAVAILABLE_MESSAGE, exc.errno)
                raise self._error("looking up the IPVS netlink family", exc)
            self.family_id = family["id"]
            self.family_version = family["version"]
        return self

    def close(self):
        if self._socket is not None and self._own_socket:
            self._socket.close()
            self._socket = None

    # Plumbing ------------------------------------------------------------------------------------------------
    def _sock(self):
        if self._socket is None or self.family_id is None:
            self.open()
        return self._socket

    def _error(self, doing, exc):
        if isinstance(exc, NetlinkDecodeError):
            return IpvsKernelError("%s: the kernel's answer could not be decoded: %s" % (doing, exc))
        if exc.errno == errno.EPERM:
            return IpvsPermissionError(PERMISSION_MESSAGE, exc.errno)
        return IpvsKernelError("%s failed: %s" % (doing, exc), exc.errno)

    def _request(self, payload, doing):
        try:
            return [wire.parse_reply(message) for message in self._sock().request(self.family_id, payload)]
        except (NetlinkError, NetlinkDecodeError) as exc:
            raise self._error(doing, exc)

    def _dump(self, payload, doing):
        try:
            return [wire.parse_reply(message) for message in self._sock().dump(self.family_id, payload)]
        except (NetlinkError, NetlinkDecodeError) as exc:
            raise self._error(doing, exc)

    # Reading -------------------------------------------------------------------------------------------------
    def read_services(self, stats=False):
        """Every service, without reals (one dump)."""
        services = []
        for cmd, attrs in self._dump(wire.get_service(), "listing IPVS services"):
            if cmd != wire.IPVS_CMD_NEW_SERVICE:
                continue
            try:
                services.append(wire.decode_service(attrs, stats=stats))
            except NetlinkDecodeError as exc:
                raise self._error("listing IPVS services", exc)
        return services

    def read_reals(self, key, stats=False):
        """The reals of one service (one dump; empty when the service does not exist)."""
        return self._read_reals(key, stats=stats)[0]

    def read_table(self, stats=False, with_timeouts=False, expected=None, only=None):
        """The whole table: one service dump, then one destination dump per service.

        The kernel allows one dump at a time per socket, so N services cost N+1 round trips (about a
        millisecond per hundred services); reals are not available any other way.

        ``expected`` (a Table, e.g. the desired one of a reconcile) makes the read cheap where the kernel
        already holds it: a real whose dumped configuration is byte for byte that of a real of the same service
        in ``expected`` is taken from ``expected`` instead of being decoded, and a service that matches in every
        attribute and real is ``expected``'s own object (so a planner can skip it by identity). Counters are
        then left out; ``stats`` turns the shortcut off. ``only`` (ServiceKeys) reads just those services.

        IPVS dumps are not snapshots: a change made by another writer between the service dump and a
        destination dump shows up in the later one (a service deleted meanwhile reads with no reals). The
        modules hold the writer lock of lvs.cluster while they read and apply (``_host_lock``), and every
        operation names its object, so a race can make a plan stale - the kernel then refuses an operation
        and the task fails naming it - but never makes it touch an object it did not read.
        """
        wanted = expected.by_key() if expected is not None and not stats else {}
        services = []
        for service in self.read_services(stats=stats):
            if only is not None and service.key not in only:
                continue
            desired = wanted.get(service.key)
            if desired is None:
                services.append(service.with_reals(self.read_reals(service.key, stats=stats)))
                continue
            reals, matched = self._read_reals(service.key, expected_reals=desired.reals)
            if matched == len(reals) == len(desired.reals) and service.attributes_equal(desired):
                services.append(desired)
            else:
                services.append(service.with_reals(reals))
        return Table(services=tuple(services), timeouts=self.timeouts() if with_timeouts else None)

    def _read_reals(self, key, stats=False, expected_reals=()):
        """The reals of one service and how many of them are objects of ``expected_reals``: a dumped real whose
        configuration bytes are those of an expected real is taken from it, not decoded (never with ``stats``,
        which only a decode gives)."""
        by_signature = {} if stats else dict((wire.dest_dump_signature(real), real) for real in expected_reals)
        doing = "listing the real servers of service %s" % (key,)
        try:
            messages = self._sock().dump(self.family_id, wire.get_dest(key))
        except (NetlinkError, NetlinkDecodeError) as exc:
            raise self._error(doing, exc)
        reals = []
        matched = 0
        signature_of = wire.dest_reply_signature
        for message in messages:
            real = by_signature.get(signature_of(message.payload)) if by_signature else None
            if real is not None:
                reals.append(real)
                matched += 1
                continue
            try:
                cmd, attrs = wire.parse_reply(message)
                if cmd == wire.IPVS_CMD_NEW_DEST:
                    reals.append(wire.decode_real(attrs, key.family, stats=stats))
            except NetlinkDecodeError as exc:
                raise self._error(doing, exc)
        return reals, matched

    def read_service(self, key, stats=False):
        """One service with its reals, or None if it does not exist."""
        try:
            replies = self._sock().request(self.family_id, wire.get_service(key))
        except NetlinkError as exc:
            if exc.errno == errno.ESRCH:
                return None
            raise self._error("reading service %s" % (key,), exc)
        except NetlinkDecodeError as exc:
            raise self._error("reading service %s" % (key,), exc)
        for message in replies:
            try:
                cmd, attrs = wire.parse_reply(message)
                if cmd != wire.IPVS_CMD_NEW_SERVICE:
                    continue
                service = wire.decode_service(attrs, stats=stats)
            except NetlinkDecodeError as exc:
                raise self._error("reading service %s" % (key,), exc)
            return service.with_reals(self.read_reals(key, stats=stats))
        return None

    def info(self):
        """``{"version": "1.2.1", "version_code": 66049, "conn_tab_size": 4096}``."""
        for cmd, attrs in self._request(wire.get_info(), "reading IPVS information"):
            if cmd == wire.IPVS_CMD_SET_INFO:
                try:
                    return wire.decode_info(attrs)
                except NetlinkDecodeError as exc:
                    raise self._error("reading IPVS information", exc)
        raise IpvsKernelError("reading IPVS information: the kernel sent no answer")

    def missing_modules(self, names):
        """``(kernel release, the modules of names this kernel cannot load)``; the list is None when the host
        does not say (see :func:`missing_kernel_modules`)."""
        return missing_kernel_modules(names)

    def timeouts(self):
        for cmd, attrs in self._request(wire.get_config(), "reading IPVS timeouts"):
            if cmd == wire.IPVS_CMD_SET_CONFIG:
                try:
                    return wire.decode_timeouts(attrs)
                except NetlinkDecodeError as exc:
                    raise self._error("reading IPVS timeouts", exc)
        raise IpvsKernelError("reading IPVS timeouts: the kernel sent no answer")

    def set_timeouts(self, timeouts):
        """Set tcp / tcp_fin / udp timeouts (seconds); 0 leaves one as it is."""
        self._request(wire.set_config(timeouts), "setting IPVS timeouts %s" % (timeouts.to_dict(),))

    def daemons(self):
        result = []
        for cmd, attrs in self._dump(wire.get_daemon(), "listing IPVS sync daemons"):
            if cmd != wire.IPVS_CMD_NEW_DAEMON:
                continue
            try:
                result.append(wire.decode_daemon(attrs))
            except NetlinkDecodeError as exc:
                raise self._error("listing IPVS sync daemons", exc)
        return result

    def start_daemon(self, daemon):
        try:
            self._sock().request(self.family_id, wire.new_daemon(daemon))
        except NetlinkError as exc:
            if exc.errno == errno.EEXIST:
                raise IpvsKernelError("a %s sync daemon is already running" % daemon.state, exc.errno)
            if exc.errno == errno.ENODEV:
                raise IpvsKernelError("sync daemon: no such interface %r" % daemon.mcast_interface, exc.errno)
            if exc.errno == errno.EINVAL:
                raise IpvsKernelError("the kernel refused the %s sync daemon on %s (EINVAL: e.g. a group that is not "
                                      "multicast, or services with mixed-family real servers)"
                                      % (daemon.state, daemon.mcast_interface), exc.errno)
            raise self._error("starting the %s sync daemon" % daemon.state, exc)

    def stop_daemon(self, state):
        """Stop the ``state`` ('master' / 'backup', or a Daemon) sync daemon."""
        if isinstance(state, Daemon):
            state = state.state
        try:
            self._sock().request(self.family_id, wire.del_daemon(state))
        except NetlinkError as exc:
            if exc.errno == errno.ESRCH:
                raise IpvsKernelError("no %s sync daemon is running" % state, exc.errno)
            raise self._error("stopping the %s sync daemon" % state, exc)

    def zero(self, key=None):
        """Zero the counters of one service (``key``) or of all."""
        try:
            self._sock().request(self.family_id, wire.zero(key))
        except NetlinkError as exc:
            if exc.errno == errno.ESRCH:
                raise IpvsKernelError("no such service %s" % (key,), exc.errno)
            raise self._error("zeroing counters", exc)

    def flush(self):
        """Delete every service (and so every real)."""
        self._request(wire.flush(), "flushing the IPVS table")

    # Applying a plan -------------------------------------------------------------------------------------------
    @staticmethod
    def encode_operation(operation):
        """The generic netlink payload for one plan Operation."""
        action = operation.action
        service = operation.service
        if action == "add_service":
            return wire.new_service(service)
        if action == "edit_service":
            return wire.set_service(service)
        if action == "delete_service":
            return wire.del_service(service.key)
        if operation.real is None:
            raise ValueError("%s needs a real" % action)
        if action == "add_real":
            return wire.new_dest(service.key, operation.real)
        if action == "edit_real":
            return wire.set_dest(service.key, operation.real)
        if action == "delete_real":
            return wire.del_dest(service.key, operation.real)
        raise ValueError("unknown IPVS operation %r" % (action,))

    def apply(self, operations, batch_size=None):
        """Apply operations in order, ``batch_size`` per sendmsg; return the list applied.

        Raises IpvsOperationError at the first batch with a failure, after collecting every acknowledgement
        of that batch; later batches are not sent.
        """
        operations = list(operations)
        if not operations:
            return []
        payloads = [self.encode_operation(op) for op in operations]  # encoding errors before any I/O
        sock = self._sock()
        requests = [(self.family_id, payload, 0) for payload in payloads]
        socket_error = None
        try:
            outcomes = sock.batch(requests, chunk=batch_size or self.batch_size, stop_on_error=True)
        except NetlinkBatchError as exc:
            # The socket failed part way: report what was applied, what may have been, and what was not.
            socket_error, outcomes = exc.error, exc.outcomes
        except NetlinkDecodeError as exc:
            raise self._error("applying IPVS changes", exc)
        except NetlinkError as exc:
            raise self._error("applying IPVS changes", exc)

        applied, failed, unknown, not_applied = [], [], [], []
        first = None
        for operation, outcome in zip(operations, outcomes):
            if outcome.status == "ok":
                applied.append(operation)
            elif outcome.status == "error":
                message = operation_error_message(operation.action, operation.service, operation.real, outcome.error)
                failed.append((operation, message))
                if first is None:
                    first = (operation, message, outcome.error.errno)
            elif outcome.status == "unknown":
                unknown.append(operation)
            else:
                not_applied.append(operation)
        if first is None and socket_error is not None:
            operation = (unknown or not_applied)[0]
            message = ("the netlink socket failed while applying IPVS changes (%s); %d operation(s) were sent "
                       "without an answer (outcome unknown), %d not sent, starting with: %s"
                       % (socket_error, len(unknown), len(not_applied), operation))
            raise IpvsOperationError(message, operation, socket_error.errno, applied=applied, failed=failed,
                                     unknown=unknown, not_applied=not_applied)
        if first is None and not unknown:
            return applied
        if first is None:
            operation = unknown[0]
            message = ("the kernel's acknowledgements of %d operation(s) were lost (netlink receive buffer "
                       "overflow, ENOBUFS); they were processed but their outcome is unknown, starting with: %s"
                       % (len(unknown), operation))
            code = errno.ENOBUFS
        else:
            operation, message, code = first
            if len(failed) > 1:
                message = "%s (and %d more failure(s) in the same batch)" % (message, len(failed) - 1)
        raise IpvsOperationError(message, operation, code, applied=applied, failed=failed, unknown=unknown,
                                 not_applied=not_applied)
