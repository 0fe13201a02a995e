# Builds the veil binary into a small image. Used by docker-compose.yml.
# .dockerignore sends only the sources into the build: `COPY . .` below
# cannot pick up ./secrets/ or .git.
FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o /out/veil ./cmd/veil

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/veil /usr/local/bin/veil
USER nonroot:nonroot
EXPOSE 8080 8081
ENTRYPOINT ["/usr/local/bin/veil"]
CMD ["serve"]
