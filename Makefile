# kzoo: build, test and package. `make help` lists the targets.

GO        ?= go
BIN       := bin/kzoo
DIST      := dist/kzoo
TEST_TIMEOUT  ?= 20m
INTEG_TIMEOUT ?= 45m
SIM_SEEDS ?= 2000
# Packages that must stay pure state machines: no net, os or time imports.
PURE      := coordinator/tree coordinator/zab broker/controller

.PHONY: all help build test verify integ sim bench bench-go dist run clean

all: build

help:
	@echo "make build   - build $(BIN)"
	@echo "make test    - the whole suite with -race"
	@echo "make verify  - gofmt, go vet, go mod tidy check, pure-core import check"
	@echo "make integ   - black-box tests of the real binary (-tags integration)"
	@echo "make sim     - deterministic simulations over SIM_SEEDS=$(SIM_SEEDS) seeds"
	@echo "make bench   - kzoo side by side with Apache ZooKeeper and franz-go's kfake, as ratios"
	@echo "make bench-go - the Go micro-benchmarks"
	@echo "make dist    - $(DIST)/{bin,config,conf,logs}"
	@echo "make run     - a local cluster under ./run/, stopped with Ctrl-C"
	@echo "make clean   - remove bin/, dist/ and run/"

build:
	@mkdir -p bin
	$(GO) build -o $(BIN) ./cli/kzoo

# test: every package with -race, then the ensemble's black-box checks on
# real processes: linearizability under kill -9 and partitions (porcupine),
# and one leader / any one loss / no split.
test:
	$(GO) test -race -timeout $(TEST_TIMEOUT) ./...
	$(GO) test -tags integration -count=1 -timeout $(TEST_TIMEOUT) -run 'TestEnsembleLinearizableUnderFaults|TestEnsembleQuorumOneLeaderAnyOneLossNoSplit|TestEnsembleModel' ./integration/

verify:
	@out="$$(gofmt -l .)"; \
	if [ -n "$$out" ]; then echo "gofmt -l: these files need gofmt:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	@$(GO) mod tidy -diff || { echo "go.mod/go.sum are not tidy: run go mod tidy"; exit 1; }
	PURE_PACKAGES="$(PURE)" $(GO) test -count=1 ./internal/importcheck/

integ:
	-bash integration/javaclient/fetch.sh
	$(GO) test -tags integration -count=1 -timeout $(INTEG_TIMEOUT) ./integration/...

# Every seeded simulation (test names containing "Simulation"), over
# SIM_SEEDS seeds; SIM_SEED=n (or ZAB_SIM_SEED=n) replays one.
sim:
	SIM_SEEDS=$(SIM_SEEDS) ZAB_SIM_SEEDS=$(SIM_SEEDS) $(GO) test -count=1 -timeout 60m -run 'Simulation' ./coordinator/... ./broker/...

# bench: the side-by-side comparisons, each against its reference system in
# the same run (Apache ZooKeeper 3.8 from Debian's zookeeper package when it
# is installed; franz-go's kfake for the broker), printing kzoo/reference
# ratios. bench-go: the Go micro-benchmarks of every package.
bench: build
	KZOO=$(CURDIR)/$(BIN) bash bench/zk-compare.sh
	KZOO=$(CURDIR)/$(BIN) bash bench/zk-compare.sh --ensemble
	KZOO=$(CURDIR)/$(BIN) bash bench/kafka/run.sh --replication-factor 1
	KZOO=$(CURDIR)/$(BIN) bash bench/kafka/run.sh --replication-factor 3

bench-go:
	$(GO) test -run '^$$' -bench . -benchmem -timeout 30m ./...

dist: build
	rm -rf $(DIST)
	mkdir -p $(DIST)/bin $(DIST)/config/kraft $(DIST)/conf $(DIST)/logs
	cp $(BIN) $(DIST)/bin/kzoo
	cp deploy/bin/*.sh $(DIST)/bin/
	chmod +x $(DIST)/bin/*
	cp deploy/config/*.properties $(DIST)/config/
	cp deploy/config/kraft/*.properties $(DIST)/config/kraft/
	cp deploy/conf/*.cfg $(DIST)/conf/
	@echo "$(DIST) is ready: cd $(DIST) && bin/zkServer.sh start conf/zoo.cfg"

run: dist
	deploy/run-local.sh "$(CURDIR)/$(DIST)" "$(CURDIR)/run"

clean:
	rm -rf bin dist run
