#!/usr/bin/env bash
# The Debian mirror this machine's apt already uses for its release, and the release's codename. Sourced by
# fetch-curl8.sh and fresh-machine-check.sh, so that no host name is written into the repository.

asiocurl_codename() {
    (. /etc/os-release && echo "${VERSION_CODENAME:-}")
}

# The URI of the apt source that serves "<codename>" itself (not -updates, not -security), whichever format
# the sources are written in: apt says, from its own configuration (--no-release-info: without needing the
# downloaded indexes).
asiocurl_debian_mirror() {
    apt-get indextargets --no-release-info --format '$(REPO_URI)' \
        "Release: $1" "Target-Of: deb" "Identifier: Packages" 2>/dev/null | head -n 1
}
