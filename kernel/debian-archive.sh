# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Sourced by fetch-kernel and build-root: the Debian archive this machine's
# own apt sources use (deb822 or one-line format), so nothing in the repo
# names a host. Prints the URI, or nothing.
debian_archive_uri() {
    local uri
    uri=$(awk '/^URIs:/ { print $2; exit }' /etc/apt/sources.list.d/*.sources 2>/dev/null || true)
    if [[ -z $uri ]]; then
        uri=$(awk '$1 == "deb" && $2 !~ /^\[/ && $3 !~ /security/ { print $2; exit }
                   $1 == "deb" && $2 ~ /^\[/ && $4 !~ /security/ { print $3; exit }' \
              /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null || true)
    fi
    echo "$uri"
}
