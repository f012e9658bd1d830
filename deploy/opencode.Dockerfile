# opencode's own server (`opencode serve`) in a container, for the examples in this folder.
# There is no official opencode image this project has verified, so this one installs opencode's
# Linux x64 build from npm: the package opencode-linux-x64 holds the binary at bin/opencode (it
# declares no "bin", hence the link). Swap in your own opencode image if you have one: what the
# examples rely on is the binary, XDG_DATA_HOME (its log goes to $XDG_DATA_HOME/opencode/log, which
# the shim follows) and the `serve` arguments they pass.
# Build:  docker build -f deploy/opencode.Dockerfile -t opencode-server:1.14.48 deploy
# 1.14.43 - 1.14.48 are the releases whose /event is broken; an arm64 machine needs
# --build-arg OPENCODE_PACKAGE=opencode-linux-arm64, where the registry has that version.
FROM node:22-slim
ARG OPENCODE_PACKAGE=opencode-linux-x64
ARG OPENCODE_VERSION=1.14.48
# git for projects, ripgrep so opencode need not download one, CA certificates for model providers.
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates git ripgrep \
 && rm -rf /var/lib/apt/lists/*
RUN npm install --prefix /opt/opencode --omit=dev --ignore-scripts --no-save "${OPENCODE_PACKAGE}@${OPENCODE_VERSION}" \
 && ln -s "/opt/opencode/node_modules/${OPENCODE_PACKAGE}/bin/opencode" /usr/local/bin/opencode \
 && opencode --version \
 && npm cache clean --force
# /data holds opencode's data (sessions, log); /workspace is the project it works on. Volumes
# mounted there start out owned by the unprivileged user.
RUN mkdir -p /data /workspace && chown node:node /data /workspace
ENV XDG_DATA_HOME=/data \
    OPENCODE_DISABLE_AUTOUPDATE=1
USER node
WORKDIR /workspace
EXPOSE 4096
ENTRYPOINT ["opencode"]
CMD ["serve", "--hostname", "0.0.0.0", "--port", "4096"]
