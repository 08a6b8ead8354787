#!/usr/bin/env bash
# Installs the Debian 12 packages asiocurl needs that are not installed yet (as root, or with sudo).
# Sourced by demo.sh (the library and the demo), test.sh (those, plus what the tests need) and
# bench/measure.sh (the benchmarks).
#
# Quiet: one line says what is installed; apt's output goes to build/logs/apt-install.log, shown only on
# failure. Nothing is started or enabled as a system service: while installing, a policy-rc.d answers
# "not now" to every service start (unless the machine has one of its own), and the services of packages this
# run installed (nginx, tinyproxy) are disabled afterwards. The tests start their own servers on ephemeral
# loopback ports.
set -euo pipefail

# The library (curl, Boost.Asio/Beast/URL, a C++20 compiler, CMake and Ninja), the demo's loopback server
# (OpenSSL) and the CA certificates that a demo of https:// URLs (and libcurl's default trust store) needs.
asiocurl_demo_packages=(g++ cmake ninja-build pkg-config libboost1.81-dev libboost-url1.81-dev libcurl4-openssl-dev
                        libssl-dev ca-certificates)
# The tests: GoogleTest, the servers they start (nginx for HTTP/2, tinyproxy), clang for the fuzz targets,
# Boost.JSON for the service client example they run.
asiocurl_test_packages=(libgtest-dev libgmock-dev nginx tinyproxy clang libclang-rt-14-dev libboost-json1.81-dev)
# The benchmarks (bench/measure.sh): nginx to serve, callgrind and strace for instructions.py, matplotlib for
# bench/plot.py.
asiocurl_bench_packages=(nginx valgrind strace python3-matplotlib)
# Packages whose installation registers a system service, which this script then disables again.
asiocurl_service_packages=(nginx tinyproxy)

asiocurl_missing_packages() {
    local package
    for package in "$@"; do
        dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || echo "$package"
    done
}

# Disables the system service of a package this run installed: systemd's unit (enabled by the package's
# postinst whether or not systemd runs) and the SysV links.
asiocurl_disable_service() {
    local name=$1
    if command -v deb-systemd-helper >/dev/null 2>&1; then
        "${asiocurl_sudo[@]}" deb-systemd-helper disable "$name.service" || true
    fi
    if command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]; then
        "${asiocurl_sudo[@]}" systemctl disable --now "$name.service" || true
    fi
    if command -v update-rc.d >/dev/null 2>&1 && [ -e "/etc/init.d/$name" ]; then
        "${asiocurl_sudo[@]}" update-rc.d "$name" disable || true
    fi
}

asiocurl_install_deps() {
    local missing
    mapfile -t missing < <(asiocurl_missing_packages "$@")
    [ ${#missing[@]} -eq 0 ] && return 0
    asiocurl_sudo=()
    if [ "$(id -u)" -ne 0 ]; then
        if ! command -v sudo >/dev/null 2>&1; then
            echo "asiocurl: missing Debian packages; as root run: apt-get install --no-install-recommends" \
                "${missing[*]}   (or run this script as root, or install sudo)" >&2
            return 1
        fi
        asiocurl_sudo=(sudo)
    fi
    local log_dir=$PWD/build/logs
    mkdir -p "$log_dir"
    local log=$log_dir/apt-install.log
    echo "installing ${#missing[@]} Debian packages: ${missing[*]} (log: $log)"

    local policy=/usr/sbin/policy-rc.d own_policy=0
    if [ ! -e "$policy" ]; then
        own_policy=1
        local script='#!/bin/sh\n# scripts/install-deps.sh of asiocurl: no service starts while it installs\nexit 101\n'
        "${asiocurl_sudo[@]}" sh -c "printf '$script' >$policy && chmod 755 $policy"
        trap '"${asiocurl_sudo[@]}" rm -f /usr/sbin/policy-rc.d' EXIT
    fi
    local status=0
    {
        "${asiocurl_sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update &&
            "${asiocurl_sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
                "${missing[@]}"
    } >"$log" 2>&1 || status=$?
    local package service
    for package in "${missing[@]}"; do
        for service in "${asiocurl_service_packages[@]}"; do
            [ "$package" = "$service" ] && asiocurl_disable_service "$service" >>"$log" 2>&1
        done
    done
    if [ "$own_policy" -eq 1 ]; then
        "${asiocurl_sudo[@]}" rm -f "$policy"
        trap - EXIT
    fi
    if [ "$status" -ne 0 ]; then
        echo "asiocurl: installing the packages failed (exit $status); the end of $log:" >&2
        tail -n 15 "$log" >&2
        return "$status"
    fi
}
