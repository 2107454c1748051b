# hypercim build, test and benchmark entry points.
# `make run` starts the daemon on ./var/hypercim; `make test` is what CI runs.

GO        ?= go
BIN       := bin
DATA_DIR  ?= ./var/hypercim
GOFLAGS   ?=
FUZZTIME  ?= 30s
TESTFLAGS ?= -timeout 30m
VERSION   := 0.1.0
REVISION  := $(shell git rev-parse --short HEAD 2>/dev/null)
LDFLAGS   := -X main.version=$(VERSION)$(if $(REVISION),+$(REVISION))

.PHONY: all build run test deps vet fmt-check lint bench fuzz clean testguest firmware

all: build

build: testguest firmware
	$(GO) build $(GOFLAGS) -ldflags '$(LDFLAGS)' -o $(BIN)/hypercimd ./cmd/hypercimd
	$(GO) build $(GOFLAGS) -o $(BIN)/hypercim ./cmd/hypercim
	$(GO) build $(GOFLAGS) -o $(BIN)/hypercim-vmm ./cmd/hypercim-vmm

# The freestanding test guest the VMM boots (hypervisor issue).
testguest:
	@if [ -f hypervisor/testguest/Makefile ]; then $(MAKE) -s -C hypervisor/testguest OUT=$(CURDIR)/$(BIN)/hypercim-testguest; fi

# The paravirtual BIOS of firmware boot (hypervisor/kvm/bios), beside the
# binaries that look for it there.
firmware:
	@$(MAKE) -s -C hypervisor/kvm/bios/firmware OUT=$(CURDIR)/$(BIN)/hypercim-bios

run: build
	$(BIN)/hypercimd --data-dir $(DATA_DIR)

# Installs what the tests need (idempotent, quiet when present).
deps:
	@scripts/install-deps.sh

vet:
	$(GO) vet ./...

fmt-check:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt needed on:"; echo "$$out"; exit 1; fi

lint: vet fmt-check

test: deps build lint
	$(GO) test $(TESTFLAGS) ./...
	@# The escaping's word loops, which CPUs without AVX2 run, once more.
	GODEBUG=cpu.avx2=off $(GO) test $(TESTFLAGS) -count=1 ./wbem/internal/xmlesc/ ./wbem/cimxml/xmlcodec/

bench: deps build
	@scripts/bench.sh

fuzz:
	@scripts/fuzz.sh $(FUZZTIME)

clean:
	rm -rf $(BIN)
