# Spinmatch: the front door. `make help` lists every target.
SHELL := /bin/bash
GO ?= go
PKGS := ./...
PROTOACTOR_DIR = $(shell $(GO) list -m -f '{{.Dir}}' github.com/asynkron/protoactor-go)
# Tests that need PostgreSQL use TEST_DATABASE_URL, or the local server.
TEST_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/test?sslmode=disable
export TEST_DATABASE_URL

# make cluster: three nodes on 127.0.0.1-3, one database of the local PostgreSQL.
CLUSTER_DB ?= spinmatch_cluster
CLUSTER_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/$(CLUSTER_DB)?sslmode=disable
CLUSTER_JWT_SECRET ?= spinmatch-local-cluster-secret
# The development cluster key (SPIN_CLUSTER_KEY, base64 of 32 bytes): encrypts
# gossip and authenticates the actor remote. Never use it in production.
CLUSTER_KEY ?= c3Bpbm1hdGNoLWRldi1jbHVzdGVyLWtleS0wMDAwMDE=
# make eta-eval: where the tables (eta-eval.txt, eta-eval.json) and the
# calibration plots (one SVG per scenario) go.
ETA_DIR ?= docs/eta/out
# make failover: how many kill -9 rounds to time.
FAILOVER_KILLS ?= 12
# Fuzzing: make test runs every fuzz target for FUZZ_SHORT, make fuzz for FUZZ_TIME.
FUZZ_SHORT ?= 4s
FUZZ_TIME ?= 2m

# make load: one local node (or LOAD_NODES=3) and bin/spinload against it.
LOAD_USERS ?= 2000
LOAD_RATE ?= 1000
LOAD_DURATION ?= 30s
LOAD_WARMUP ?= 5s
# More spinload flags, for example LOAD_FLAGS='-yes 0.8 -pools eu,us -json load.json'.
LOAD_FLAGS ?=
LOAD_NODES ?= 1
# Empty: the embedded store. make load-pg and load-cluster set it to a fresh database.
LOAD_DATABASE_URL ?=
LOAD_DB ?= spinmatch_load
LOAD_SECRET ?= spinmatch-local-load-secret
# The server's environment for the load, beside the ones make load sets.
LOAD_SERVER_ENV ?=
# The nodes' logs go to LOAD_LOGS/node<i>.log.
LOAD_LOGS ?= bin/load-logs
# make bench: where the figures go, and the budgets' load runs.
BENCH_DIR ?= bin/bench
BENCH_IDLE_USERS ?= 18000
BENCH_USERS ?= 12000
BENCH_RATE ?= 10000
BENCH_PG_RATE ?= 3000
# make load-churn: how long 2,000 users connect and disconnect.
CHURN_TIME ?= 10m

.PHONY: help run build test test-unit bench budgets load-long load-churn load-ratio fuzz fuzz-short proto lint deps-pg deps-chromium deps-promtool deps-protoc clean cluster failover suspicion eta-eval load load-pg load-cluster load-run

help: ## List the targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-14s %s\n", $$1, $$2}'

run: ## Run one node with the embedded store at http://localhost:8080
	SPIN_ENV=development $(GO) run ./cmd/spinmatch

cluster: build deps-pg ## Run three nodes on 127.0.0.1-3 (http :8080, :8081, :8082) on the local PostgreSQL; Ctrl-C stops them all
	@psql -h 127.0.0.1 -U postgres -d postgres -tAc "select 1 from pg_database where datname = '$(CLUSTER_DB)'" | grep -q 1 || \
		psql -h 127.0.0.1 -U postgres -d postgres -qc 'create database $(CLUSTER_DB)'
	@echo "three nodes: http://127.0.0.1:8080 http://127.0.0.2:8081 http://127.0.0.3:8082 (database $(CLUSTER_DB)); Ctrl-C stops them"
	@trap 'kill $$(jobs -p) 2>/dev/null; wait' INT TERM; \
	for i in 1 2 3; do \
		SPIN_ENV=development JWT_SECRET=$(CLUSTER_JWT_SECRET) SPIN_CLUSTER_KEY=$(CLUSTER_KEY) DATABASE_URL='$(CLUSTER_DATABASE_URL)' \
		SPIN_NODE_NAME=node$$i SPIN_ADDR=127.0.0.$$i:$$((8079 + i)) \
		SPIN_CLUSTER_BIND=127.0.0.$$i:7946 SPIN_REMOTE_ADDR=127.0.0.$$i:7947 \
		SPIN_CLUSTER_JOIN=127.0.0.1:7946,127.0.0.2:7946,127.0.0.3:7946 \
		SPIN_ALLOWED_ORIGINS=http://127.0.0.1:8080,http://127.0.0.2:8081,http://127.0.0.3:8082,http://localhost:8080 \
		./bin/spinmatch & \
	done; wait

