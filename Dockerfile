# syntax=docker/dockerfile:1
#
# rolecall: one image for the store (`rolecall store`) and the sidecar
# (`rolecall sidecar`).
#
#   docker build -t rolecall:0.1.0 .
#   docker run --rm rolecall:0.1.0 --help

# ---- build ---------------------------------------------------------------
FROM rust:1-bookworm AS build
WORKDIR /src

# protoc comes vendored through the build script: no apt packages needed.
COPY . .
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/usr/local/cargo/git \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked --bin rolecall \
 && install -D -m 0755 target/release/rolecall /out/rolecall

# ---- runtime -------------------------------------------------------------
FROM debian:bookworm-slim AS runtime

RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --system --gid 10001 rolecall \
 && useradd --system --uid 10001 --gid rolecall --no-create-home \
      --home-dir /var/lib/rolecall --shell /usr/sbin/nologin rolecall \
 && install -d -o rolecall -g rolecall -m 0750 /var/lib/rolecall /var/cache/rolecall /var/run/rolecall

COPY --from=build /out/rolecall /usr/local/bin/rolecall

# The default SQLite database (`sqlite://rolecall.db`) lands in the working
# directory; mount a volume here, or pass a postgres:// URL.
WORKDIR /var/lib/rolecall
USER 10001:10001

# store: HTTP (SCIM, admin API, /healthz, /metrics) and SnapshotSync.
# sidecar: the Authorizer (gRPC) and /healthz, /metrics.
EXPOSE 8080 50052 50051 9090

ENTRYPOINT ["rolecall"]
CMD ["--help"]
