#!/bin/sh
# The official postgres image's first-start contract, as far as docker/compose.yaml uses it: an
# empty PGDATA gets a cluster whose superuser POSTGRES_USER has POSTGRES_PASSWORD (required, like
# the official image: TCP logins need it) and a database POSTGRES_DB; then the command runs.
set -eu
if [ ! -s "$PGDATA/PG_VERSION" ]; then
	: "${POSTGRES_PASSWORD:?cannot initialise the database: POSTGRES_PASSWORD is not set}"
	user=${POSTGRES_USER:-postgres}
	pwfile=$(mktemp)
	printf '%s\n' "$POSTGRES_PASSWORD" >"$pwfile"
	initdb -D "$PGDATA" -U "$user" --pwfile="$pwfile" --auth-host=scram-sha-256 --auth-local=trust >/dev/null
	rm -f "$pwfile"
	if [ "${POSTGRES_DB:-$user}" != postgres ]; then
		echo "CREATE DATABASE \"${POSTGRES_DB:-$user}\" OWNER \"$user\"" | postgres --single -D "$PGDATA" postgres >/dev/null
	fi
	echo "postgres-entrypoint: initialised $PGDATA (user $user, database ${POSTGRES_DB:-$user})"
fi
exec "$@"
