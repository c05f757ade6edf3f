# syntax=docker/dockerfile:1
# Build: a static binary (no cgo: modernc.org/sqlite is pure Go).
FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
RUN CGO_ENABLED=0 go build -trimpath -ldflags "-s -w -X main.version=${VERSION}" -o /out/ssegate ./cmd/ssegate \
 && mkdir -p /out/data

# Run: distroless static has CA certificates (for a TLS backend or remote
# KMS) and a non-root user, and nothing else.
FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/ssegate /usr/local/bin/ssegate
# /data must belong to the nonroot user (65532) so a fresh volume is writable.
COPY --from=build --chown=65532:65532 /out/data /data
USER 65532:65532
VOLUME ["/data"]
EXPOSE 9900
ENV SSEGATE_LISTEN=0.0.0.0:9900 SSEGATE_DATA_DIR=/data
# healthcheck reads SSEGATE_LISTEN (and SSEGATE_TLS_CERT) like serve does.
HEALTHCHECK --interval=30s --timeout=5s --start-period=10s --retries=3 CMD ["ssegate", "healthcheck"]
ENTRYPOINT ["ssegate"]
CMD ["serve", "--listen", "0.0.0.0:9900", "--data-dir", "/data"]
