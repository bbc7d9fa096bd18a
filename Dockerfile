# The idpsync operator image. scripts/build-image.sh makes both base images from Debian packages and
# builds this file with buildah; any base with Node 20 and tini on PATH works (see docs/install.md).
ARG BASE_IMAGE=localhost/idpsync-base:latest
ARG BUILD_IMAGE=localhost/idpsync-build-base:latest

FROM ${BUILD_IMAGE} AS build
ENV HOME=/tmp npm_config_cache=/tmp/.npm npm_config_update_notifier=false
WORKDIR /src
COPY package.json package-lock.json ./
# An optional build secret npm-ca adds CAs (a registry mirror or TLS-inspecting proxy) for npm only.
RUN --mount=type=secret,id=npm-ca sh -c '[ ! -f /run/secrets/npm-ca ] || export NODE_EXTRA_CA_CERTS=/run/secrets/npm-ca; \
      npm ci --no-audit --no-fund --ignore-scripts'
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm run build

FROM ${BUILD_IMAGE} AS runtime-deps
ENV HOME=/tmp npm_config_cache=/tmp/.npm npm_config_update_notifier=false
WORKDIR /app
COPY package.json package-lock.json ./
RUN --mount=type=secret,id=npm-ca sh -c '[ ! -f /run/secrets/npm-ca ] || export NODE_EXTRA_CA_CERTS=/run/secrets/npm-ca; \
      npm ci --omit=dev --no-audit --no-fund --ignore-scripts'

FROM ${BASE_IMAGE}
ARG VERSION=0.0.0-dev
ARG REVISION=unknown
ARG CREATED=1970-01-01T00:00:00Z
ARG BASE_IMAGE
LABEL org.opencontainers.image.title="idpsync" \
      org.opencontainers.image.description="Kubernetes operator that keeps User, Group and Policy resources in step with your identity provider" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.created="${CREATED}" \
      org.opencontainers.image.base.name="${BASE_IMAGE}"
# Nothing may be written outside /tmp: a Deployment mounts the root filesystem read-only.
ENV NODE_ENV=production HOME=/tmp npm_config_cache=/tmp/.npm
WORKDIR /app
COPY --from=runtime-deps /app/package.json ./package.json
COPY --from=runtime-deps /app/node_modules ./node_modules
COPY --from=build /src/dist/src ./dist/src
USER 65532:65532
EXPOSE 8080
ENTRYPOINT ["tini", "--", "node", "/app/dist/src/cli/main.js"]
CMD ["run"]
