#!/usr/bin/env bash
# Stages what the images copy instead of building again: the mediasoup worker the repository's
# worker kit built or cached (scripts/mediasoup-worker/install.sh, ~/.cache/concord/mediasoup-worker)
# the web client's build (web/dist, with its precompressed .gz/.br files)
# and npm's CA file for build-time downloads.
#   bash docker/prepare-context.sh      (then docker build -f docker/Dockerfile --target … .)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
say() { printf '[prepare-context] %s\n' "$*" >&2; }

worker=node_modules/mediasoup/worker/out/Release/mediasoup-worker
[ -x "$worker" ] || bash scripts/mediasoup-worker/install.sh
mkdir -p docker/.stage
cp -f "$worker" docker/.stage/mediasoup-worker
say "staged $worker ($(du -h docker/.stage/mediasoup-worker | cut -f1))"

# npm's own CA file (set where a proxy re-signs TLS) lets the image builds reach the registry too.
cafile=$(npm config get cafile 2>/dev/null || true)
if [ -n "$cafile" ] && [ "$cafile" != null ] && [ -f "$cafile" ]; then cp -f "$cafile" docker/.stage/build-ca.pem; else : >docker/.stage/build-ca.pem; fi

if [ ! -f web/dist/index.html ] || [ -n "$(find web/src web/index.html -newer web/dist/index.html -print -quit)" ]; then
	say "building the web client"
	npm run build:web --silent
fi
