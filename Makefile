# Spinmatch: the front door. `make help` lists every target.
SHELL := /bin/bash
GO ?= go
PKGS := ./...
PROTOACTOR_DIR = $(shell $(GO) list -m -f '{{.Dir}}' github.com/asynkron/protoactor-go)
# Tests that need PostgreSQL use TEST_DATABASE_URL, or the local server.
TEST_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/test?sslmode=disable
export TEST_DATABASE_URL

.PHONY: help run build test test-unit bench proto lint deps-pg deps-chromium deps-protoc clean

help: ## List the targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-14s %s\n", $$1, $$2}'

run: ## Run one node with the embedded store at http://localhost:8080
	$(GO) run ./cmd/spinmatch

build: ## Build bin/spinmatch
	$(GO) build -o bin/spinmatch ./cmd/spinmatch

test: deps-pg deps-chromium ## Run every test (-race), PostgreSQL and browser tests included
	$(GO) vet $(PKGS)
	$(GO) test -race -count=1 -timeout 15m $(PKGS)
	@# Multi-node tests run without -race: the pinned protoactor-go races with
	@# itself when several nodes share a process (see cluster/multinode_test.go).
	$(GO) test -count=1 -timeout 5m -run 'TestThreeNodes|TestClusterEndToEnd|TestFailover|TestRollingRestart' ./cluster/ ./cmd/spinmatch/

test-unit: ## Run the tests that need neither PostgreSQL nor Chromium
	$(GO) test -race -count=1 -short $(PKGS)

bench: ## Run the benchmarks (allocations reported)
	$(GO) test -run '^$$' -bench . -benchmem $(PKGS)

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

clean:
	rm -rf bin
