#!/bin/bash
# The Connection: close TLS workload: CPU per request of the pool client with sessions resumed (through
# the pool's share) and with every handshake full, against bench/tls_origin. Usage: bench/tls_close.sh [--tls12]
# (build the release preset first).
B=${BENCH_BIN:-$(dirname "$0")/../build/release/bench}
coproc ORIGIN { $B/tls_origin $1; }
read URL CA <&"${ORIGIN[0]}"
for rep in 1 2 3; do
  for v in "" "--full-handshakes"; do
    /usr/bin/time -f "cpu %U %S" $B/asiocurl_pool_client "$URL/close/1024" 3000 16 --close --cafile "$CA" $1 $v 2>&1 | grep -E "req_per_s|cpu|fail" | sed 's/.*req_per_s=\([0-9]*\).*failed=\([0-9]*\)/rps=\1 failed=\2/' | tr '\n' ' '; echo " [$1 $v]"
  done
done
exec {ORIGIN[1]}>&-
wait
