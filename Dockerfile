# leadsync in a container.
#   docker build -t leadsync .
#   docker run -d --name leadsync --stop-timeout 40 -v leadsync-data:/var/lib/leadsync leadsync
# Drop files into the volume's inbox/ (e.g. docker cp export.csv leadsync:/var/lib/leadsync/inbox/).
# The shipped config reads that inbox only. For HubSpot, mount a config whose [connectors.hubspot]
# is filled in at /etc/leadsync/leadsync.toml and pass the variable its token names:
#   docker run ... -v ./leadsync.toml:/etc/leadsync/leadsync.toml:ro -e HUBSPOT_TOKEN=... leadsync
# A stop waits up to daemon.shutdown_timeout (30 s) for the work in flight: give `docker stop`
# longer than that (--stop-timeout on run, or `docker stop --time 40`), or Docker's default 10 s
# ends in a SIGKILL (nothing committed is lost; the work in flight is done again at the next start).

FROM rust:1.95-slim-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --release --locked --bin leadsync

FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates curl \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --home-dir /var/lib/leadsync leadsync \
 && mkdir -p /var/lib/leadsync/inbox /etc/leadsync \
 && chown -R leadsync:leadsync /var/lib/leadsync
COPY --from=build /src/target/release/leadsync /usr/local/bin/leadsync
COPY config/leadsync.toml /etc/leadsync/leadsync.toml
# The shipped config with its paths moved into the data volume.
ENV LEADSYNC__STORE__URL=sqlite:///var/lib/leadsync/leadsync.db \
    LEADSYNC__CONNECTORS__DROPS__INBOX=/var/lib/leadsync/inbox
USER leadsync
WORKDIR /var/lib/leadsync
VOLUME ["/var/lib/leadsync"]
# The admin API listens on the container's loopback; the health check runs inside it.
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s \
  CMD curl -fsS http://127.0.0.1:9464/healthz || exit 1
# SIGTERM stops leadsync gracefully (see --stop-timeout above).
STOPSIGNAL SIGTERM
ENTRYPOINT ["leadsync", "--config", "/etc/leadsync/leadsync.toml"]
CMD ["run"]
