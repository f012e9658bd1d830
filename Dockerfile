# opencode-event-shim: a sidecar in front of an opencode server whose /event is broken.
# Build:  docker build -t opencode-event-shim .
# Run:    docker run -p 4097:4097 -e OPENCODE_SHIM_UPSTREAM=http://opencode:4096 opencode-event-shim
# deploy/ runs it beside opencode: docker-compose.yml, and a Kubernetes sidecar in kubernetes/.
# Every flag has an OPENCODE_SHIM_* variable (docker run ... opencode-event-shim --help lists them).

# Build stage: compile src/ to dist/.
FROM node:22-slim AS build
WORKDIR /app
COPY package.json package-lock.json tsconfig.json tsconfig.build.json ./
COPY src ./src
# Every package at the version the lockfile pins, the compiler among the dev dependencies (which
# also hold the test suite's opencode and Node builds: this stage is thrown away), no scripts.
RUN npm ci --ignore-scripts && node_modules/.bin/tsc -p tsconfig.build.json

# Runtime stage: production dependencies, the compiled code and the page served at /shim/.
FROM node:22-slim
ENV NODE_ENV=production \
    OPENCODE_SHIM_HOST=0.0.0.0 \
    OPENCODE_SHIM_PORT=4097
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts && npm cache clean --force
COPY --from=build /app/dist ./dist
COPY public ./public
COPY README.md LICENSE ./
# The node images' unprivileged user (uid 1000).
USER node
EXPOSE 4097
# node:*-slim has neither curl nor wget: node asks. It follows OPENCODE_SHIM_PORT (set it, rather
# than --port, to move the shim). start-period covers the shim's wait for opencode (--upstream-wait).
HEALTHCHECK --interval=15s --timeout=5s --start-period=60s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.OPENCODE_SHIM_PORT || 4097) + '/shim/health').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
ENTRYPOINT ["node", "dist/cli.js"]
