#!/usr/bin/env bash
# Fresh Debian 12 to a tested tree: installs what is missing, then builds and runs the whole suite under
# ASan+UBSan, the fuzz targets for a few seconds, then the multi-threaded tests under TSan.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/install-deps.sh
asiocurl_install_deps
jobs=$(nproc)

echo "== ASan+UBSan: the whole suite"
cmake --preset debug >/dev/null
cmake --build --preset debug
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    ctest --preset debug -j "$jobs"

echo "== libFuzzer (clang): the request and response-head parsing, briefly"
cmake --preset fuzz >/dev/null
cmake --build --preset fuzz
ctest --preset fuzz

echo "== TSan: the multi-threaded tests"
cmake --preset tsan >/dev/null
cmake --build --preset tsan
ctest --preset tsan -j "$jobs"
