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

test: ## go vet, then every test with the race detector (TESTFLAGS adds flags)
	$(GO) vet ./...
	$(GO) test -race -count=1 $(TESTFLAGS) ./...

demo: build ## run a local network of five nodes through the main user journey
	@bash scripts/demo.sh

bench: ## run the benchmarks and print each one against its baseline
	@bash scripts/bench.sh

fuzz: ## run every fuzz target for FUZZTIME each (default 10s)
	@FUZZTIME=$(FUZZTIME) bash scripts/fuzz.sh

lint: ## go vet, gofmt and staticcheck
	$(GO) vet ./...
	@unformatted=$$(gofmt -l .); if [ -n "$$unformatted" ]; then \
		echo "gofmt: these files are not formatted (run gofmt -w):" >&2; \
		echo "$$unformatted" >&2; exit 1; fi
	$(GO) run honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION) ./...

proto: ## regenerate the Go code of api/custos.proto (and, later, the JS SDK's)
ifeq ($(PROTO_FILES),)
	@echo "make proto: there are no .proto files under api/; nothing to do"
else
	@command -v protoc >/dev/null || { \
		echo "make proto: protoc not found; install it with: apt-get install protobuf-compiler" >&2; exit 1; }
	GOBIN=$(CURDIR)/bin/tools $(GO) install google.golang.org/protobuf/cmd/protoc-gen-go@$(PROTOC_GEN_GO_VERSION)
	protoc --plugin=protoc-gen-go=bin/tools/protoc-gen-go --go_out=. --go_opt=paths=source_relative $(PROTO_FILES)
endif

clean: ## remove ./bin
	rm -rf bin
