#!/usr/bin/env bash
# Every figure of docs/benchmarks.md, measured again on this machine, then the plots:
#   bench/measure.sh            # ~40 minutes on 2 cores; run it on a quiet machine
#   bench/measure.sh --no-pool  # ~30 minutes: the pool's figures (raw/pool-*) are left as they are
#   bench/plot.py               # the plots alone, from the raw output already in the tree
# Builds the benchmark clients (Release, no sanitizers) against both libcurls, runs ../shared/bench's
# compare.py (median of 5) and instructions.py, bench/paired.py and bench/trickle_sweep.py, writing their
# output to docs/benchmarks/raw/. Installs what it needs first (scripts/install-deps.sh: the demo and bench
# lists; libcurl 8 through scripts/fetch-curl8.sh). BENCH_* variables pass through to ../shared/bench.
set -euo pipefail
cd "$(dirname "$0")/.."
shared=${BENCH_SHARED:-../shared/bench}
raw=docs/benchmarks/raw
mkdir -p "$raw"
source scripts/install-deps.sh
source scripts/stages.sh
asiocurl_install_deps "${asiocurl_demo_packages[@]}" "${asiocurl_bench_packages[@]}"
[ -d build/curl8/root/usr ] || bash scripts/fetch-curl8.sh

clients=(asiocurl_client asiocurl_fetch_client asiocurl_stream_client asiocurl_fetch_share_client)
for preset in release release-curl8; do
    asiocurl_configure "$preset"
    cmake --build --preset "$preset" --target "${clients[@]}" asiocurl_pool_client tls_origin asiocurl_http_client \
        asiocurl_http_client_stats
done

# compare.py exits 1 when any client failed a workload (beast_client fails h1-16m-c4 by design: its
# body limit); the table it printed says which, so that is a result, not a reason to stop. Anything else is.
tolerate_failed_runs() {
    local status=$?
    [ "$status" -eq 1 ] || exit "$status"
}

measure() {  # measure LABEL BUILD_DIR [BENCH_CURL_PREFIX]
    local label=$1 dir=$2 prefix=${3:-}
    local args=()
    for c in "${clients[@]}"; do args+=(--client "$dir/bench/$c"); done
    local env=(BENCH_BUILD="${BENCH_BUILD:-/tmp/asiocurl-bench-baselines}-$label")
    [ -n "$prefix" ] && env+=(BENCH_CURL_PREFIX="$prefix")
    echo "== curl $label: compare.py"
    env "${env[@]}" python3 "$shared/compare.py" "${args[@]}" --reps 5 | tee "$raw/compare-$label.txt" ||
        tolerate_failed_runs
    echo "== curl $label: instructions.py"
    for workload in h1-1k-c16 h2-1k-c16; do
        env "${env[@]}" python3 "$shared/instructions.py" --no-serve "${args[@]}" --workload "$workload"
    done | tee "$raw/instructions-$label.txt"
    echo "== curl $label: what an http::client call costs over a fetch"
    env "${env[@]}" python3 "$shared/instructions.py" --no-serve --client "$dir/bench/asiocurl_fetch_client" \
        --client "$dir/bench/asiocurl_http_client" --client "$dir/bench/asiocurl_http_client_stats" \
        --workload h1-1k-c16 | tee "$raw/client-instructions-$label.txt"
    echo "== curl $label: paired.py (the scatter of the 1 KiB ratios, 15 rounds)"
    for workload in h1-1k-c16 h2-1k-c16; do
        env "${env[@]}" python3 bench/paired.py --no-serve "${args[@]}" --workload "$workload"
    done | tee "$raw/paired-$label.txt"
    echo "== curl $label: trickle_sweep.py"
    env "${env[@]}" python3 bench/trickle_sweep.py --no-serve --client "$dir/bench/asiocurl_client" |
        tee "$raw/trickle-$label.txt"
}

# The pool: 1 and 2 threads by host (the default), 2 round-robin, beside the fetch client; then the
# Connection: close TLS workload (sessions resumed through the pool's share, or every handshake full).
measure_pool() {  # measure_pool LABEL BUILD_DIR [BENCH_CURL_PREFIX]
    local label=$1 dir=$2 prefix=${3:-}
    local named
    named=$(mktemp -d)
    for config in "1t:--threads 1" "2t:--threads 2" "2t_rr:--threads 2 --round-robin"; do
        # The client names itself as invoked: one name a configuration.
        printf '#!/bin/bash\nexec -a "$0" %s "$@" %s\n' "$PWD/$dir/bench/asiocurl_pool_client" "${config#*:}" \
            >"$named/asiocurl_pool_${config%%:*}"
        chmod +x "$named/asiocurl_pool_${config%%:*}"
    done
    local env=(BENCH_BUILD="${BENCH_BUILD:-/tmp/asiocurl-bench-baselines}-$label")
    [ -n "$prefix" ] && env+=(BENCH_CURL_PREFIX="$prefix")
    echo "== curl $label: the pool, compare.py"
    env "${env[@]}" python3 "$shared/compare.py" --client "$named/asiocurl_pool_1t" --client \
        "$named/asiocurl_pool_2t" --client "$named/asiocurl_pool_2t_rr" --client "$dir/bench/asiocurl_fetch_client" \
        --only h1-1k-c16,h1-1k-c256,h2-1k-c16 --reps 5 | tee "$raw/pool-compare-$label.txt" || tolerate_failed_runs
    echo "== curl $label: the pool, Connection: close over TLS"
    {
        BENCH_BIN=$dir/bench bash bench/tls_close.sh
        BENCH_BIN=$dir/bench bash bench/tls_close.sh --tls12
    } 2>&1 | tee "$raw/pool-tls-$label.txt"
    rm -r "$named"
}

measure 7.88 build/release
measure 8 build/release-curl8 "$PWD/build/curl8/root/usr"
if [ "${1:-}" != --no-pool ]; then
    measure_pool 7.88 build/release
    measure_pool 8 build/release-curl8 "$PWD/build/curl8/root/usr"
fi
{
    echo "date: $(date -u +%Y-%m-%dT%H:%MZ)"
    echo "commit: $(git rev-parse --short HEAD)"
    echo "cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //') ($(nproc) cores)"
    echo "kernel: $(uname -r)"
    echo "nginx: $(nginx -v 2>&1 | cut -d/ -f2)"
    echo "boost: $(grep -m1 'define BOOST_LIB_VERSION' /usr/include/boost/version.hpp | cut -d'"' -f2)"
    echo "curl 7.88: $(dpkg-query -W -f='${Version}' libcurl4-openssl-dev 2>/dev/null)"
    echo "curl 8: $(sed -n 's/^Version: //p' build/curl8/root/usr/lib/x86_64-linux-gnu/pkgconfig/libcurl.pc)"
} >"$raw/machine.txt"
/usr/bin/python3 bench/plot.py
