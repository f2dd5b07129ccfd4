# syntax=docker/dockerfile:1

# hono-redis-service: build with dev dependencies, run with production dependencies only.
# Redis is not in this image: point REDIS_URL at one (compose.yml runs the official image beside it).

# Node 24, the current LTS line (Node 20 reached end of life in April 2026), on Debian 12 slim. An exact
# tag, so a rebuild gets the same Node; where the registry is reachable, pin it by digest as well
# (`docker buildx imagetools inspect node:24.21.0-bookworm-slim` prints it), e.g.
# node:24.21.0-bookworm-slim@sha256:<digest>, and let a bot propose updates. CI runs the test suite on
# Node 24 too (.ci/run), so the image's runtime is a tested one.
ARG NODE_IMAGE=node:24.21.0-bookworm-slim

# --- build: compile TypeScript to dist/ -------------------------------------------------------------
FROM ${NODE_IMAGE} AS build
WORKDIR /app
COPY package.json package-lock.json ./
# --ignore-scripts: nothing the build needs has an install script, and redis-memory-server's would try to
# download Redis (package.json also disables it).
RUN npm ci --ignore-scripts
COPY tsconfig.json tsconfig.build.json ./
COPY scripts/copy-assets.mjs scripts/copy-assets.mjs
COPY src src
RUN npm run build

# --- runtime: node dist/main.js as an unprivileged user --------------------------------------------
FROM ${NODE_IMAGE} AS runtime
ENV NODE_ENV=production
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts && npm cache clean --force
COPY --from=build /app/dist dist
# Files stay owned by root and read-only to the service; it writes nothing to disk (logs go to stdout).
USER node
EXPOSE 3000
# main.ts drains on SIGTERM: readiness fails, it serves SHUTDOWN_DELAY_MS more, then closes and exits 0.
STOPSIGNAL SIGTERM
# Liveness only (/healthz never touches Redis), so a Redis outage does not mark the container unhealthy.
# The slim image has no curl: Node's own fetch does the probe.
HEALTHCHECK --interval=10s --timeout=3s --start-period=15s --retries=3 \
  CMD ["node", "-e", "fetch(`http://127.0.0.1:${process.env.PORT || 3000}/healthz`, { signal: AbortSignal.timeout(2500) }).then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
# Source maps (tsconfig.build.json emits them): stack traces in the logs name src/*.ts lines.
CMD ["node", "--enable-source-maps", "dist/main.js"]
