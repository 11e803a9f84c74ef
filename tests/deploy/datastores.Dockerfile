# Offline stand-ins for the compose file's postgres:16-bookworm and redis:7-bookworm, for
# `npm run test:deploy` only (no image registry is reachable here): Debian's own packages on the
# base image the test makes (docker/base/build-base.sh). They keep the official images' interface
# that docker/compose.yaml uses — POSTGRES_USER/POSTGRES_DB/POSTGRES_PASSWORD initialise an empty
# PGDATA volume on first start, `postgres -c …` and `redis-server …` as the command, pg_isready
# and redis-cli for the health checks, data in /var/lib/postgresql/data and /data.
#   docker build -f tests/deploy/datastores.Dockerfile --target postgres --build-arg BASE_IMAGE=… tests/deploy
ARG BASE_IMAGE=debian:bookworm-slim

FROM ${BASE_IMAGE} AS postgres
# Without a cluster of Debian's own ("main"): the entrypoint makes one in the volume.
RUN printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d \
	&& apt-get update && apt-get install -y --no-install-recommends postgresql-common \
	&& sed -ri 's/#(create_main_cluster) .*$/\1 = false/' /etc/postgresql-common/createcluster.conf \
	&& apt-get install -y --no-install-recommends postgresql-15 \
	&& rm -rf /var/lib/apt/lists/* /usr/sbin/policy-rc.d \
	&& mkdir -p /var/lib/postgresql/data /var/run/postgresql \
	&& chown postgres:postgres /var/lib/postgresql/data /var/run/postgresql && chmod 700 /var/lib/postgresql/data
ENV PATH=/usr/lib/postgresql/15/bin:$PATH PGDATA=/var/lib/postgresql/data
COPY postgres-entrypoint.sh /usr/local/bin/postgres-entrypoint.sh
USER postgres
ENTRYPOINT ["/usr/local/bin/postgres-entrypoint.sh"]
CMD ["postgres"]

FROM ${BASE_IMAGE} AS redis
RUN apt-get update && apt-get install -y --no-install-recommends redis-server \
	&& rm -rf /var/lib/apt/lists/* && mkdir -p /data && chown redis:redis /data
WORKDIR /data
USER redis
CMD ["redis-server"]
