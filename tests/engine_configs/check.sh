#!/usr/bin/env bash
# The keepalived and ldirectord configurations rendered from a description with every check type
# (sample.py) must pass the daemons' own parsers: `keepalived --config-test` exits 0, `ldirectord CONFIG status`
# exits 3 (parsed, not running; a configuration error exits 2); the scale-out mode's keepalived.conf (quorum and
# its hooks) and BIRD configuration pass `keepalived --config-test` and `bird -p`. Debian's packages are unpacked into a cache
# (no install, no service is started): the syntax is proven here, the behaviour only in the lab.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
cache=${LVS_ENGINE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/lvs-cluster/engines}
packages=(keepalived libnl-3-200 libnl-genl-3-200 libnftnl11 libsnmp40 libpci3 libwrap0 ipvsadm ldirectord
  libsocket6-perl libio-socket-inet6-perl libmailtools-perl libtimedate-perl libwww-perl libhttp-message-perl
  liburi-perl libhttp-date-perl libencode-locale-perl libio-html-perl liblwp-mediatypes-perl libnet-http-perl
  libtry-tiny-perl libhttp-cookies-perl libhttp-negotiate-perl libfile-listing-perl libwww-robotrules-perl
  libclone-perl libhtml-parser-perl libhtml-tagset-perl libnet-dns-perl libdigest-hmac-perl bird2 libssh-gcrypt-4)
if [ ! -x "$cache/root/usr/sbin/keepalived" ] || [ ! -f "$cache/root/usr/sbin/ldirectord" ] \
   || [ ! -x "$cache/root/usr/sbin/bird" ]; then
  mkdir -p "$cache/debs" "$cache/root"
  (cd "$cache/debs" && apt-get download "${packages[@]}" >/dev/null 2>&1)
  for deb in "$cache"/debs/*.deb; do dpkg -x "$deb" "$cache/root"; done
fi
root=$cache/root
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# keepalived checks that the VRRP interface exists and can multicast: use this machine's default-route interface.
interface=$(ip -o route show default | awk '{for (i = 1; i < NF; i++) if ($i == "dev") print $(i + 1)}' | head -n 1)
python3 "$here/sample.py" keepalived "${interface:-eth0}" > "$work/keepalived.conf"
python3 "$here/sample.py" ldirectord "${interface:-eth0}" > "$work/ldirectord.cf"

LD_LIBRARY_PATH=$root/usr/lib/x86_64-linux-gnu:$root/lib/x86_64-linux-gnu \
  "$root/usr/sbin/keepalived" --config-test --use-file "$work/keepalived.conf" --log-console --log-detail
echo "keepalived --config-test: ok"

python3 "$here/sample.py" ecmp-keepalived director1 > "$work/keepalived-ecmp.conf"
LD_LIBRARY_PATH=$root/usr/lib/x86_64-linux-gnu:$root/lib/x86_64-linux-gnu \
  "$root/usr/sbin/keepalived" --config-test --use-file "$work/keepalived-ecmp.conf" --log-console --log-detail
grep -q "quorum_up" "$work/keepalived-ecmp.conf"
echo "keepalived --config-test (scale-out): ok"
python3 "$here/sample.py" ecmp-bird director1 > "$work/bird.conf"
LD_LIBRARY_PATH=$root/usr/lib/x86_64-linux-gnu:$root/lib/x86_64-linux-gnu "$root/usr/sbin/bird" -p -c "$work/bird.conf"
echo "bird -p: ok"

# ldirectord looks for ipvsadm in /sbin and /usr/sbin, or (with -d) in the working directory.
status=0
(cd "$root/sbin" && PERL5LIB=$root/usr/lib/x86_64-linux-gnu/perl5/5.36:$root/usr/share/perl5 \
  perl "$root/usr/sbin/ldirectord" -d "$work/ldirectord.cf" status > "$work/ldirectord.out" 2>&1) || status=$?
if [ "$status" -ne 3 ]; then
  grep -E 'Error|exit_status' "$work/ldirectord.out" >&2 || cat "$work/ldirectord.out" >&2
  echo "ldirectord status: exit $status, wanted 3 (parsed, not running)" >&2
  exit 1
fi
echo "ldirectord status: ok (parsed)"
