#!/usr/bin/env bash
# Installs everything Concord needs on a fresh machine: node modules, the mediasoup worker (cached
# under ~/.cache/concord after the first build) and the web client's production build.
#   npm run setup            # what `npm start` runs by itself when something is missing
#   npm run setup -- --test  # also the Debian packages the tests use (needs root): chromium, which
#                            # the browser tests drive, ffmpeg, which encodes the load tester's clips, and
#                            # prometheus (with promtool), which the monitoring test runs, haproxy, and
#                            # coturn, the TURN server the relay-only call test goes through
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
say() { printf '\n[setup] %s\n' "$*"; }

node_major=$(node -p 'process.versions.node.split(".")[0]')
[ "$node_major" -ge 20 ] || { echo "[setup] Node.js >= 20 is required (found $(node -v))" >&2; exit 1; }

if [ "${1:-}" = "--test" ]; then
	say "Debian packages the tests use"
	bash scripts/debian-packages.sh setup chromium ffmpeg prometheus haproxy coturn iproute2
fi

say "1/3 installing node modules"
# mediasoup's own postinstall would fetch a worker from GitHub or build it with downloaded
# toolchains; our step 2 does that job, so tell it to stand aside.
MEDIASOUP_WORKER_BIN=provided-by-scripts/mediasoup-worker npm ci --no-audit --no-fund

say "2/3 mediasoup worker"
bash scripts/mediasoup-worker/install.sh

say "3/3 building the web client"
npm run build:web --silent
say "done. Start Concord with: npm start"
