# wincri — see README.md. Every target works from a clean clone.
GO        ?= go
export GOTOOLCHAIN ?= local
export PATH := /usr/local/go/bin:$(PATH)
# Semantic (the kubelet shows a runtime version that is not as "Unknown"):
# a v-tag's version, else 0.1.0-dev with the commit as build metadata.
VERSION   ?= $(shell v=$$(git describe --tags --match 'v[0-9]*' --dirty 2>/dev/null) && echo $${v\#v} || echo 0.1.0-dev+$$(git describe --always --dirty 2>/dev/null || echo unknown))
LDFLAGS   := -s -w -X github.com/wincri/wincri/runtime.Version=$(VERSION)
BIN       := bin
WINE      := $(abspath ../shared/wine)
SHIM_VERSION := v2.4.2
RUNC_VERSION := v1.5.2

.PHONY: cluster-up cluster-down test-cluster test-cluster-windows node-e2e test-node-e2e test-windows-e2e containerd-wincri winspec-golden proto all build test test-unit test-race test-windows test-fuzz lint cross bench fuzz deps clean

all: build

build:
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN)/wincri ./cmd/wincri
	CGO_ENABLED=0 GOOS=windows $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN)/wincri.exe ./cmd/wincri

# What the tests need on the machine: the shim, runc, CNI plugins (installed if
# missing), and the kubelet of test/kubelet (built once, ~15 min cold, then cached),
# so that no test's timeout pays for that build.
deps:
	hack/install-deps.sh
	hack/build-kubelet.sh >/dev/null
	hack/build-node-e2e.sh >/dev/null

# The whole test suite: checks, Linux unit + integration tests (including
# the kill -9 and chaos tests), 8 concurrent clients against a -race daemon,
# Windows tests under Wine, Windows pods end to end under Wine against the
# emulated HCS/HCN, and a short pass of every fuzz target.
test: lint cross deps test-unit test-race test-windows test-windows-e2e test-node-e2e test-fuzz

test-unit:
	$(GO) test -count=1 -timeout 20m ./...

test-race:
	WINCRI_RACE=1 $(GO) test -count=1 -race -run 'TestConcurrentClients' -timeout 10m ./test/integration/

test-fuzz:
	FUZZTIME=3s hack/fuzz.sh

# Windows build of every package's tests, run under Wine (../shared/wine).
test-windows:
	@if [ -x $(WINE)/wine-exec.sh ]; then \
		GOOS=windows $(GO) test -count=1 -overlay="$$($(WINE)/setup.sh --overlay)" -exec $(WINE)/wine-exec.sh ./... ; \
	else echo "test-windows: no ../shared/wine beside this repo; Windows tests not run"; exit 1; fi

# Windows pods end to end: wincri.exe, the real runhcs shim and Windows CNI
# plugins under Wine, against test/hcsemu (see docs/windows.md).
test-windows-e2e:
	hack/windows-e2e.sh

lint:
	@echo '$(VERSION)' | grep -Eq '^[0-9]+\.[0-9]+\.[0-9]+(-[0-9A-Za-z.-]+)?(\+[0-9A-Za-z.-]+)?$$' || { echo "VERSION $(VERSION) is not a semantic version"; exit 1; }
	$(GO) vet ./...
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

cross:
	GOOS=windows $(GO) build ./...
	GOOS=windows $(GO) vet ./...
	cd cmd/containerd-wincri && GOOS=windows CGO_ENABLED=0 $(GO) build -tags no_cri -o /dev/null .

# containerd (the version go.mod pins) with wincri's CRI as its plugin
# io.containerd.grpc.v1.wincri instead of its own (a separate module, so that
# containerd's builtins stay out of wincri's go.mod); see docs/containerd-plugin.md.
containerd-wincri:
	cd cmd/containerd-wincri && CGO_ENABLED=0 $(GO) build -tags no_cri -trimpath -o ../../$(BIN)/containerd-wincri .
	cd cmd/containerd-wincri && GOOS=windows CGO_ENABLED=0 $(GO) build -tags no_cri -trimpath -o ../../$(BIN)/containerd-wincri.exe .

# Benchmarks, never part of `make test`: wincri against the reference
# containerd on the harness (hack/bench.sh), then the go benchmarks
# (ListPodSandboxStats over WINCRI_BENCH_PODS running pods, default 100).
bench: deps
	hack/bench.sh
	$(GO) test -count=1 -run '^$$' -bench . -benchtime 50x -timeout 30m ./...

# Kubernetes' node conformance suite (test/e2e_node [NodeConformance]) against
# wincri, or with NODE_E2E_RUNTIME=containerd against containerd 2.4.2; never
# part of `make test` (about an hour); see docs/node-conformance.md.
node-e2e: deps
	hack/node-e2e.sh

# The part of node conformance `make test` runs (a few minutes): the specs
# where the full run found wincri bugs (docs/node-conformance.md), on wincri
# only, every one of them to pass.
NODE_E2E_SUBSET := (Containers Lifecycle .*(restart when updated with a new image|successfully restart when the image is updated)|Downward API volume should provide container.s (cpu|memory) limit|should execute poststart https hook|Containers should use the image defaults|termination message from log output if TerminationMessagePolicy FallbackToLogsOnError).*\[NodeConformance\]
test-node-e2e:
	NODE_E2E_FOCUS='$(NODE_E2E_SUBSET)' NODE_E2E_COMPARE=0 NODE_E2E_OUT=/var/tmp/wincri-node-e2e/subset/wincri-$$(date +%Y%m%d-%H%M%S) hack/node-e2e.sh

# A single-machine cluster whose node runs on wincri (hack/cluster.sh; the
# builds are cached, ~20 min cold): `make cluster-up`, then
# `eval $$(hack/cluster.sh env)` points kubectl at it.
cluster-up: deps
	hack/build-cluster.sh >/dev/null
	hack/cluster.sh up

cluster-down:
	hack/cluster.sh down

# The cluster's checks (test/cluster): brings a cluster up, runs them, takes it down.
test-cluster: deps
	hack/build-cluster.sh >/dev/null
	WINCRI_CLUSTER=1 $(GO) test -count=1 -v -timeout 40m ./test/cluster/

# The Windows node in that cluster: kubelet.exe on wincri.exe under Wine (#24).
test-cluster-windows:
	hack/cluster-windows.sh

# Every fuzz target for FUZZTIME (default 30s) each.
fuzz:
	hack/fuzz.sh

clean:
	rm -rf $(BIN)

# Regenerate proto/ Go code (needs protoc and protoc-gen-go).
proto:
	protoc -I proto --go_out=proto --go_opt=paths=source_relative records/records.proto

# Regenerate runtime/testdata/windows-golden-*.json by running containerd's own
# Windows CRI code (the version go.mod pins) on runtime/testdata/windows-fixtures.json
# under Wine; `make test` compares wincri's Windows specs with them.
winspec-golden:
	hack/winspec-golden/gen.sh
