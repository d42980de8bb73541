# MinIO's community server is published as source: build the pinned version.
# Keep MINIO_VERSION equal to fieldhouse.localstack.MINIO_VERSION.
FROM golang:1.24-bookworm AS build
ARG MINIO_VERSION=v0.0.0-20260212201848-7aac2a2c5b7c
RUN CGO_ENABLED=0 GOBIN=/out go install -trimpath github.com/minio/minio@${MINIO_VERSION}

FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates curl \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --create-home --uid 1000 minio \
    && mkdir /data1 /data2 /data3 /data4 && chown minio /data1 /data2 /data3 /data4
COPY --from=build /out/minio /usr/local/bin/minio
USER minio
EXPOSE 9000 9001
ENTRYPOINT ["minio"]
CMD ["server", "/data{1...4}", "--address", ":9000", "--console-address", ":9001"]
