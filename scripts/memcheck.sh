#!/usr/bin/env bash
# A second opinion on the lifecycle tests: the regression tests and the whole lifecycle matrix under valgrind
# memcheck (which sees what ASan's interceptors miss), built without sanitizers. Not part of the test command:
# it takes about half an hour on two cores. Usage: bash scripts/memcheck.sh [gtest filter]
set -euo pipefail
cd "$(dirname "$0")/.."
command -v valgrind >/dev/null || { echo "memcheck.sh: needs valgrind (apt-get install valgrind)" >&2; exit 1; }
filter=${1:-"lifecycle.*:lifecycle_teardown.*:lifecycle_cancellation.*:*lifecycle_multi_kill.*:matrix/*"}
cmake --preset memcheck >/dev/null
cmake --build --preset memcheck --target asiocurl_lifecycle_tests
log=build/memcheck/memcheck.log
valgrind --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite,indirect --track-fds=no \
    --log-file="$log" build/memcheck/test/asiocurl_lifecycle_tests --gtest_filter="$filter" --gtest_brief=1 \
    && status=0 || status=$?
grep -E "ERROR SUMMARY|definitely lost|indirectly lost" "$log" | tail -3
echo "valgrind's log: $log (exit $status)"
exit "$status"