suspicion: deps-pg ## Two minutes of both cores busy on three real nodes: no member lost, no false suspicion
	set -o pipefail; SPIN_SUSPICION_S=120 $(GO) test -count=1 -v -timeout 10m -run 'TestNoFalseSuspicionUnderLoad' ./cmd/spinmatch/ | grep -E 'under load|suspected|members|^(ok|FAIL|---)'

failover: deps-pg ## Time kill -9 failover over FAILOVER_KILLS rounds (three real processes); prints p50 and max
	set -o pipefail; SPIN_FAILOVER_KILLS=$(FAILOVER_KILLS) $(GO) test -count=1 -v -timeout 15m -run 'TestFailoverTimes' ./cmd/spinmatch/ | grep -E 'resumed over|^(ok|FAIL|---)'

eta-eval: ## Run the wait-estimate simulator's full matrix against the bars of issue 9 (fails when one is missed); tables and SVG plots in ETA_DIR
	@mkdir -p $(ETA_DIR)
	set -o pipefail; $(GO) run ./cmd/spinsim -check -svg $(ETA_DIR) -json $(ETA_DIR)/eta-eval.json | tee $(ETA_DIR)/eta-eval.txt

build: ## Build bin/spinmatch and bin/spinload
	$(GO) build -o bin/spinmatch ./cmd/spinmatch
	$(GO) build -o bin/spinload ./cmd/spinload

load: build ## Start a local node (development, embedded store) and run spinload against it: LOAD_USERS, LOAD_RATE, LOAD_DURATION, LOAD_FLAGS
	@$(MAKE) --no-print-directory load-run

load-pg: build deps-pg ## make load on a fresh PostgreSQL database (LOAD_DB, dropped and created again)
	@psql -h 127.0.0.1 -U postgres -d postgres -qc 'drop database if exists $(LOAD_DB)' -c 'create database $(LOAD_DB)'
	@$(MAKE) --no-print-directory load-run LOAD_DATABASE_URL='postgres://postgres@127.0.0.1:5432/$(LOAD_DB)?sslmode=disable' LOAD_FLAGS='-db-process postgres $(LOAD_FLAGS)'

load-cluster: build deps-pg ## make load on three nodes as make cluster runs them (127.0.0.1-3, one fresh database), users spread over the three
	@psql -h 127.0.0.1 -U postgres -d postgres -qc 'drop database if exists $(LOAD_DB)' -c 'create database $(LOAD_DB)'
	@$(MAKE) --no-print-directory load-run LOAD_NODES=3 LOAD_DATABASE_URL='postgres://postgres@127.0.0.1:5432/$(LOAD_DB)?sslmode=disable' LOAD_FLAGS='-db-process postgres $(LOAD_FLAGS)'

# load-run: LOAD_NODES nodes on 127.0.0.i:1807(9+i) (gossip 127.0.0.i:17946),
# spinload against all of them, measuring their CPU; the nodes are stopped
# however spinload ends, and its exit code is make's.
load-run:
	@set -u; pids=(); targets=(); joins=(); mkdir -p $(LOAD_LOGS); \
	for i in $$(seq 1 $(LOAD_NODES)); do joins+=("127.0.0.$$i:17946"); done; \
	trap 'kill $${pids[@]} 2>/dev/null; wait' EXIT INT TERM; \
	for i in $$(seq 1 $(LOAD_NODES)); do \
		join=""; if [ $(LOAD_NODES) -gt 1 ]; then join=$$(IFS=,; echo "$${joins[*]}"); fi; \
		env SPIN_ENV=development JWT_SECRET=$(LOAD_SECRET) SPIN_CLUSTER_KEY=$(CLUSTER_KEY) DATABASE_URL='$(LOAD_DATABASE_URL)' \
			SPIN_NODE_NAME=load$$i SPIN_ADDR=127.0.0.$$i:$$((18079 + i)) \
			SPIN_CLUSTER_BIND=127.0.0.$$i:17946 SPIN_REMOTE_ADDR=127.0.0.$$i:17947 SPIN_CLUSTER_JOIN=$$join \
			SPIN_LIMIT_EXEMPT=127.0.0.0/8 SPIN_LOG_LEVEL=warn $(LOAD_SERVER_ENV) \
			./bin/spinmatch > $(LOAD_LOGS)/node$$i.log 2>&1 & \
		pids+=($$!); targets+=("http://127.0.0.$$i:$$((18079 + i))"); \
	done; \
	store="the embedded store"; if [ -n '$(LOAD_DATABASE_URL)' ]; then store=PostgreSQL; fi; \
	echo "spinload: $(LOAD_USERS) users, $(LOAD_RATE) spins/s for $(LOAD_DURATION) against $(LOAD_NODES) node(s) on $$store (node logs in $(LOAD_LOGS))"; \
	./bin/spinload -wait 60s -target $$(IFS=,; echo "$${targets[*]}") -server-pid $$(IFS=,; echo "$${pids[*]}") \
		-secret $(LOAD_SECRET) -users $(LOAD_USERS) -rate $(LOAD_RATE) -duration $(LOAD_DURATION) -warmup $(LOAD_WARMUP) \
		-sources 127.0.0.1-127.0.0.8 $(LOAD_FLAGS)

