# syntax=docker/dockerfile:1
#
# Sluice service image. Two stages: `deps` installs the production dependencies (prebuilt native
# modules for lmdb and msgpackr, no compiler in either stage); `runtime` copies the sources, the
# committed WASM module (wasm/pkg, built by scripts/build-wasm.sh: no Rust in the image) and those
# dependencies onto the same slim base, and runs as an unprivileged user.
#
# The root filesystem is meant to run read-only: the only writable places are the data volume
# (/data: LMDB and silver Parquet) and a tmpfs on /tmp (tsx's compile cache). See deploy/README.md.
#
#   docker build -t sluice:0.1.0 .
#   docker run --read-only --tmpfs /tmp -v sluice-data:/data sluice:0.1.0
#
# Pin the base by digest as well when you mirror it (`node:20.20.2-bookworm-slim@sha256:…`).
ARG NODE_IMAGE=node:20.20.2-bookworm-slim

FROM ${NODE_IMAGE} AS deps
WORKDIR /app
ENV NODE_ENV=production \
    npm_config_fund=false \
    npm_config_audit=false \
    npm_config_update_notifier=false
COPY package.json package-lock.json ./
# tsx is a runtime dependency: the sources are TypeScript, run as they are (no build step).
RUN --mount=type=cache,target=/root/.npm npm ci --omit=dev

FROM ${NODE_IMAGE} AS runtime
LABEL org.opencontainers.image.title="sluice" \
      org.opencontainers.image.description="Transaction validation and AML-scoring sidecar" \
      org.opencontainers.image.licenses="UNLICENSED"
# A fixed numeric uid/gid, so Kubernetes' runAsNonRoot can verify it without a passwd lookup.
RUN groupadd --system --gid 10001 sluice \
 && useradd --system --uid 10001 --gid 10001 --home-dir /nonexistent --no-create-home \
      --shell /usr/sbin/nologin sluice \
 && mkdir -p /data \
 && chown 10001:10001 /data \
 && chmod 0750 /data
WORKDIR /app
# Application files stay owned by root: the service can read them and change none of them.
COPY --from=deps /app/node_modules ./node_modules
COPY package.json package-lock.json tsconfig.json ./
COPY bin ./bin
COPY cli ./cli
COPY api ./api
COPY engine ./engine
COPY reference ./reference
COPY wasm/pkg ./wasm/pkg
COPY deploy/docker/healthcheck.mjs ./deploy/docker/healthcheck.mjs

# A sidecar: Sluice listens on 127.0.0.1 (it refuses any other host until an API key exists), and
# containers sharing its network namespace (the core-banking container in the same pod, Prometheus
# with network_mode "service:sluice") reach it there. Every route but health and metrics needs a key.
ENV NODE_ENV=production \
    SLUICE_HOST=127.0.0.1 \
    SLUICE_PORT=8080 \
    SLUICE_DATA_DIR=/data
EXPOSE 8080
VOLUME ["/data"]
USER 10001:10001

# Liveness: GET /healthz on loopback, from inside the container's network namespace.
HEALTHCHECK --interval=15s --timeout=5s --start-period=60s --retries=3 \
  CMD ["node", "deploy/docker/healthcheck.mjs", "/healthz"]

# SIGTERM drains in-flight batches, checkpoints the AML shards, rolls staged silver and closes the
# store (10 s by default, --shutdown-deadline-ms): give `docker stop` at least 30 s.
STOPSIGNAL SIGTERM
# --v8-pool-size=1 --initial-old-space-size=128: see api/node-flags.ts.
ENTRYPOINT ["node", "--v8-pool-size=1", "--initial-old-space-size=128", "bin/sluice.js"]
CMD ["serve"]
