# AllSource: `make run` builds and starts the server on embedded defaults,
# `make test` runs every test, `make bench` runs the benchmarks.

GO       ?= go
BIN      := bin/allsource
PKGS     := ./...
DATA_DIR ?= ./data
# duckdb_arrow lets the engine hand query results to Go as Arrow arrays
# (the analytics feeds); without it the same results are copied row by row.
TAGS     ?= duckdb_arrow
# The version the binary reports (allsource version, /v1/status).
VERSION  ?= $(shell git describe --tags --always --dirty 2>/dev/null)
LDFLAGS  := -X main.version=$(VERSION)

.PHONY: all build run test test-short vet fmt bench bench-build bench-go fuzz soak clean

all: build

build:
	$(GO) build -tags "$(TAGS)" -ldflags "$(LDFLAGS)" -o $(BIN) ./cmd/allsource

run: build
	./$(BIN) serve --data-dir $(DATA_DIR)

vet:
	@unformatted=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$unformatted" ]; then echo "gofmt needed:"; echo "$$unformatted"; exit 1; fi
	$(GO) vet -tags "$(TAGS)" $(PKGS)
	$(GO) vet -tags "$(TAGS) bench" ./cmd/allsource/
	$(GO) vet ./warehouse/

# Every test, including the process-level crash tests and the real-dataset
# import. The packages with code for both builds run again without the
# tags. The race detector runs on the storage packages, the file readers,
# the query cache, EventQL, the analytics feeds, exports, projections and
# the Postgres front end.
test: vet
	$(GO) test -tags "$(TAGS)" -count=1 -timeout 20m $(PKGS)
	$(GO) test -count=1 -timeout 10m ./warehouse/ ./analytics/ ./export/
	$(GO) test -tags "$(TAGS)" -count=1 -race -timeout 10m ./analytics/ ./export/ ./authz/ ./projections/ ./wal/ ./ingest/ ./sqlguard/ ./warehouse/ ./internal/source/ ./internal/demo/ ./internal/qcache/ ./eventql/ ./pgwire/

test-short: vet
	$(GO) test -tags "$(TAGS)" -short -count=1 $(PKGS)

# Go micro-benchmarks, then the end-to-end ingest benchmark against DuckDB's
# Appender and PostgreSQL COPY, the query comparison over 10M events, and
# the pgwire front end against PostgreSQL (point queries, full reads), and
# the analytics endpoints against DuckDB SQL and ClickHouse over 10M events,
# the same questions on the shared peergen data set against ClickHouse in
# its best set-up (PEERGEN: the generator's source directory),
# ingest with authentication against ingest without, projection lag under a
# paced ingest (against SQL over events), WebSocket fan-out, entity
# streams from the entity index against the query they replace, and entity
# reads (pgbench's prepared point query, streams over HTTP and the Go API)
# against PostgreSQL with start-up and memory at 10 M and 50 M events.
# The benchmarks and their peers' launchers are not in the production
# binary: bench-build makes one with them (same path, bin/allsource).
PEERGEN ?= ../shared/tools/peergen

bench-build:
	$(GO) build -tags "$(TAGS) bench" -o $(BIN) ./cmd/allsource

bench: bench-build
	$(GO) test -tags "$(TAGS)" -run '^$$' -bench . ./wal/ ./ingest/
	./$(BIN) bench ingest --query-events $${QUERY_EVENTS:-10000000}
	./$(BIN) bench pgwire --events $${PGWIRE_EVENTS:-1000000}
	./$(BIN) bench analytics --events $${ANALYTICS_EVENTS:-10000000}
	@if [ -d $(PEERGEN) ]; then \
		./$(BIN) bench peergen --generator $(PEERGEN) --events $${PEERGEN_EVENTS:-10000000}; \
	else \
		echo "bench: *** SKIPPED the ClickHouse comparison on the peergen data: no generator at $(PEERGEN) (set PEERGEN=DIR) ***" >&2; \
	fi
	./$(BIN) bench auth
	./$(BIN) bench projections
	./$(BIN) bench fanout --subscribers 1000 --rate 10000 --batched
	$(GO) test -tags "$(TAGS)" -run '^$$' -bench 'Apply|FanOut' ./projections/
	$(GO) test -tags "$(TAGS)" -run '^$$' -bench EntityEvents ./warehouse/
	./$(BIN) bench entity --events $${ENTITY_EVENTS:-10000000} --more $${ENTITY_MORE:-40000000}

# The hostile-tenant soak: one tenant attacks every surface for
# SOAK (default 5m) while another's queries are timed before and during.
soak:
	ALLSOURCE_SOAK=$${SOAK:-5m} $(GO) test -tags "$(TAGS)" -count=1 -run TestHostileSoak -v -timeout 30m ./cmd/allsource/

# A short run of every fuzzer.
fuzz:
	@for f in $$(grep -rhoE '^func (Fuzz[A-Za-z0-9_]+)' --include='*_test.go' . | sed 's/func //' | sort -u); do \
		pkg=$$(grep -rlE "^func $$f\(" --include='*_test.go' . | head -1 | xargs dirname); \
		echo "fuzz $$pkg $$f"; $(GO) test -tags "$(TAGS)" -run '^$$' -fuzz "^$$f$$" -fuzztime $${FUZZTIME:-20s} $$pkg || exit 1; \
	done

clean:
	rm -rf bin
