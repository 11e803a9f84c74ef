#!/usr/bin/env bash
# Runs each documented command once, small and quick (seconds each, not minutes), so that none of
# them can break unnoticed: npm start (health and web page, then a clean stop on SIGINT), the load tester,
# the benchmarks and the screenshots script. Results go to a temporary directory: the smoke run
# never writes docs/. CI runs it after `npm test` (.ci/run); it needs what the tests need (PostgreSQL
# on 127.0.0.1:5432, Redis on 127.0.0.1:6379, chromium and ffmpeg).
#   bash scripts/smoke.sh                    # all of them
#   bash scripts/smoke.sh start loadtest     # some: start loadtest bench:chat bench:events bench:failover bench:udp-floor bench:web bench:lighthouse screenshots
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
started=$(date +%s)
section() { printf '\n--- smoke: %s (+%ss)\n' "$*" "$(($(date +%s) - started))"; }
fail() { printf '[smoke] FAILED: %s\n' "$*" >&2; exit 1; }

tmp=$(mktemp -d "${TMPDIR:-/tmp}/concord-smoke-XXXXXX")
platform_group=
cleanup() {
	[ -n "$platform_group" ] && kill -KILL -- "-$platform_group" 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT

# A TCP port nobody listens on now (the kernel's choice).
free_port() { node -e "const s = require('node:net').createServer().listen(0, '127.0.0.1', () => { console.log(s.address().port); s.close(); })"; }
# GET $1; fails unless the status is 200 and the body contains $2.
expect_get() {
	node -e "
		const [url, expected] = process.argv.slice(1);
		fetch(url).then(async (response) => {
			const body = await response.text();
			if (response.status !== 200 || !body.includes(expected)) throw new Error(\`GET \${url}: \${response.status} \${body.slice(0, 300)}\`);
			console.log(\`[smoke] GET \${url}: 200, has \${JSON.stringify(expected)}\`);
		}).catch((error) => { console.error(\`[smoke] \${error.message}\`); process.exit(1); });" "$1" "$2"
}
# What must stay as it is: the smoke run writes no benchmark numbers or screenshots into docs/.
docs_state() { find docs -type f -print0 | sort -z | xargs -0 sha256sum; }
docs_before=$(docs_state)
# Whether the command named $1 is to run: all of them, unless some are named on the command line.
all=" start loadtest bench:chat bench:events bench:failover bench:udp-floor bench:web bench:lighthouse screenshots "
selected=" ${*:-$all} "
for name in "$@"; do
	[[ $all == *" $name "* ]] || { printf 'smoke: unknown command "%s"\n\nbash scripts/smoke.sh [%s]\n' "$name" "$(echo $all)" >&2; exit 2; }
done
wanted() { [[ $selected == *" $1 "* ]]; }

if wanted start; then
section "npm start (temporary data directory, free ports; stopped with SIGINT)"
port=$(free_port)
log="$tmp/start.log"
: >"$log"
# Its own process group, so that whatever is left of it can be swept up at the end.
PORT=$port CONCORD_DATA_DIR="$tmp/data" SFU_WORKERS=1 SFU_RTC_PORT_BASE=$(free_port) LOG_LEVEL=warn \
	setsid npm start >"$log" 2>&1 &
platform_group=$!
url=
for _ in $(seq 1 240); do
	url=$(grep -oE 'Concord is running: open http://[^ ]+' "$log" | grep -oE 'http://[^ ]+' || true)
	[ -n "$url" ] && break
	kill -0 "$platform_group" 2>/dev/null || { cat "$log"; fail "npm start exited before it printed its URL"; }
	sleep 0.5
done
[ -n "$url" ] || { cat "$log"; fail "npm start printed no URL within 120 s"; }
[ "$url" = "http://localhost:$port" ] || fail "npm start printed $url, expected http://localhost:$port"
echo "[smoke] npm start printed $url"
expect_get "$url/api/health" '"status":"ok"'
expect_get "$url/" '<div id="root">'
# SIGINT to the launcher (`npm start` execs tsx, which relays it to the platform): npm itself
# answers a Ctrl+C with 130 whatever happens, so its status only tells through this one.
launcher=
for proc in /proc/[0-9]*; do
	# Field 3 after the command name in /proc/PID/stat is the process group.
	[ "$(sed 's/.*) //' "$proc/stat" 2>/dev/null | cut -d' ' -f3)" = "$platform_group" ] || continue
	tr '\0' ' ' <"$proc/cmdline" 2>/dev/null | grep -q 'tsx standalone/src/main.ts' && { launcher=${proc#/proc/}; break; }
done
[ -n "$launcher" ] || fail "no launcher (tsx standalone/src/main.ts) in npm start's process group"
kill -INT "$launcher"
rc=0
for _ in $(seq 1 60); do kill -0 "$platform_group" 2>/dev/null || break; sleep 0.5; done
kill -0 "$platform_group" 2>/dev/null && { cat "$log"; fail "npm start still running 30 s after SIGINT"; }
wait "$platform_group" || rc=$?
platform_group=
[ "$rc" = 0 ] || { cat "$log"; fail "npm start exited with $rc after SIGINT (expected 0)"; }
! grep -E '"level":(50|60)' "$log" || fail "npm start logged errors"
echo "[smoke] npm start stopped cleanly on SIGINT"
fi

if wanted loadtest; then
section "npm run loadtest (one room of 2, 3 s)"
npm run loadtest --silent -- --rooms 1 --size 2 --duration 3 --out "$tmp/loadtest" || {
	rc=$?
	# 3: a threshold broke — on a busy machine that is a number, not a broken command.
	[ "$rc" = 3 ] || fail "npm run loadtest exited with $rc"
	echo "[smoke] (a threshold broke: exit 3; the command itself works)"
}
[ -s "$tmp/loadtest/result.json" ] && [ -s "$tmp/loadtest/report.html" ] || fail "npm run loadtest wrote no result.json and report.html"
fi

if wanted bench:chat; then
section "npm run bench:chat (5 clients, PostgreSQL and Redis on loopback)"
DATABASE_URL=${TEST_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/test} REDIS_URL=${TEST_REDIS_URL:-redis://127.0.0.1:6379} \
	npm run bench:chat --silent -- --clients 5 --messages 5 --seconds 1 --json "$tmp/chat.json"
[ -s "$tmp/chat.json" ] || fail "npm run bench:chat wrote no results"
fi

if wanted bench:events; then
section "npm run bench:events (2 rooms of 2, 1 s, not written to docs/)"
npm run bench:events --silent -- --rooms 2 --peers 2 --seconds 1 | tee "$tmp/events.txt" || fail "npm run bench:events failed"
grep -q 'copies per message per user' "$tmp/events.txt" || fail "npm run bench:events printed no figures"
fi

if wanted bench:failover; then
section "npm run bench:failover (1 kill, 1 call of 2, not written to docs/)"
npm run bench:failover --silent -- --kills 1 --calls 1 --size 2 | tee "$tmp/failover.txt" || fail "npm run bench:failover failed"
grep -q 'every member receiving media again' "$tmp/failover.txt" || fail "npm run bench:failover printed no figures"
fi

if wanted bench:udp-floor; then
section "npm run bench:udp-floor (4 sockets, 1 s)"
npm run bench:udp-floor --silent -- --sockets 4 --rate 2000 --seconds 1 | tee "$tmp/udp-floor.txt" || fail "npm run bench:udp-floor failed"
grep -q 'µs a datagram' "$tmp/udp-floor.txt" || fail "npm run bench:udp-floor printed no figures"
fi

if wanted bench:web; then
section "npm run bench:web (1 run, not written to docs/)"
npm run bench:web --silent -- --runs 1 --no-write
fi

if wanted bench:lighthouse; then
section "npm run bench:lighthouse (1 run, not written to docs/)"
npm run bench:lighthouse --silent -- --runs 1
fi

if wanted screenshots; then
section "npx tsx scripts/screenshots.ts (into a temporary directory)"
npx tsx scripts/screenshots.ts "$tmp/screenshots"
for shot in docs/screenshots/*.png; do
	[ -s "$tmp/screenshots/${shot##*/}" ] || fail "the screenshots script made no ${shot##*/}"
done
fi

section "docs/ untouched"
[ "$(docs_state)" = "$docs_before" ] || fail "a smoke run changed files under docs/"
section "done: ${selected# }"
