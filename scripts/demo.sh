#!/usr/bin/env bash
# Fresh Debian 12 to a running demo: installs what is missing, builds (release), runs the demo.
# Arguments go to the demo: none for the loopback run, or URLs to fetch instead.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/install-deps.sh
asiocurl_install_deps
cmake --preset release >/dev/null
cmake --build --preset release --target asiocurl_demo
exec ./build/release/examples/asiocurl_demo "$@"
