#!/usr/bin/env bash
# Fresh Debian 12 to a running demo: installs what the library and the demo need (not the test toolchain),
# builds (release, the system's libcurl), runs the demo. Arguments go to the demo: none for the loopback run,
# or URLs to fetch instead.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/install-deps.sh
source scripts/stages.sh

build_demo() {
    asiocurl_configure release
    cmake --build --preset release --target asiocurl_demo
}

asiocurl_stage "install missing Debian packages" asiocurl_install_deps "${asiocurl_demo_packages[@]}"
[ "$asiocurl_last_status" -eq 0 ] || exit 1
asiocurl_stage "build the demo (release)" build_demo
[ "$asiocurl_last_status" -eq 0 ] || exit 1
echo "== run the demo"
exec ./build/release/examples/asiocurl_demo "$@"
