# edgebox: `make run` boots the image in QEMU, `make test` proves it works.
SHELL := /bin/bash
.SHELLFLAGS := -o pipefail -c
GOPATH_BIN := $(shell go env GOPATH 2>/dev/null || echo $(HOME)/go)/bin
export PATH := $(PATH):/usr/local/go/bin:$(GOPATH_BIN)
OUT := $(CURDIR)/out
# -p 4: four packages at once. Most of the suite waits (QEMU guests, real
# peers, timers): at go test's default of one package per core the 2-core
# CI machine sat at a load of ~1.1 for 28 minutes.
GOTEST_FLAGS ?= -count=1 -timeout 30m -p 4

.PHONY: all deps image run test lint unit bench bench-all fuzz keys clean

all: image

deps:
	@scripts/deps.sh

image: deps keys
	go run ./cmd/mkimage build -out $(OUT)

# A development key pair for signing update bundles (out/keys; release
# keys live offline and are given with EDGEBOX_KEYS_DIR).
keys:
	go run ./cmd/mkimage keys -out $(OUT)

run: image
	go run ./cmd/mkimage boot -out $(OUT)

lint: deps
	@fmt=$$(gofmt -l $$(git ls-files '*.go') 2>/dev/null); if [ -n "$$fmt" ]; then echo "gofmt needed:"; echo "$$fmt"; exit 1; fi
	go vet ./...
	staticcheck ./...

# The whole suite: unit, transcript and fuzz-seed tests, network-namespace
# tests with real peers, and QEMU boots of the real disk image.
# go test runs -p packages at once (GOTEST_FLAGS), starting them in the
# order named: the longest (image's QEMU boots, gateway, netctl) go first
# so that the short ones fill the gaps at the end instead of a long one
# starting last and running alone.
TEST_FIRST := ./image/ ./gateway/ ./netctl/ ./modem/ ./web/
test: lint image
	EDGEBOX_IMAGE_DIR=$(OUT) go test $(GOTEST_FLAGS) $(TEST_FIRST) ./...

# Figures comparable run to run (ratios against a baseline of the same run):
# gateway load matrix and hot paths (calldial bench), boot time to /healthz
# with init's boot phases, a first and a later boot, idle memory of the
# services and the kernel + initramfs size (BenchmarkBootToHealthz),
# uplink failover time, the field day's phases (image/fieldday_test.go).
# bench-all runs every Go benchmark in the tree.
bench: image
	@mkdir -p $(OUT)
	go run ./devtools/cmd/calldial bench | tee $(OUT)/bench.txt
	EDGEBOX_IMAGE_DIR=$(OUT) go test -run '^$$' -bench 'BootToHealthz' -benchtime 2x -timeout 20m ./image/ | tee -a $(OUT)/bench.txt
	EDGEBOX_IMAGE_DIR=$(OUT) go test -run '^$$' -bench 'FieldDay' -benchtime 1x -timeout 30m ./image/ | tee -a $(OUT)/bench.txt
	go test -run '^$$' -bench 'Failover' -benchtime 10x -timeout 10m ./netctl/ | tee -a $(OUT)/bench.txt
	go test -count=1 -v -run 'TestPortalSpreadsCallsAcrossBoxes|TestDispatcherAcrossBoxes|TestPBXSideAcrossBoxes' -timeout 10m ./gateway/ | grep -E 'fleet run|failed over' | tee -a $(OUT)/bench.txt

bench-all: image
	EDGEBOX_IMAGE_DIR=$(OUT) go test -run '^$$' -bench . -benchmem -timeout 30m ./...

fuzz: deps
	scripts/fuzz.sh $${FUZZTIME:-30s}

clean:
	rm -rf $(OUT)
