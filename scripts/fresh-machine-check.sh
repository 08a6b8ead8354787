#!/usr/bin/env bash
# Does what a newcomer does, on a fresh minimal Debian: debootstraps `--variant=minbase` of this machine's
# release into a folder (from the mirror this machine's apt already uses), binds /proc, /sys and /dev, copies
# a clean clone of this repository (its HEAD: commit first) and ../shared into it, and runs inside the chroot:
#   1. bash scripts/demo.sh as a user without root or sudo: must refuse in one line, exit non-zero;
#   2. bash scripts/demo.sh as root, as the README says: must build and pass, installing only what the demo
#      needs (no clang, nginx, tinyproxy, GoogleTest);
#   3. bash scripts/test.sh as root, as the README says: must pass against both curls;
# and after each, that no nginx or tinyproxy runs or is enabled as a system service. Prints a report.
#
#   bash scripts/fresh-machine-check.sh [DIR]    as root; DIR defaults to build/fresh-machine (replaced)
# The chroot stays in DIR for a look afterwards (logs in DIR/check-logs); remove it with rm -rf once its mounts
# are gone (the script unmounts them when it ends).
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD
dir=$(realpath -m "${1:-build/fresh-machine}")
source scripts/debian-mirror.sh
source scripts/install-deps.sh
source scripts/stages.sh

if [ "$(id -u)" -ne 0 ]; then
    echo "fresh-machine-check: needs root (debootstrap, chroot, mounts): sudo bash $0" >&2
    exit 1
fi
codename=$(asiocurl_codename)
mirror=$(asiocurl_debian_mirror "$codename")
if [ -z "$codename" ] || [ -z "$mirror" ]; then
    echo "fresh-machine-check: no apt source for this machine's release ('$codename')" >&2
    exit 1
fi
case "$dir" in
    / | /work | "$repo" | "$repo"/.. | "$HOME") echo "fresh-machine-check: refusing DIR=$dir" >&2; exit 1 ;;
esac

unmount_all() {
    local target
    for target in proc sys dev; do
        mountpoint -q "$dir/$target" 2>/dev/null && umount -R -l "$dir/$target"
    done
    return 0
}
trap unmount_all EXIT

prepare_chroot() {
    asiocurl_install_deps debootstrap
    unmount_all
    rm -rf --one-file-system "$dir"
    mkdir -p "$dir"
    echo "debootstrap --variant=minbase $codename from $mirror (log: $dir.debootstrap.log)"
    debootstrap --variant=minbase "$codename" "$dir" "$mirror" >"$dir.debootstrap.log" 2>&1
    cp /etc/resolv.conf "$dir/etc/resolv.conf"  # the mirror is reached by name
    mount -t proc proc "$dir/proc"
    # rslave: the unmount at the end cannot propagate back to the host's /sys and /dev.
    mount --rbind /sys "$dir/sys" && mount --make-rslave "$dir/sys"
    mount --rbind /dev "$dir/dev" && mount --make-rslave "$dir/dev"
    mkdir -p "$dir/work" "$dir/check-logs"
    git clone -q "$repo" "$dir/work/asiocurl"
    git -C "$dir/work/asiocurl" checkout -q "$(git -C "$repo" rev-parse HEAD)"
    cp -a "$repo/../shared" "$dir/work/shared"
    chroot "$dir" useradd -m newcomer
    echo "chroot ready: $(du -sh --exclude=proc --exclude=sys --exclude=dev "$dir" | cut -f1)," \
        "clone of $(git -C "$repo" rev-parse --short HEAD)"
}

# Runs a command in the chroot with a clean environment, from the clone's root, as the README says.
in_chroot() {
    local user=$1 home=/root spec=0:0
    shift
    if [ "$user" != root ]; then
        home=/home/$user
        spec=$(chroot "$dir" id -u "$user"):$(chroot "$dir" id -g "$user")
    fi
    chroot --userspec="$spec" "$dir" /usr/bin/env -i HOME="$home" USER="$user" LANG=C.UTF-8 \
        PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin bash -c "cd /work/asiocurl && $*"
}

# The output of a run goes to the terminal and to a log in the chroot.
run_logged() {
    local name=$1
    shift
    in_chroot "$@" 2>&1 | tee "$dir/check-logs/$name.log"
    return "${PIPESTATUS[0]}"
}

without_root() {
    local status=0
    in_chroot newcomer bash scripts/demo.sh >"$dir/check-logs/demo-without-root.log" 2>&1 || status=$?
    sed 's/^/   | /' "$dir/check-logs/demo-without-root.log"
    if [ "$status" -eq 0 ]; then
        echo "   demo.sh without root and sudo exited 0"
        return 1
    fi
    echo "   demo.sh without root and sudo: exit $status, as it should"
}

# No nginx or tinyproxy running from inside the chroot, none enabled there (systemd units, SysV links), no
# policy-rc.d left behind.
no_services() {
    local found=0 pid
    for pid in $(pgrep -x 'nginx|tinyproxy' || true); do
        if [ "$(readlink "/proc/$pid/root")" = "$dir" ]; then
            echo "   running in the chroot: $(ps -o pid=,args= -p "$pid")"
            found=1
        fi
    done
    local enabled
    enabled=$(find "$dir/etc/systemd/system" "$dir"/etc/rc?.d -name '*nginx*' -o -name '*tinyproxy*' 2>/dev/null |
        grep -E '\.wants/|/rc.\.d/S' || true)
    if [ -n "$enabled" ]; then
        echo "   enabled as services:" $enabled
        found=1
    fi
    if [ -e "$dir/usr/sbin/policy-rc.d" ]; then
        echo "   policy-rc.d left behind"
        found=1
    fi
    [ "$found" -eq 0 ] && echo "   no nginx or tinyproxy running or enabled"
    [ "$found" -eq 0 ]
}

demo_installed_only_the_demo() {
    local extra
    extra=$(chroot "$dir" dpkg-query -W -f='${Package}\n' clang libgtest-dev libgmock-dev nginx tinyproxy \
        libclang-rt-14-dev 2>/dev/null || true)
    echo "   packages installed in the chroot: $(chroot "$dir" dpkg-query -W -f='.\n' | wc -l)," \
        "$(du -sh --exclude=proc --exclude=sys --exclude=dev --exclude=work "$dir" | cut -f1) without /work"
    if [ -n "$extra" ]; then
        echo "   the demo installed test packages:" $extra
        return 1
    fi
    echo "   none of clang, GoogleTest, nginx, tinyproxy installed"
}

demo_as_root() {
    run_logged demo root bash scripts/demo.sh
    demo_installed_only_the_demo
    no_services
}

test_as_root() {
    run_logged test root bash scripts/test.sh
    no_services
}

asiocurl_stage "fresh chroot ($codename minbase) and a clean clone" prepare_chroot
[ "$asiocurl_last_status" -eq 0 ] || { asiocurl_summary; exit 1; }
asiocurl_stage "newcomer without root: bash scripts/demo.sh" without_root
asiocurl_stage "root: bash scripts/demo.sh" demo_as_root
asiocurl_stage "root: bash scripts/test.sh" test_as_root
asiocurl_summary
