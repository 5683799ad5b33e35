# vitrine — see README.md. Every target works from a fresh clone.
GO        ?= go
BIN       ?= bin/vitrine
PKGS      ?= ./...
TESTFLAGS ?= -count=1 -timeout 20m

.PHONY: run build test bench lint fuzz clean

## run: the demo — sample board, embedded store, customer pages on 127.0.0.1:8080
run: build
	cd deploy/demo && ../../$(BIN) demo

build:
	$(GO) build -o $(BIN) ./cmd/vitrine

## test: the whole suite (unit, integration against SQLite, Redis and Chromium when present)
test:
	$(GO) vet $(PKGS)
	$(GO) test $(TESTFLAGS) $(PKGS)

## bench: benchmarks; figures land in BENCHMARKS.md
bench:
	$(GO) run ./cmd/benchreport -out BENCHMARKS.md

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet $(PKGS)

clean:
	rm -rf bin

## fuzz: every fuzz target for FUZZTIME (default 30s each); crashers land in testdata/fuzz
FUZZTIME ?= 30s
fuzz:
	@set -e; for pkg in $$($(GO) list ./...); do \
	  dir=$$($(GO) list -f '{{.Dir}}' $$pkg); \
	  for f in $$(grep -ho '^func Fuzz[A-Za-z0-9_]*' $$dir/*_test.go 2>/dev/null | sed 's/func //'); do \
	    echo "fuzz $$pkg $$f ($(FUZZTIME))"; \
	    $(GO) test -run '^$$' -fuzz "^$$f$$" -fuzztime $(FUZZTIME) -fuzzminimizetime 1s $$pkg; \
	  done; \
	done
