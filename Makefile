# The README's commands. `make test` is what CI runs (.ci/run).

GO ?= go

.PHONY: run test vet fmt fuzz

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

# Run every fuzz target for FUZZTIME, one at a time (go test -fuzz takes one
# target per run). `make test` runs only their seed corpora, kept in each
# package's testdata/fuzz/<target>; new failing inputs the fuzzer finds are
# written there too, and belong in the commit that fixes them.
FUZZTIME ?= 30s
FUZZ_TARGETS = \
	FuzzAuthenticateClient:./internal/provider \
	FuzzTokenEndpoint:./internal/server \
	FuzzIntrospect:./internal/server \
	FuzzRevoke:./internal/server \
	FuzzAuthorize:./internal/server \
	FuzzLogin:./internal/server \
	FuzzConsent:./internal/server \
	FuzzParse:./internal/token \
	FuzzValidate:./internal/redirect \
	FuzzMatch:./internal/redirect \
	FuzzVerify:./internal/password \
	FuzzVerify:./verifier \
	FuzzPageToken:./internal/admin \
	FuzzCreateClient:./internal/admin \
	FuzzCreateUser:./internal/admin \
	FuzzResourceIdentifier:./internal/admin \
	FuzzEncryptionKeys:./internal/admin \
	FuzzCreateResource:./internal/admin \
	FuzzUpdate:./internal/admin \
	FuzzAdminAuthorization:./internal/admin

fuzz:
	@set -e; for t in $(FUZZ_TARGETS); do \
		name=$${t%%:*}; pkg=$${t#*:}; \
		echo "== $$name ($$pkg, $(FUZZTIME))"; \
		$(GO) test -run '^$$' -fuzz "^$$name\$$" -fuzztime $(FUZZTIME) $$pkg; \
	done
