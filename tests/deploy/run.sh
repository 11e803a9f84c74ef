#!/usr/bin/env bash
# `npm run test:deploy`: builds the images, starts docker/compose.yaml on this machine (host
# networking, everything on 127.0.0.1) and checks it through nginx (tests/deploy/cluster-check.ts).
# Installs Docker's Debian packages when missing and starts dockerd when none runs; skips, saying
# why, only where no Docker daemon can start. PostgreSQL and Redis are the machine's own
# (127.0.0.1:5432, :6379, as for every other test): the compose file's postgres/redis services
# are for users and need images from a registry, which is not reachable here.
# Env: DEPLOY_KEEP=1 leaves the cluster running; DEPLOY_RESULTS=FILE keeps the figures.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
say() { printf '[test:deploy] %s\n' "$*" >&2; }
started=$(date +%s)

bash scripts/debian-packages.sh deploy docker.io docker-compose debootstrap

if ! docker info >/dev/null 2>&1; then
	if [ "$(id -u)" != 0 ]; then say "SKIP: no Docker daemon runs and starting one needs root"; exit 0; fi
	say "starting dockerd (no bridge, no iptables: containers use the host's network)"
	dockerd --bridge=none --iptables=false --ip6tables=false >/tmp/concord-dockerd.log 2>&1 &
	for _ in $(seq 1 60); do docker info >/dev/null 2>&1 && break; sleep 0.5; done
	if ! docker info >/dev/null 2>&1; then
		tail -n 20 /tmp/concord-dockerd.log >&2
		say "SKIP: no Docker daemon can start here (log above, /tmp/concord-dockerd.log)"
		exit 0
	fi
fi

base=concord-base:bookworm-node24
bash docker/base/build-base.sh "$base"
bash docker/prepare-context.sh

work=$(mktemp -d)
project=concord-deploy-test
database=concord_deploy_test
env_file="$work/compose.env"
compose=(docker-compose -p "$project" -f docker/compose.yaml --env-file "$env_file")
cleanup() {
	if [ "${DEPLOY_KEEP:-0}" != 1 ]; then
		"${compose[@]}" down --remove-orphans >/dev/null 2>&1 || true
		psql -q -h 127.0.0.1 -U postgres -d test -c "DROP DATABASE IF EXISTS $database" >/dev/null 2>&1 || true
	fi
	rm -rf "$work"
}
trap cleanup EXIT

psql -q -h 127.0.0.1 -U postgres -d test -c "DROP DATABASE IF EXISTS $database" -c "CREATE DATABASE $database"
key=$(openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 | awk '{printf "%s\\n", $0}')
cat >"$env_file" <<ENV
BASE_IMAGE=$base
IMAGE_PREFIX=concord
DATABASE_URL=postgres://postgres@127.0.0.1:5432/$database
REDIS_URL=redis://127.0.0.1:6379/0
REDIS_KEY_PREFIX=$project:$(date +%s):
POSTGRES_PASSWORD=unused-the-machine-s-postgresql-serves-the-test
GRAFANA_ADMIN_PASSWORD=unused-no-monitoring-profile-here
SFU_SECRET=$(openssl rand -hex 24)
API_PRIVATE_KEY_PEM=$key
ENV

services=(nginx api-1 api-2 signaling-1 signaling-2 sfu-1 sfu-2)
say "building the images on $base (Docker's layer cache makes a rebuild quick)"
build_started=$(date +%s)
"${compose[@]}" build nginx api-1 signaling-1 sfu-1 >"$work/build.log" 2>&1 || { tail -n 40 "$work/build.log" >&2; exit 1; }
say "images built in $(($(date +%s) - build_started)) s"
# cluster-check.ts starts the services itself (docker-compose up -d --no-deps …), timing each.
if ! DEPLOY_COMPOSE="${compose[*]}" node_modules/.bin/tsx tests/deploy/cluster-check.ts; then
	for service in "${services[@]}"; do echo "--- $service"; "${compose[@]}" logs --no-color --tail 30 "$service"; done >&2
	exit 1
fi
say "passed in $(($(date +%s) - started)) s"
