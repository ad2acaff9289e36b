"""Generate the guest-side scripts that create, reboot and inspect lab hosts (one SSH round trip each)."""
import os
import secrets
import shlex

from .topology import MGMT_BRIDGE, MGMT_GUEST

GUEST_LIBRARY = os.path.join(os.path.dirname(os.path.abspath(__file__)), "guest.sh")
HOST_READY_TIMEOUT = 120  # seconds; 4-5 containers boot in parallel in about 20-30 s under TCG
LAB_DIR = "/var/lib/lvs-lab"


def _library():
    with open(GUEST_LIBRARY, encoding="utf-8") as handle:
        return handle.read()


def _q(value):
    return shlex.quote(str(value))


def mac_address(host, slot):
    """A fixed, locally administered MAC per host NIC, so a rebooted host keeps its 'hardware' address."""
    return f"02:1b:00:00:{host.index:02x}:{slot:02x}"


def wiring(host):
    """IFNAME=BRIDGE=MAC specs: mgmt0 first, then the data interfaces."""
    specs = [f"mgmt0={MGMT_BRIDGE}={mac_address(host, 0)}"]
    for slot, iface in enumerate(host.interfaces, start=1):
        specs.append(f"{iface.name}={iface.network.bridge}={mac_address(host, slot)}")
    return specs


def networkd_files(host):
    """The host's own boot-time network config (systemd-networkd), kept in its filesystem across reboots."""
    files = {
        "10-mgmt0.network": (
            "# Management interface: SSH only.\n"
            "[Match]\nName=mgmt0\n\n[Network]\n"
            f"Address={host.mgmt}\nLinkLocalAddressing=no\nIPv6AcceptRA=no\nConfigureWithoutCarrier=yes\n"
        ),
    }
    for iface in host.interfaces:
        lines = [
            f"# Lab network {iface.network.name!r}, written by lvs-lab.", "[Match]", f"Name={iface.name}", "",
            "[Network]", "LinkLocalAddressing=ipv6", "IPv6AcceptRA=no", "ConfigureWithoutCarrier=yes",
        ]
        if host.forwarding:
            lines.append("IPForward=yes")
        # No DAD: addresses must be usable at once.
        for address in (iface.ipv4, iface.ipv6):
            lines += ["", "[Address]", f"Address={address}", "DuplicateAddressDetection=none"]
        for route in host.routes:
            if host.interface_for(route.via) is iface:
                lines += ["", "[Route]", f"Destination={route.destination}", f"Gateway={route.via}"]
        files[f"20-{iface.name}.network"] = "\n".join(lines) + "\n"
    return files


def etc_hosts(topology, host):
    lines = ["127.0.0.1 localhost", f"127.0.1.1 {host.name}", "::1 localhost ip6-localhost ip6-loopback"]
    for other in topology.hosts:
        primary = other.interfaces[0]
        lines.append(f"{primary.ipv4.ip} {other.name}")
        lines.append(f"{primary.ipv6.ip} {other.name}")
    return "\n".join(lines) + "\n"


def _write_file(path, content):
    marker = "LVS_LAB_EOF"
    assert marker not in content
    return f"mkdir -p {_q(os.path.dirname(path))}\ncat > {_q(path)} <<'{marker}'\n{content}{marker}\n"


def _populate_upper(topology, host):
    """Shell lines writing the host's own files into its (fresh) overlay upper dir."""
    upper = f"{LAB_DIR}/hosts/{host.name}/upper"
    out = [f"mkdir -p {upper}/etc/systemd/network {upper}/root"]
    out.append(_write_file(f"{upper}/etc/hostname", host.name + "\n"))
    out.append(_write_file(f"{upper}/etc/machine-id", secrets.token_hex(16) + "\n"))
    out.append(_write_file(f"{upper}/etc/hosts", etc_hosts(topology, host)))
    for name, content in networkd_files(host).items():
        out.append(_write_file(f"{upper}/etc/systemd/network/{name}", content))
    # The guest's own eth0 config is not the host's: mask it.
    out.append(f"ln -sf /dev/null {upper}/etc/systemd/network/10-guest-eth0.network")
    return "\n".join(out)


def _host_wait_call(host, timeout=HOST_READY_TIMEOUT):
    return f"host_wait {host.name} {host.mgmt.ip} {timeout} " + " ".join(_q(a) for a in host.addresses)


def _bridges(topology):
    lines = [f"bridge_ensure {MGMT_BRIDGE} {MGMT_GUEST}"]
    lines += [f"bridge_ensure {net.bridge}" for net in topology.networks.values()]
    return lines


def create_script(topology):
    """Tear down whatever runs, then create every host of the topology in parallel and wait for all."""
    parts = [_library(), "guest_prepare", "say 'removing old lab hosts'", "teardown_all", *_bridges(topology)]
    for host in topology.hosts:
        parts.append(f"create_{host.index}() {{\n"
                     f"  host_wire {host.name} {host.index} {' '.join(wiring(host))}\n"
                     f"  {_populate_upper(topology, host)}\n"
                     f"  host_mount {host.name}\n  host_start {host.name}\n}}")
        parts.append(f"wait_{host.index}() {{ {_host_wait_call(host)} && say '{host.name}: up'; }}")
    indexes = [h.index for h in topology.hosts]
    parts.append(f"say 'booting {len(indexes)} hosts: {' '.join(topology.host_names)}'")
    parts.append("run_parallel " + " ".join(f"create_{i}" for i in indexes))
    parts.append("run_parallel " + " ".join(f"wait_{i}" for i in indexes))
    parts.append(f"echo {_q(topology.name)} > {LAB_DIR}/topology")
    return "\n".join(parts) + "\n"


def reboot_script(host):
    """Like a real reboot: stop, fresh network namespace (NICs only), boot again on the kept filesystem."""
    return "\n".join([
        _library(), "guest_prepare",
        f"say '{host.name}: shutting down'", f"host_stop {host.name} graceful",
        f"host_unwire {host.name} {host.index}",
        f"host_wire {host.name} {host.index} {' '.join(wiring(host))}",
        f"host_mount {host.name}",
        f"say '{host.name}: booting'", f"host_start {host.name}",
        _host_wait_call(host), f"say '{host.name}: up'",
    ]) + "\n"


def status_script(topology):
    lines = [_library(), f"echo topology=$(cat {LAB_DIR}/topology 2>/dev/null || echo none)"]
    lines += [f"host_status {h.name} {h.mgmt.ip}" for h in topology.hosts]
    return "\n".join(lines) + "\n"


def teardown_script():
    return _library() + "guest_prepare\nteardown_all\n"
