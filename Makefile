# custos: run `make` or `make help` to list the targets.

GO                    ?= go
STATICCHECK_VERSION   ?= v0.8.2
PROTOC_GEN_GO_VERSION ?= v1.36.12
FUZZTIME              ?= 10s
TESTFLAGS             ?=
# make install puts custos and custosd in PREFIX/bin when PREFIX is set, else
# in GOBIN (go env GOBIN, else $(go env GOPATH)/bin, as go install does), with
# the commit they were built from (-buildvcs=auto, whatever GOFLAGS says), for
# their --version.
PREFIX                ?=

# Generated Go code is committed, so only `make proto` needs protoc.
PROTO_FILES := $(sort $(shell find api -name '*.proto' 2>/dev/null))

.DEFAULT_GOAL := help
.PHONY: help build install test demo bench fuzz lint proto clean

help: ## list the targets
	@awk 'BEGIN { FS = ":.*## " } /^[a-z]+:.*## / { printf "  %-8s %s\n", $$1, $$2 }' $(MAKEFILE_LIST)

build: ## build every package; main packages (custosd, custos) go into ./bin
	@mkdir -p bin
	$(GO) build ./...
	@mains=$$($(GO) list -f '{{if eq .Name "main"}}{{.ImportPath}}{{end}}' ./...); \
	if [ -n "$$mains" ]; then echo $(GO) build -o bin/ $$mains; $(GO) build -o bin/ $$mains; fi

install: ## put custos and custosd on the PATH: into PREFIX/bin if set, else GOBIN (as go install)
	@if [ -n "$(PREFIX)" ]; then dir="$(abspath $(PREFIX))/bin"; mkdir -p "$$dir"; \
	else dir=$$($(GO) env GOBIN); [ -n "$$dir" ] || dir="$$($(GO) env GOPATH)/bin"; fi; \
	echo GOBIN="$$dir" $(GO) install -buildvcs=auto ./client/cmd/custos ./node/cmd/custosd; \
	GOBIN="$$dir" $(GO) install -buildvcs=auto ./client/cmd/custos ./node/cmd/custosd || exit 1; \
	echo "installed custos and custosd in $$dir"; \
	case ":$$PATH:" in *":$$dir:"*) ;; \
	*) echo "$$dir is not on your PATH; add it, e.g.: export PATH=\"$$dir:\$$PATH\"" ;; esac

test: ## go vet, every Go test with the race detector (TESTFLAGS adds flags), then the JS SDK's tests and its browser tests
	$(GO) vet ./...
	$(GO) test -race -count=1 $(TESTFLAGS) ./...
	@$(MAKE) --no-print-directory test-js

# The JS SDK's tests build custosd and custos themselves and start real nodes.
.PHONY: test-js
test-js:
	@command -v npm >/dev/null || { echo "make test: npm not found; the JS SDK's tests need Node.js 20 and npm" >&2; exit 1; }
	@[ -d client/js/node_modules ] || (cd client/js && npm ci --no-audit --no-fund)
	cd client/js && npm test
	@$(MAKE) --no-print-directory test-web

# The example web app in headless Chromium (Debian's; nothing is downloaded)
# against real nodes, over WebSocket and WebTransport.
.PHONY: test-web
test-web:
	@[ -x "$${CHROMIUM:-/usr/bin/chromium}" ] || { echo "make test: no Chromium at $${CHROMIUM:-/usr/bin/chromium}; the browser tests need Debian's: apt-get install chromium" >&2; exit 1; }
	@[ -d client/js/examples/web/node_modules ] || (cd client/js/examples/web && npm ci --no-audit --no-fund)
	cd client/js/examples/web && npm test

demo: build ## run a local network of five nodes through the main user journey
	@bash scripts/demo.sh

bench: ## run the benchmarks and print each one against its baseline
	@bash scripts/bench.sh
	@if command -v npm >/dev/null; then $(MAKE) --no-print-directory bench-js; else echo "make bench: npm not found; the JS SDK's bench skipped" >&2; fi

# The JS SDK's benches: its warm get in Node.js, and the example app's cold unlock in
# Chromium (with Argon2id's share and the bundle size), each against the Go client's.
.PHONY: bench-js
bench-js:
	@[ -d client/js/node_modules ] || (cd client/js && npm ci --no-audit --no-fund)
	@[ -d client/js/examples/web/node_modules ] || (cd client/js/examples/web && npm ci --no-audit --no-fund)
	cd client/js && npm run bench

fuzz: ## run every fuzz target for FUZZTIME each (default 10s)
	@FUZZTIME=$(FUZZTIME) bash scripts/fuzz.sh

lint: ## go vet, gofmt and staticcheck
	$(GO) vet ./...
	@unformatted=$$(gofmt -l .); if [ -n "$$unformatted" ]; then \
		echo "gofmt: these files are not formatted (run gofmt -w):" >&2; \
		echo "$$unformatted" >&2; exit 1; fi
	$(GO) run honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION) ./...

proto: ## regenerate the Go and the JS SDK's code of api/custos.proto
ifeq ($(PROTO_FILES),)
	@echo "make proto: there are no .proto files under api/; nothing to do"
else
	@command -v protoc >/dev/null || { \
		echo "make proto: protoc not found; install it with: apt-get install protobuf-compiler" >&2; exit 1; }
	GOBIN=$(CURDIR)/bin/tools $(GO) install google.golang.org/protobuf/cmd/protoc-gen-go@$(PROTOC_GEN_GO_VERSION)
	protoc --plugin=protoc-gen-go=bin/tools/protoc-gen-go --go_out=. --go_opt=paths=source_relative $(PROTO_FILES)
	@[ -d client/js/node_modules ] || (cd client/js && npm ci --no-audit --no-fund)
	cd client/js && npm run proto
endif

clean: ## remove ./bin
	rm -rf bin
