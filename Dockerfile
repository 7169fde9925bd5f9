# syntax=docker/dockerfile:1
# One image, three programs: `worker`, `starter` (CLI and `starter serve`, the HTTP API) and
# `cloudsim` (the Invoice Cloud simulator). Pick one with the command, e.g.
#   docker run rimflow worker
#   docker run -p 8080:8080 rimflow starter serve
# devstack is not in the image: it embeds a Temporal server for laptops; clusters use compose.

FROM golang:1.26 AS build
# The module pins its Go version; never download another toolchain during the build.
ENV GOTOOLCHAIN=local CGO_ENABLED=0 GOOS=linux
WORKDIR /src
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/go/pkg/mod go mod download
COPY . .
RUN --mount=type=cache,target=/go/pkg/mod --mount=type=cache,target=/root/.cache/go-build \
    mkdir -p /out /keys && go build -trimpath -ldflags="-s -w" -o /out/ ./worker ./starter ./cloudsim

# Static binaries on distroless: no shell, no package manager, a non-root user.
FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/worker /out/starter /out/cloudsim /usr/local/bin/
# The payload key file's directory (compose mounts the rimflow-keys volume here), owned by the
# non-root user so `starter codec-keys` can create the file in a fresh volume.
COPY --from=build --chown=65532:65532 /keys /keys
USER nonroot:nonroot
CMD ["worker"]
