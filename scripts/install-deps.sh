#!/usr/bin/env bash
# Installs the Debian 12 packages asiocurl needs that are not installed yet (as root, or with sudo).
# Sourced by demo.sh and test.sh.
set -euo pipefail

asiocurl_packages=(g++ cmake ninja-build pkg-config libboost1.81-dev libcurl4-openssl-dev libssl-dev
                   libgtest-dev libgmock-dev nginx tinyproxy clang libclang-rt-14-dev)

asiocurl_install_deps() {
    local missing=()
    for package in "${asiocurl_packages[@]}" "$@"; do
        dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    local sudo=()
    [ "$(id -u)" -eq 0 ] || sudo=(sudo)
    echo "installing: ${missing[*]}"
    "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq
    "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
}
