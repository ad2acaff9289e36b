#!/bin/sh
# Samples a real server's weights every 0.3 s until STOP_FILE exists (at most 2,000 samples), one line each:
# "<weights in keepalived.conf>|<weights in the kernel>", e.g. "1 1|1 1"; then "END".
# Usage: watch_weights.sh ADDRESS KEEPALIVED_CONF STOP_FILE
address=$1 conf=$2 stop=$3
i=0
while [ ! -e "$stop" ] && [ "$i" -lt 2000 ]; do
  i=$((i + 1))
  in_conf=$(awk -v real="real_server $address " 'index($0, real) { found = 1 } found && $1 == "weight" { printf "%s ", $2; found = 0 }' "$conf")
  in_kernel=$(ipvsadm -Sn | awk -v real="-r $address:" 'index($0, real) { printf "%s ", $NF }')
  echo "${in_conf% }|${in_kernel% }"
  sleep 0.3
done
echo END