test: deps-pg deps-chromium deps-promtool ## Run every test (-race), PostgreSQL and browser tests included
	$(GO) vet $(PKGS)
	$(GO) test -race -count=1 -timeout 15m $(PKGS)
	@# Multi-node tests run without -race: the pinned protoactor-go races with
	@# itself when several nodes share a process (see cluster/multinode_test.go),
	@# and the multi-process tests (failover, rolling restart) run one
	@# cluster member per process.
	$(GO) test -count=1 -timeout 5m -run 'TestThreeNodes|TestClusterEndToEnd|TestFailover|TestRollingRestart|TestNoFalseSuspicionUnderLoad|TestReadyWhileJoining|TestClusterKeyAdmission|TestClusterKeyProcesses|TestSentryTraceAcrossNodes|TestClusterSharesAddressLimit|TestReportsOncePerClusterAndMove|TestNodeLostOnceAcrossTheCluster|TestSpinLatencyWithFailingWebhook|TestAdminTwoNodes|TestRemoteRefusesForgedMessages|TestIdleMemoryPerUser|TestChurnReturnsToBaseline|TestCommandDuringGracefulLeave' ./cluster/ ./cmd/spinmatch/ ./actors/
	$(MAKE) --no-print-directory fuzz-short

fuzz: ## Run every fuzz target for FUZZ_TIME each (the seed corpora are committed under testdata/fuzz)
	@$(MAKE) --no-print-directory fuzz-each FUZZ_FOR=$(FUZZ_TIME)

fuzz-short: # every fuzz target for FUZZ_SHORT each (part of make test)
	@$(MAKE) --no-print-directory fuzz-each FUZZ_FOR=$(FUZZ_SHORT)

# A run that ends with the fuzz engine's own "context deadline exceeded"
# (the time ran out while a worker was mid-input) and wrote no failing
# input found nothing: it is run once more. A real failure is written to
# testdata/fuzz and fails again at once.
fuzz-each:
	@set -e; log=$$(mktemp); trap 'rm -f $$log' EXIT; \
	for pkg in $$(grep -rl --include='*_test.go' '^func Fuzz' . | xargs -n1 dirname | sort -u); do \
		for f in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz' || true); do \
			echo "fuzz $$pkg $$f for $(FUZZ_FOR)"; \
			if ! $(GO) test -run '^$$' -fuzz "^$$f\$$" -fuzztime $(FUZZ_FOR) $$pkg > $$log 2>&1; then \
				if grep -q 'context deadline exceeded' $$log && ! grep -q 'Failing input written' $$log; then \
					echo "  the engine ran out of time mid-input; once more"; \
					$(GO) test -run '^$$' -fuzz "^$$f\$$" -fuzztime $(FUZZ_FOR) $$pkg > $$log 2>&1 || { cat $$log; exit 1; }; \
				else cat $$log; exit 1; fi; \
			fi; \
		done; \
	done

test-unit: ## Run the tests that need neither PostgreSQL nor Chromium
	$(GO) test -race -count=1 -short $(PKGS)

