# opencode-event-shim: a sidecar in front of an opencode server whose /event is broken.
# Build:  docker build -t opencode-event-shim .
# Run:    docker run -p 4097:4097 -e OPENCODE_SHIM_UPSTREAM=http://opencode:4096 opencode-event-shim

FROM node:22-slim AS build
WORKDIR /app
COPY package.json package-lock.json tsconfig.json tsconfig.build.json ./
COPY src ./src
# Runtime dependencies plus just the compiler: the dev dependencies hold whole opencode builds for the tests.
# (npm install, not npm ci: npm 11 leaves other platforms' optional packages out of the lockfile,
# and npm ci then refuses it.)
RUN npm install --omit=dev --ignore-scripts \
 && npm install --no-save --ignore-scripts typescript@5.9.3 @types/node@20 \
 && npx tsc -p tsconfig.build.json

FROM node:22-slim
ENV NODE_ENV=production \
    OPENCODE_SHIM_HOST=0.0.0.0 \
    OPENCODE_SHIM_PORT=4097
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm install --omit=dev --ignore-scripts && npm cache clean --force
COPY --from=build /app/dist ./dist
USER node
EXPOSE 4097
ENTRYPOINT ["node", "dist/cli.js"]
