#!/bin/sh
# Point apt at a mirror, understanding both Ubuntu 24.04's deb822 ubuntu.sources and the
# classic one-line sources.list. Security updates stay on the official host, as the Tuna
# mirror's own instructions advise.
#
#   setup-apt-mirror.sh UBUNTU_MIRROR PORTS_MIRROR
set -eu

[ "$#" -eq 2 ] || {
    echo "usage: setup-apt-mirror.sh UBUNTU_MIRROR PORTS_MIRROR" >&2
    exit 2
}
mirror=${1%/}/
ports=${2%/}/
# Tests point this at a fake root; in the image it is empty.
root=${MODELBENCH_ROOT:-}

switched=0
deb822=$root/etc/apt/sources.list.d/ubuntu.sources
if [ -f "$deb822" ]; then
    sed -i \
        -e "s|^URIs: http://archive.ubuntu.com/ubuntu/*$|URIs: $mirror|" \
        -e "s|^URIs: http://ports.ubuntu.com/ubuntu-ports/*$|URIs: $ports|" \
        "$deb822"
    switched=1
fi
legacy=$root/etc/apt/sources.list
if [ -f "$legacy" ] && grep -q '^deb ' "$legacy"; then
    sed -i \
        -e "s|http://archive.ubuntu.com/ubuntu/*|$mirror|g" \
        -e "s|http://ports.ubuntu.com/ubuntu-ports/*|$ports|g" \
        "$legacy"
    switched=1
fi
if [ "$switched" = 0 ]; then
    echo "setup-apt-mirror: no Ubuntu apt sources found; nothing switched" >&2
    exit 1
fi
echo "setup-apt-mirror: apt now uses $mirror ($ports for ports architectures)"
