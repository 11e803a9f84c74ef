#!/usr/bin/env bash
# Installs those of the named Debian packages that are not installed yet, in one apt-get call.
#   bash scripts/debian-packages.sh LABEL PACKAGE...
# LABEL prefixes its output ([LABEL] …). Installing needs root; without it (or with SKIP_APT=1)
# it fails naming what is missing and the command that installs it.
set -euo pipefail
label=$1
shift
say() { printf '[%s] %s\n' "$label" "$*" >&2; }

missing=()
for package in "$@"; do
	dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q 'install ok installed' || missing+=("$package")
done
if [ ${#missing[@]} -eq 0 ]; then
	say "Debian packages already installed: $*"
	exit 0
fi
if [ "${SKIP_APT:-0}" = 1 ] || [ "$(id -u)" != 0 ]; then
	say "ERROR: missing Debian packages: ${missing[*]} (as root: apt-get install -y --no-install-recommends ${missing[*]})"
	exit 1
fi

# apt-get's own output goes to a log, shown when it fails; meanwhile a line every 10 s shows it is alive.
log=$(mktemp)
trap 'rm -f "$log"' EXIT
started=$(date +%s)
(while sleep 10; do say "  apt-get install ${missing[*]}… $(($(date +%s) - started)) s"; done) &
ticker=$!
say "installing Debian packages: ${missing[*]}"
rc=0
{ apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"; } >"$log" 2>&1 || rc=$?
kill "$ticker" 2>/dev/null
wait "$ticker" 2>/dev/null || true
if [ "$rc" != 0 ]; then
	tail -n 30 "$log" >&2
	say "ERROR: apt-get install ${missing[*]} failed (exit $rc)"
	exit 1
fi
say "installed ${missing[*]} in $(($(date +%s) - started)) s ($(grep -c '^Setting up' "$log") packages with their dependencies)"
