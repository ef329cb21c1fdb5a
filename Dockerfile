# mesh container image: `mesh` as the entrypoint, the config in /etc/mesh (README, "Container image").
#
# Build it from a checkout after `npm ci` (that installs the dependencies and builds the native
# addon, so building mesh into the image needs no network):
#   npm ci && docker build -t mesh .
# BASE_IMAGE is the image both stages start from: the official Node image by default; any image
# with node (>= 20.19) and npm on PATH and a /bin/sh will do.
ARG BASE_IMAGE=node:20-bookworm-slim

FROM ${BASE_IMAGE} AS build
WORKDIR /build
COPY . .
# The TypeScript build, then only what runs: the package's files (as `npm pack` selects them, the
# pack scripts skipped), its production dependencies and the addon that `npm ci` built (wherever
# node-gyp-build finds it: native/build, or native/prebuilds after an `npm pack`).
RUN npm run build \
 && npm prune --omit=dev --offline --no-audit --no-fund --no-update-notifier \
 && npm pack --ignore-scripts --no-update-notifier --pack-destination /tmp \
 && mkdir -p /opt && tar -xzf /tmp/mesh-*.tgz -C /opt && mv /opt/package /opt/mesh \
 && cp -R node_modules /opt/mesh/ \
 && addon="$(node -p "require('node-gyp-build').path('native')")" \
 && mkdir -p /opt/mesh/native/build/Release /opt/mesh/bin \
 && cp "$addon" /opt/mesh/native/build/Release/mesh_native.node \
 && ln -s ../dist/bundle/mesh.js /opt/mesh/bin/mesh && chmod 755 /opt/mesh/dist/bundle/mesh.js

FROM ${BASE_IMAGE}
# --docker-bridge runs iptables: from Debian where the base has apt (the official image does).
RUN if command -v apt-get >/dev/null; then \
      apt-get update && apt-get install -y --no-install-recommends iptables && rm -rf /var/lib/apt/lists/*; \
    fi
COPY --from=build /opt/mesh /opt/mesh
# The start-up snapshots, for this image's node (the tarball has none; without them mesh runs the plain bundle).
RUN node /opt/mesh/scripts/build-snapshot.mjs
ENV PATH=/opt/mesh/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    NODE_ENV=production
# Root inside the container: the TUN device and its routes need CAP_NET_ADMIN, which Docker gives
# (--cap-add NET_ADMIN) to root only. A lighthouse with tun.disabled: true can run with --user node.
VOLUME /etc/mesh
# Until `mesh status` exists, healthy means the node process (PID 1) is still there.
HEALTHCHECK --interval=30s --timeout=5s --start-period=10s CMD ["node", "-e", "process.kill(1, 0)"]
ENTRYPOINT ["mesh"]
CMD ["node", "--config", "/etc/mesh/config.yml"]
