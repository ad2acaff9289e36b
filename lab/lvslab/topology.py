"""Load and validate the declarative topologies in lab/topologies/*.toml."""
import dataclasses
import glob
import ipaddress
import os
import re
import tomllib

from .util import LabError

TOPOLOGY_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "topologies")
KNOWN_GROUPS = ("directors", "realservers", "clients", "routers")
NAME_RE = re.compile(r"^[a-z][a-z0-9-]{0,14}$")
IFACE_RE = re.compile(r"^eth[1-9][0-9]?$")

# Management network: the guest is .1 on its bridge, hosts get .10, .11, ... (SSH only).
MGMT_NET = ipaddress.ip_network("198.18.0.0/24")
MGMT_GUEST = ipaddress.ip_interface("198.18.0.1/24")
MGMT_BRIDGE = "lvmgmt"


@dataclasses.dataclass
class Network:
    name: str
    ipv4: ipaddress.IPv4Network
    ipv6: ipaddress.IPv6Network
    bridge: str


@dataclasses.dataclass
class Interface:
    name: str
    network: Network
    ipv4: ipaddress.IPv4Interface
    ipv6: ipaddress.IPv6Interface


@dataclasses.dataclass
class Route:
    to: str  # "default" or a prefix
    via: ipaddress.IPv4Address | ipaddress.IPv6Address

    @property
    def destination(self):
        if self.to != "default":
            return self.to
        return "0.0.0.0/0" if self.via.version == 4 else "::/0"


@dataclasses.dataclass
class Host:
    name: str
    index: int
    groups: list
    interfaces: list
    routes: list
    forwarding: bool
    mgmt: ipaddress.IPv4Interface

    def interface_for(self, gateway):
        for iface in self.interfaces:
            net = iface.network.ipv4 if gateway.version == 4 else iface.network.ipv6
            if gateway in net:
                return iface
        raise LabError(f"host {self.name}: gateway {gateway} is on none of its networks")

    @property
    def addresses(self):
        """Every address the host's own boot config sets (mgmt and data), with prefixes."""
        result = [str(self.mgmt)]
        for iface in self.interfaces:
            result += [str(iface.ipv4), str(iface.ipv6)]
        return result


@dataclasses.dataclass
class Topology:
    name: str
    description: str
    vip: dict
    networks: dict
    hosts: list

    def host(self, name):
        for host in self.hosts:
            if host.name == name:
                return host
        raise LabError(f"no host {name!r} in topology {self.name!r}; hosts: {', '.join(self.host_names)}")

    @property
    def host_names(self):
        return [h.name for h in self.hosts]


def available():
    return sorted(os.path.splitext(os.path.basename(p))[0] for p in glob.glob(os.path.join(TOPOLOGY_DIR, "*.toml")))


def load(name):
    path = os.path.join(TOPOLOGY_DIR, f"{name}.toml")
    if not NAME_RE.match(name) or not os.path.exists(path):
        raise LabError(f"unknown topology {name!r}; available: {', '.join(available())}")
    with open(path, "rb") as handle:
        try:
            data = tomllib.load(handle)
        except tomllib.TOMLDecodeError as exc:
            raise LabError(f"{path}: {exc}") from exc
    try:
        return _parse(name, data)
    except (KeyError, ValueError, TypeError) as exc:
        raise LabError(f"{path}: invalid topology: {exc!r}") from exc


def _parse(name, data):
    networks = {}
    for index, (net_name, spec) in enumerate(data["networks"].items(), start=1):
        _check_name("network", net_name)
        networks[net_name] = Network(net_name, ipaddress.IPv4Network(spec["ipv4"]),
                                     ipaddress.IPv6Network(spec["ipv6"]), f"lvbr{index}")
    hosts = [_parse_host(host_name, spec, index, networks)
             for index, (host_name, spec) in enumerate(data["hosts"].items())]
    vip = {key: str(value) for key, value in data.get("vip", {}).items()}
    for key in ("ipv4", "ipv6"):
        ipaddress.ip_address(vip[key])
    return Topology(name, data.get("description", ""), vip, networks, hosts)


def _parse_host(name, spec, index, networks):
    _check_name("host", name)
    groups = list(spec.get("groups", []))
    for group in groups:
        if group not in KNOWN_GROUPS:
            raise ValueError(f"host {name}: unknown group {group!r} (known: {', '.join(KNOWN_GROUPS)})")
    interfaces = []
    for iface_name, ispec in spec["interfaces"].items():
        if not IFACE_RE.match(iface_name):
            raise ValueError(f"host {name}: interface names are eth1, eth2, ... (got {iface_name!r})")
        net = networks[ispec["network"]]
        interfaces.append(Interface(iface_name, net, _address_in(net.ipv4, ispec["ipv4"], name),
                                    _address_in(net.ipv6, ispec["ipv6"], name)))
    routes = [Route(r["to"], ipaddress.ip_address(r["via"])) for r in spec.get("routes", [])]
    host = Host(name, index, groups, interfaces, routes, bool(spec.get("forwarding", False)),
                ipaddress.ip_interface(f"{MGMT_NET[10 + index]}/{MGMT_NET.prefixlen}"))
    for route in routes:
        host.interface_for(route.via)
    return host


def _address_in(network, address, host):
    iface = ipaddress.ip_interface(f"{address.split('/')[0]}/{network.prefixlen}")
    if iface.ip not in network:
        raise ValueError(f"host {host}: {address} is not in {network}")
    return iface


def _check_name(kind, name):
    if not NAME_RE.match(name):
        raise ValueError(f"{kind} name {name!r} must match {NAME_RE.pattern}")