bench: build deps-pg ## Run the benchmarks and the budgets' load runs, then print every budget of docs/budgets.json against its figure (fails when one is missed)
	@mkdir -p $(BENCH_DIR)
	set -o pipefail; $(GO) test -run '^$$' -bench . -benchmem -timeout 30m $(PKGS) | tee $(BENCH_DIR)/bench.txt
	@# Memory: BENCH_IDLE_USERS idle signed-in users on one node, embedded store.
	@$(MAKE) --no-print-directory load-run LOAD_USERS=$(BENCH_IDLE_USERS) LOAD_FLAGS='-idle 20s -duration 0 -quiet -json $(BENCH_DIR)/idle.json'
	@# Throughput on the embedded store, then on a fresh PostgreSQL database.
	@$(MAKE) --no-print-directory load-run LOAD_USERS=$(BENCH_USERS) LOAD_RATE=$(BENCH_RATE) LOAD_DURATION=30s LOAD_FLAGS='-json $(BENCH_DIR)/embedded.json'
	@psql -h 127.0.0.1 -U postgres -d postgres -qc 'drop database if exists $(LOAD_DB)' -c 'create database $(LOAD_DB)'
	@$(MAKE) --no-print-directory load-run LOAD_USERS=$(BENCH_USERS) LOAD_RATE=$(BENCH_PG_RATE) LOAD_DURATION=30s \
		LOAD_DATABASE_URL='postgres://postgres@127.0.0.1:5432/$(LOAD_DB)?sslmode=disable' LOAD_FLAGS='-db-process postgres -json $(BENCH_DIR)/pg.json'
	$(GO) run ./cmd/spinbench -budgets docs/budgets.json -bench $(BENCH_DIR)/bench.txt \
		-load idle=$(BENCH_DIR)/idle.json -load embedded=$(BENCH_DIR)/embedded.json -load pg=$(BENCH_DIR)/pg.json \
		$$(for r in long cluster single-pg; do [ -f $(BENCH_DIR)/$$r.json ] && echo -load $$r=$(BENCH_DIR)/$$r.json; done)

budgets: ## Print the budgets against the figures of the last make bench (and make load-long, make load-ratio) without running anything
	$(GO) run ./cmd/spinbench -budgets docs/budgets.json $$([ -f $(BENCH_DIR)/bench.txt ] && echo -bench $(BENCH_DIR)/bench.txt) \
		$$(for r in idle embedded pg long cluster single-pg; do [ -f $(BENCH_DIR)/$$r.json ] && echo -load $$r=$(BENCH_DIR)/$$r.json; done)

load-long: build ## Ten minutes at 1,500 spins/s (6,000 users, default cooldown) on one node, in one-minute rows: the last minute's p99 and RSS against the first's
	@mkdir -p $(BENCH_DIR)
	@$(MAKE) --no-print-directory load-run LOAD_USERS=6000 LOAD_RATE=1500 LOAD_DURATION=605s LOAD_WARMUP=5s LOAD_FLAGS='-interval 1m -json $(BENCH_DIR)/long.json'

load-churn: ## CHURN_TIME (10 minutes) of 2,000 users connecting and disconnecting on one node (TestChurnReturnsToBaseline): goroutines, live heap and RSS before and after
	SPIN_CHURN=$(CHURN_TIME) $(GO) test -count=1 -v -timeout 20m -run 'TestChurnReturnsToBaseline' ./cmd/spinmatch/

load-ratio: build deps-pg ## CPU per spin on three nodes against one, at the same rate on fresh PostgreSQL databases (budget: at most 1.5x)
	@mkdir -p $(BENCH_DIR)
	@$(MAKE) --no-print-directory load-pg LOAD_USERS=3000 LOAD_RATE=500 LOAD_FLAGS='-json $(BENCH_DIR)/single-pg.json'
	@$(MAKE) --no-print-directory load-cluster LOAD_USERS=3000 LOAD_RATE=500 LOAD_FLAGS='-json $(BENCH_DIR)/cluster.json'

proto: deps-protoc ## Regenerate the protobuf messages (generated code is committed)
	protoc -I actors/msg -I $(PROTOACTOR_DIR)/actor \
		--plugin=protoc-gen-go=$$($(GO) tool -n protoc-gen-go) \
		--go_out=. --go_opt=module=github.com/spinmatch/spinmatch \
		--go_opt=Mactor.proto=github.com/asynkron/protoactor-go/actor \
		actors/msg/messages.proto

lint: ## gofmt and go vet
	@out=$$(gofmt -l $$(git ls-files '*.go' | grep -v '\.pb\.go$$')); if [ -n "$$out" ]; then echo "gofmt: $$out"; exit 1; fi
	$(GO) vet $(PKGS)

deps-protoc:
	@command -v protoc >/dev/null || { apt-get update -qq && apt-get install -y -qq protobuf-compiler; }

deps-pg: ## Start the local PostgreSQL when it is installed but down
	@if command -v pg_ctlcluster >/dev/null && ls /etc/postgresql >/dev/null 2>&1 && ! pg_isready -q -h 127.0.0.1 -p 5432; then \
		echo "starting the local PostgreSQL"; \
		pg_ctlcluster --skip-systemctl-redirect $$(ls /etc/postgresql) main start || true; \
	fi

deps-chromium: ## Install Chromium for the browser tests when it is missing
	@command -v chromium >/dev/null || { apt-get update -qq && apt-get install -y -qq chromium || true; }

deps-promtool: ## Install promtool (Debian's prometheus package) for the rules test when it is missing
	@command -v promtool >/dev/null || { apt-get update -qq && apt-get install -y -qq --no-install-recommends prometheus || true; }

clean:
	rm -rf bin
