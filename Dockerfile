# Pulse Hub image: one image for every role, chosen by the command (`all`, `hub` or `worker`).
#   docker build -t pulse-hub .
#   docker run --rm -p 3000:3000 -e DATABASE_URL=... -e REDIS_URL=... pulse-hub hub
# Set both DATABASE_URL and REDIS_URL: the zero-config local servers are not in this image.
#
# --ignore-scripts: the only install scripts are the devDependency `node` (it downloads a second
# Node binary) and esbuild's binary check; neither is needed to build or run dist/.
# --omit=optional: the embedded Postgres binaries serve zero-config dev mode only.

ARG NODE_IMAGE=node:24-bookworm-slim

# Production dependencies only, copied into the final image.
FROM ${NODE_IMAGE} AS prod-deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --omit=optional --ignore-scripts --no-audit --no-fund

# All dependencies and the TypeScript build (src/ -> dist/).
FROM ${NODE_IMAGE} AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=optional --ignore-scripts --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm run build

FROM ${NODE_IMAGE} AS runtime
# pg_dump and pg_restore for the worker's backups (db.backup dumps, then verifies by restoring).
# Bookworm ships client 15; the worker refuses a pg_dump of another major than the server's
# (older ones abort, newer ones write dumps the server may not restore): match the server.
RUN apt-get update \
 && apt-get install -y --no-install-recommends postgresql-client \
 && rm -rf /var/lib/apt/lists/* \
 && mkdir -p /var/lib/pulse-hub/backups \
 && chown -R node:node /var/lib/pulse-hub
# BACKUP_DIR is owned by `node`, so a new named volume mounted there inherits that owner.
ENV NODE_ENV=production \
    PORT=3000 \
    DATA_DIR=/var/lib/pulse-hub \
    BACKUP_DIR=/var/lib/pulse-hub/backups
WORKDIR /app
# Application files stay root-owned: the `node` user can read them but not change them.
# package.json's "type": "module" is what makes Node load dist/*.js as ES modules.
COPY package.json package-lock.json ./
COPY --from=prod-deps /app/node_modules ./node_modules
# Migrations are resolved at run time from <app root>/drizzle, next to dist/.
COPY drizzle ./drizzle
COPY --from=build /app/dist ./dist
# The dashboard's browser files are served as they are, from beside dist/ (src/server/dashboard/page.ts).
COPY src/server/dashboard/public ./src/server/dashboard/public
USER node
EXPOSE 3000
# Readiness (Postgres and Redis reachable), probed with Node's fetch since slim has no curl.
# The `worker` role has no HTTP listener: run it with --no-healthcheck (compose disables it).
HEALTHCHECK --interval=10s --timeout=5s --start-period=30s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.PORT||3000)+'/readyz',{signal:AbortSignal.timeout(4000)}).then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
# On SIGTERM the app stops listening and drains jobs within SHUTDOWN_TIMEOUT_MS (15 s by default).
STOPSIGNAL SIGTERM
ENTRYPOINT ["node", "dist/roles/main.js"]
CMD ["all"]
