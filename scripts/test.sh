#!/usr/bin/env bash
# Fresh Debian 12 to a tested tree, against two libcurls: the system's (7.88 on Debian 12) and 8.x from
# Debian's backports (fetched into build/curl8 by scripts/fetch-curl8.sh; nothing on the system changes).
# Installs what is missing, then for each curl builds and runs the whole suite under ASan+UBSan and the
# multi-threaded tests under TSan, and runs the fuzz targets for a few seconds. Every stage runs even when one
# before it failed (unless it needs that one); a summary of every stage ends the output, and the exit status
# is non-zero if any failed.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/install-deps.sh
source scripts/stages.sh
jobs=$(nproc)

install_packages() { asiocurl_install_deps "${asiocurl_demo_packages[@]}" "${asiocurl_test_packages[@]}"; }

fetch_curl8() {
    local version
    version=$(bash scripts/fetch-curl8.sh)
    echo "libcurl $version in build/curl8 ($(cut -d' ' -f2 build/curl8/packages | sort -u | paste -sd' '))"
}

build() {
    asiocurl_configure "$1"
    cmake --build --preset "$1"
}

# The suite of a build; its first line says which libcurl the tests run against (curl_version_info).
run_tests() {
    local preset=$1
    "build/$preset/test/asiocurl_libcurl_version" | sed 's/^/   /'
    case "$preset" in
        debug*)
            ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
                ctest --preset "$preset" -j "$jobs"
            ;;
        *)
            ctest --preset "$preset" -j "$jobs"
            ;;
    esac
}

# A build and then its tests, the tests skipped if the build failed.
build_and_test() {
    local preset=$1 what=$2
    asiocurl_stage "build $what" build "$preset"
    if [ "$asiocurl_last_status" -eq 0 ]; then
        asiocurl_stage "test  $what" run_tests "$preset"
    else
        asiocurl_stage_skipped "test  $what" "its build failed"
    fi
}

asiocurl_stage "install missing Debian packages" install_packages
if [ "$asiocurl_last_status" -ne 0 ]; then
    asiocurl_summary || exit 1
fi
asiocurl_stage "fetch libcurl 8 from backports" fetch_curl8
curl8_ready=$asiocurl_last_status

build_and_test debug "ASan+UBSan, system libcurl"
if [ "$curl8_ready" -eq 0 ]; then
    build_and_test debug-curl8 "ASan+UBSan, libcurl 8"
else
    asiocurl_stage_skipped "build ASan+UBSan, libcurl 8" "no libcurl 8"
fi

asiocurl_stage "build fuzz targets (clang)" build fuzz
if [ "$asiocurl_last_status" -eq 0 ]; then
    asiocurl_stage "run   fuzz targets, 20 s each" ctest --preset fuzz
else
    asiocurl_stage_skipped "run   fuzz targets" "their build failed"
fi

build_and_test tsan "TSan threaded tests, system libcurl"
if [ "$curl8_ready" -eq 0 ]; then
    build_and_test tsan-curl8 "TSan threaded tests, libcurl 8"
else
    asiocurl_stage_skipped "build TSan threaded tests, libcurl 8" "no libcurl 8"
fi

asiocurl_summary
