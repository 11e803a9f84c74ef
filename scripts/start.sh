#!/usr/bin/env bash
# `npm start`: the whole platform in one process with embedded defaults (see README).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
if [ ! -x node_modules/mediasoup/worker/out/Release/mediasoup-worker ] || [ ! -d node_modules/.bin ]; then
	echo "[start] first run: installing (npm run setup)"
	bash scripts/setup.sh
elif [ ! -f web/dist/index.html ] || [ -n "$(find web/src web/index.html -newer web/dist/index.html -print -quit)" ]; then
	echo "[start] building the web client"
	npm run build:web --silent
fi
exec node_modules/.bin/tsx standalone/src/main.ts "$@"
