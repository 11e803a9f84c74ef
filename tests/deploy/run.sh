#!/usr/bin/env bash
# `npm run test:deploy`: builds the images, starts docker/compose.yaml on this machine (host
# networking, everything on 127.0.0.1) and checks it through nginx (tests/deploy/cluster-check.ts).
# Installs Docker's Debian packages when missing and starts dockerd when none runs; skips, saying
# why, only where no Docker daemon can start. PostgreSQL and Redis are the compose file's own
# services, on images built here from Debian's packages (tests/deploy/datastores.Dockerfile: no
# image registry is reachable) and on ports of their own (the machine's own hold 5432 and 6379).
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
env_file="$work/compose.env"
compose=(docker-compose -p "$project" -f docker/compose.yaml --env-file "$env_file")
cleanup() {
	if [ "${DEPLOY_KEEP:-0}" != 1 ]; then "${compose[@]}" down --volumes --remove-orphans >/dev/null 2>&1 || true; fi
	rm -rf "$work"
}
trap cleanup EXIT

say "building the PostgreSQL and Redis stand-ins from Debian's packages"
for store in postgres redis; do
	docker build --network host -f tests/deploy/datastores.Dockerfile --target "$store" --build-arg BASE_IMAGE="$base" \
		-t "concord-test-$store:latest" tests/deploy >"$work/build-$store.log" 2>&1 || { tail -n 40 "$work/build-$store.log" >&2; exit 1; }
done

postgres_password=$(openssl rand -hex 16)
key=$(openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 | awk '{printf "%s\\n", $0}')
cat >"$env_file" <<ENV
BASE_IMAGE=$base
IMAGE_PREFIX=concord
POSTGRES_IMAGE=concord-test-postgres:latest
REDIS_IMAGE=concord-test-redis:latest
POSTGRES_PORT=55432
REDIS_PORT=56379
POSTGRES_PASSWORD=$postgres_password
DATABASE_URL=postgres://concord:$postgres_password@127.0.0.1:55432/concord
REDIS_URL=redis://127.0.0.1:56379/0
GRAFANA_ADMIN_PASSWORD=unused-no-monitoring-profile-here
SFU_SECRET=$(openssl rand -hex 24)
API_PRIVATE_KEY_PEM=$key
ENV
# A cluster an earlier run left (DEPLOY_KEEP=1, or killed) goes first, with its volumes.
"${compose[@]}" down --volumes --remove-orphans >/dev/null 2>&1 || true

services=(postgres redis nginx api-1 api-2 signaling-1 signaling-2 sfu-1 sfu-2)
say "building the images on $base (Docker's layer cache makes a rebuild quick)"
build_started=$(date +%s)
"${compose[@]}" build nginx api-1 signaling-1 sfu-1 >"$work/build.log" 2>&1 || { tail -n 40 "$work/build.log" >&2; exit 1; }
say "images built in $(($(date +%s) - build_started)) s"
# cluster-check.ts starts the services itself (docker-compose up -d --no-deps …), timing each.
if ! DEPLOY_COMPOSE="${compose[*]}" DEPLOY_ENV_FILE="$env_file" node_modules/.bin/tsx tests/deploy/cluster-check.ts; then
	for service in "${services[@]}"; do echo "--- $service"; "${compose[@]}" logs --no-color --tail 30 "$service"; done >&2
	exit 1
fi
say "passed in $(($(date +%s) - started)) s"
