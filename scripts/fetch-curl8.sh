#!/usr/bin/env bash
# Fetches libcurl 8.x from Debian's backports of this release into build/curl8/root, for the *-curl8 presets.
# Nothing on the system changes: the mirror is the one this machine's apt sources already name (apt itself
# says which: scripts/debian-mirror.sh), the backports index goes into a private apt state under
# build/curl8/apt, `apt-get download` fetches the two packages and `dpkg -x` unpacks them. The presets link
# the unpacked library with an rpath to it; the system's libcurl stays what the demo and everything else use.
#
#   bash scripts/fetch-curl8.sh            # once; a second run finds it unpacked and does nothing
#   bash scripts/fetch-curl8.sh --refresh  # fetch the newest backport again
# Prints the unpacked version on stdout; the apt output goes to build/curl8/fetch.log.
set -euo pipefail
cd "$(dirname "$0")/.."
dest=$PWD/build/curl8
root=$dest/root

# Debian puts the headers in usr/include/<multiarch>/curl.
curl_version() {
    local header
    header=$(find "$root/usr/include" -path '*/curl/curlver.h' 2>/dev/null | head -n 1)
    [ -n "$header" ] && sed -n 's/^#define LIBCURL_VERSION "\(.*\)"$/\1/p' "$header"
}

if [ "${1:-}" != "--refresh" ] && [ -f "$dest/packages" ] && curl_version; then
    exit 0
fi

source scripts/debian-mirror.sh
codename=$(asiocurl_codename)
if [ -z "$codename" ]; then
    echo "fetch-curl8: /etc/os-release names no release codename (not Debian?)" >&2
    exit 1
fi
mirror=$(asiocurl_debian_mirror "$codename")
if [ -z "$mirror" ]; then
    echo "fetch-curl8: no apt source for '$codename' in this machine's apt configuration" \
        "(/etc/apt/sources.list, /etc/apt/sources.list.d/)" >&2
    exit 1
fi

rm -rf "$dest"
mkdir -p "$dest/apt/sources.list.d" "$dest/apt/lists/partial" "$dest/apt/cache/archives/partial" \
    "$dest/debs" "$root"
keyring=/usr/share/keyrings/debian-archive-keyring.gpg
{
    echo "Types: deb"
    echo "URIs: $mirror"
    echo "Suites: $codename-backports"
    echo "Components: main"
    [ -f "$keyring" ] && echo "Signed-By: $keyring"
} >"$dest/apt/sources.list.d/backports.sources"
apt_private=(-o "Dir::Etc::SourceList=/dev/null" -o "Dir::Etc::SourceParts=$dest/apt/sources.list.d"
             -o "Dir::State::Lists=$dest/apt/lists" -o "Dir::Cache=$dest/apt/cache"
             -o "Debug::NoLocking=true" -o "APT::Sandbox::User=root")
log=$dest/fetch.log
fail() {
    echo "fetch-curl8: $1 (log: $log)" >&2
    tail -n 5 "$log" >&2
    exit 1
}
apt-get "${apt_private[@]}" update >"$log" 2>&1 || fail "apt-get update of $codename-backports failed"
packages=(libcurl4 libcurl4-openssl-dev)
(cd "$dest/debs" && apt-get "${apt_private[@]}" download "${packages[@]/%//$codename-backports}") \
    >>"$log" 2>&1 || fail "apt-get download ${packages[*]} from $codename-backports failed"
for deb in "$dest"/debs/*.deb; do
    dpkg -x "$deb" "$root"
    dpkg-deb --show --showformat='${Package} ${Version}\n' "$deb" >>"$dest/packages"
done
version=$(curl_version || true)
case "$version" in
    8.*) ;;
    *) fail "$codename-backports has libcurl '$version', not 8.x" ;;
esac
echo "$version"
