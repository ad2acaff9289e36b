# -*- coding: utf-8 -*-
# Copyright (c) 2026, lvs.cluster contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Print the IPVS table as JSON, read with pyroute2: an independent reader to check lvs.cluster against.

Keys are ipvsadm's notation ("TCP 192.0.2.10:80", "FWM 10 IPv4"); reals are listed for address services
(pyroute2 cannot address a fwmark service in a destination dump).
"""
import json
import socket

from pyroute2 import IPVS, IPVSService

PROTOCOLS = {socket.IPPROTO_TCP: "TCP", socket.IPPROTO_UDP: "UDP", 132: "SCTP"}
FORWARDING = {0: "nat", 1: "local", 2: "tun", 3: "dr", 4: "bypass"}
TUNNELS = {0: "ipip", 1: "gue", 2: "gre"}


def attr(nla, name):
    getter = getattr(nla, "get_attr", None) or nla.get
    return getter(name)


def endpoint(address, port):
    return "[%s]:%d" % (address, port) if ":" in address else "%s:%d" % (address, port)


def main():
    ipvs = IPVS()
    table = {}
    for message in ipvs.service("dump"):
        service = attr(message, "IPVS_CMD_ATTR_SERVICE")
        family = "ipv6" if attr(service, "IPVS_SVC_ATTR_AF") == socket.AF_INET6 else "ipv4"
        flags = attr(service, "IPVS_SVC_ATTR_FLAGS")
        bits = flags["flags"] if flags is not None else 0
        entry = {
            "family": family,
            "scheduler": attr(service, "IPVS_SVC_ATTR_SCHED_NAME"),
            "persistent": attr(service, "IPVS_SVC_ATTR_TIMEOUT") if bits & 0x1 else None,
            "one_packet": bool(bits & 0x4),
            "sched_flag_1": bool(bits & 0x8),
            "sched_flag_2": bool(bits & 0x10),
            "pe_name": attr(service, "IPVS_SVC_ATTR_PE_NAME"),
            "reals": {},
        }
        fwmark = attr(service, "IPVS_SVC_ATTR_FWMARK")
        if fwmark:
            name = "FWM %d %s" % (fwmark, "IPv6" if family == "ipv6" else "IPv4")
        else:
            protocol = PROTOCOLS.get(attr(service, "IPVS_SVC_ATTR_PROTOCOL"), "?")
            address = attr(service, "IPVS_SVC_ATTR_ADDR")
            name = "%s %s" % (protocol, endpoint(address, attr(service, "IPVS_SVC_ATTR_PORT")))
            for dmessage in ipvs.dest("dump", service=IPVSService.from_message(message)):
                dest = attr(dmessage, "IPVS_CMD_ATTR_DEST")
                method = (attr(dest, "IPVS_DEST_ATTR_FWD_METHOD") or 0) & 0x7
                real = {
                    "forwarding": FORWARDING.get(method, str(method)),
                    "weight": attr(dest, "IPVS_DEST_ATTR_WEIGHT"),
                    "u_threshold": attr(dest, "IPVS_DEST_ATTR_U_THRESH"),
                    "l_threshold": attr(dest, "IPVS_DEST_ATTR_L_THRESH"),
                }
                if real["forwarding"] == "tun":
                    real["tun_type"] = TUNNELS.get(attr(dest, "IPVS_DEST_ATTR_TUN_TYPE") or 0)
                    # pyroute2 decodes this big-endian attribute in host order
                    real["tun_port"] = socket.ntohs(attr(dest, "IPVS_DEST_ATTR_TUN_PORT") or 0)
                entry["reals"][endpoint(attr(dest, "IPVS_DEST_ATTR_ADDR"), attr(dest, "IPVS_DEST_ATTR_PORT"))] = real
        table[name] = entry
    ipvs.close()
    print(json.dumps(table, sort_keys=True))


if __name__ == "__main__":
    main()
