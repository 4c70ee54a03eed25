# One image holding `brix`: the controller (`brix controller`), the gateway
# (`brix gateway --kubernetes`) and the rest of the CLI. Two stages on Debian 12
# slim: the build stage has the -dev packages of scripts/deps.sh, the runtime
# stage only the shared libraries brix links against.
#   docker build -t brix:0.1.0 .
# deploy/kustomization.yaml names this image `brix`.

ARG DEBIAN_IMAGE=debian:bookworm-slim

FROM ${DEBIAN_IMAGE} AS build
ARG DEBIAN_FRONTEND=noninteractive
# The libraries of CMakeLists.txt (pkg-config names: libuv jansson yaml-0.1
# libzmq msgpack libcbor libcrypto libcurl hiredis; http_parser, xxhash,
# SQLite3), as scripts/deps.sh installs them; no test tools.
RUN apt-get update \
    && apt-get install -y --no-install-recommends \
        build-essential cmake pkg-config \
        libuv1-dev libhttp-parser-dev libjansson-dev libyaml-dev libcurl4-openssl-dev \
        libhiredis-dev libsqlite3-dev libxxhash-dev libzmq3-dev \
        libmsgpack-dev libcbor-dev libssl-dev \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY CMakeLists.txt ./
COPY include ./include
COPY src ./src
RUN cmake -S . -B build -DCMAKE_BUILD_TYPE=Release -DBRIX_TESTS=OFF \
    && cmake --build build -j"$(nproc)" --target brix \
    && strip build/brix

FROM ${DEBIAN_IMAGE}
ARG DEBIAN_FRONTEND=noninteractive
# Runtime libraries only (the packages the -dev ones above depend on), and CA
# certificates for HTTPS (adapter downloads; the API server's CA comes from the
# service account), and tzdata for PodAutoscaler schedules' time zones.
RUN apt-get update \
    && apt-get install -y --no-install-recommends \
        libuv1 libhttp-parser2.9 libjansson4 libyaml-0-2 libcurl4 \
        libhiredis0.14 libsqlite3-0 libxxhash0 libzmq5 \
        libmsgpackc2 libcbor0.8 libssl3 ca-certificates tzdata \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --system --gid 65532 brix \
    && useradd --system --uid 65532 --gid 65532 --no-create-home \
        --home-dir /nonexistent --shell /usr/sbin/nologin brix
COPY --from=build /src/build/brix /usr/local/bin/brix
# Numeric, so that runAsNonRoot can check it without reading /etc/passwd.
USER 65532:65532
# Gateway 8888, gateway metrics 9090, controller metrics 8080 and probes 8081
# (deploy/*.yaml); informative only.
EXPOSE 8888 9090 8080 8081
ENTRYPOINT ["/usr/local/bin/brix"]
CMD ["--help"]
