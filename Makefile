# The README's commands. `make test` is what CI runs (.ci/run).

GO ?= go

.PHONY: run test vet fmt

# Start Veil (development mode unless VEIL_DATABASE_URL is set).
run:
	$(GO) run ./cmd/veil serve

# Run the whole test suite against a real PostgreSQL, started if needed.
test:
	@test -z "$$(gofmt -l .)" || { echo "gofmt needed on:"; gofmt -l .; exit 1; }
	$(GO) vet ./...
	CI=$${CI:-true} ./.ci/ensure-chromium ./.ci/with-postgres $(GO) test -count=1 -timeout 15m ./...

vet:
	$(GO) vet ./...

fmt:
	gofmt -w .
