# Guest-side library of the lab, sent over SSH together with a generated plan (see hosts.py).
# Lab hosts are systemd-nspawn containers; each has a network namespace /run/netns/NAME whose interfaces
# (veth pairs, like NICs) are wired to bridges in the guest, and an overlayfs root (lower: the guest's /).
set -eu
LAB=/var/lib/lvs-lab   # a tmpfs: upper dirs must not live on the lower layer's filesystem

say() { echo "  [guest] $*"; }

guest_prepare() {
  mkdir -p /run/systemd/nspawn "$LAB"
  mountpoint -q "$LAB" || mount -t tmpfs -o mode=0755,size=2G lvs-lab "$LAB"
  mkdir -p "$LAB/hosts" /var/cache/lvs-lab-pycode
  # Lab hosts cannot load modules, and FOU's generic netlink family (GUE receive, `ip fou`) is not autoloaded.
  modprobe fou 2>/dev/null || true
  # Bridges must switch frames without handing them to iptables/nftables.
  if [ -d /proc/sys/net/bridge ]; then
    for f in /proc/sys/net/bridge/bridge-nf-call-*; do echo 0 > "$f"; done
  fi
}

bridge_ensure() {  # NAME [ADDRESS/PREFIX]
  local br=$1 addr=${2:-}
  ip link show dev "$br" >/dev/null 2>&1 || ip link add "$br" type bridge mcast_snooping 0
  # The guest takes no part in lab networks: no IPv6 (not even link-local) on the bridges.
  sysctl -qw "net.ipv6.conf.$br.disable_ipv6=1"
  if [ -n "$addr" ]; then ip addr replace "$addr" dev "$br"; fi
  ip link set "$br" up
}

host_stop() {  # NAME graceful|kill
  local unit=labhost-$1
  if systemctl is-active -q "$unit"; then
    if [ "$2" = kill ]; then systemctl kill -s KILL "$unit" || true; fi
    timeout 40 systemctl stop "$unit" || { systemctl kill -s KILL "$unit" || true; systemctl stop "$unit"; }
  fi
  systemctl reset-failed "$unit" >/dev/null 2>&1 || true
}

host_unwire() {  # NAME INDEX
  local link
  # Deleting the guest-side veth ends removes both ends at once; netns cleanup alone is asynchronous.
  for link in $(ip -o link show | awk -F': ' '{print $2}' | cut -d@ -f1 | grep "^lv$2[me]" || true); do
    ip link del "$link" 2>/dev/null || true
  done
  ip netns del "$1" 2>/dev/null || true
}

host_wire() {  # NAME INDEX IFNAME=BRIDGE=MAC...
  local name=$1 idx=$2 spec ifname br mac outer
  shift 2
  ip netns add "$name"
  for spec in "$@"; do
    IFS== read -r ifname br mac <<<"$spec"
    if [ "$ifname" = mgmt0 ]; then outer=lv${idx}m; else outer=lv${idx}e${ifname#eth}; fi
    # The host side is created inside its namespace with a fixed MAC, like a NIC; its OS brings it up.
    ip link add "$outer" type veth peer name "$ifname" address "$mac" netns "$name"
    ip link set "$outer" master "$br" up
    # Management ports are isolated: hosts reach the guest (SSH jump) but not each other over mgmt.
    if [ "$ifname" = mgmt0 ]; then bridge link set dev "$outer" isolated on; fi
  done
}

host_mount() {  # NAME
  local d=$LAB/hosts/$1
  mkdir -p "$d/upper" "$d/work" "$d/root"
  mountpoint -q "$d/root" || mount -t overlay "lab-$1" -o "lowerdir=/,upperdir=$d/upper,workdir=$d/work" "$d/root"
}

host_start() {  # NAME
  systemd-run --quiet --unit="labhost-$1" --description="lvs-lab host $1" \
    -p Delegate=yes -p KillMode=mixed -p TimeoutStopSec=30 \
    --setenv=SYSTEMD_NSPAWN_API_VFS_WRITABLE=network \
    systemd-nspawn --quiet --keep-unit --register=no --boot --machine="$1" \
      --directory="$LAB/hosts/$1/root" --network-namespace-path="/run/netns/$1" \
      --capability=CAP_NET_ADMIN,CAP_IPC_LOCK --bind=/var/cache/lvs-lab-pycode \
      --resolv-conf=off --timezone=off --link-journal=no --console=passive
}

host_wait() {  # NAME MGMT_IP TIMEOUT ADDRESS/PREFIX...
  local name=$1 ip=$2 deadline=$(( $(date +%s) + $3 )) missing a
  shift 3
  while :; do
    if ! systemctl is-active -q "labhost-$name"; then
      say "$name: container stopped; its log:"; journalctl -u "labhost-$name" -n 30 --no-pager || true
      return 1
    fi
    missing=""
    if timeout 2 bash -c "exec 3<>/dev/tcp/$ip/22" 2>/dev/null; then
      for a in "$@"; do
        ip -n "$name" -o addr show | grep -qwF -- "$a" || missing="$missing $a"
      done
      [ -z "$missing" ] && return 0
    else
      missing="sshd"
    fi
    if [ "$(date +%s)" -ge "$deadline" ]; then
      say "$name: not ready after $3 s (missing:$missing); its log:"
      journalctl -u "labhost-$name" -n 30 --no-pager || true
      return 1
    fi
    sleep 0.5
  done
}

teardown_all() {
  local unit m link ns
  for unit in $(systemctl list-units --all --plain --no-legend 'labhost-*' | awk '{print $1}'); do
    systemctl kill -s KILL "$unit" 2>/dev/null || true
    systemctl stop "$unit" 2>/dev/null || true
    systemctl reset-failed "$unit" 2>/dev/null || true
  done
  for m in "$LAB"/hosts/*/root; do
    if mountpoint -q "$m"; then umount "$m" || umount -l "$m"; fi
  done
  rm -rf "${LAB:?}"/hosts/*
  for link in $(ip -o link show | awk -F': ' '{print $2}' | cut -d@ -f1 | grep -E '^lv[0-9]|^lvbr' || true); do
    ip link del "$link" 2>/dev/null || true
  done
  for ns in $(ip netns list | awk '{print $1}'); do ip netns del "$ns"; done
  rm -f "$LAB/topology"
}

run_parallel() {  # FUNCTION-NAME... : run each in the background, fail if any failed
  local pids="" pid rc=0 f
  for f in "$@"; do "$f" & pids="$pids $!"; done
  for pid in $pids; do wait "$pid" || rc=1; done
  return $rc
}

host_status() {  # NAME MGMT_IP
  local active=no ssh=no
  systemctl is-active -q "labhost-$1" && active=yes
  timeout 2 bash -c "exec 3<>/dev/tcp/$2/22" 2>/dev/null && ssh=yes
  echo "host=$1 running=$active sshd=$ssh"
}
