# Builds the one orderdesk binary; every service of docker-compose.yml runs it.
FROM rust:1.95-bookworm AS build
WORKDIR /src
COPY Cargo.toml Cargo.lock build.rs ./
# the checked SQL's offline data and the SQLX_OFFLINE=true that makes the build use it:
# no database is reachable while the image builds
COPY .cargo ./.cargo
COPY .sqlx ./.sqlx
COPY src ./src
# the documents' fonts, compiled into the binary (src/documents/fonts.rs)
COPY assets ./assets
COPY domain ./domain
COPY sandbox ./sandbox
COPY bench ./bench
COPY migrations ./migrations
COPY benches ./benches
COPY tests ./tests
RUN cargo build --release --locked --bin orderdesk

FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates && rm -rf /var/lib/apt/lists/*
COPY --from=build /src/target/release/orderdesk /usr/local/bin/orderdesk
COPY workflows.toml /etc/orderdesk/workflows.toml
ENV ORDERDESK_WORKFLOWS=/etc/orderdesk/workflows.toml
USER nobody
ENTRYPOINT ["orderdesk"]
