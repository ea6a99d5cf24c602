# Parley — `make demo` and `make test` work from a fresh clone: they install what they need.
SHELL := /bin/bash
.DEFAULT_GOAL := help
NODE_STAMP := node_modules/.package-lock.json
BUILD_STAMP := dist/.built

.PHONY: help deps system-deps build demo test serve bench typecheck clean

help:
	@echo "make demo    place a simulated phone call to the demo hotel agent (embedded providers, no keys)"
	@echo "make test    run the whole test suite"
	@echo "make serve   start the server on :3000 (PORT to change) for a real Twilio number"
	@echo "make bench   latency and load benchmarks, JSON on stdout (LOAD_CALLS=1,100,500 to change the load levels)"

system-deps:
	@./scripts/ensure-system-deps.sh

$(NODE_STAMP): package.json package-lock.json
	npm ci --no-audit --no-fund
	@touch $(NODE_STAMP)

deps: system-deps $(NODE_STAMP)

$(BUILD_STAMP): $(NODE_STAMP) $(shell find src bench scripts -name '*.ts' 2>/dev/null) tsconfig.json
	npx tsc -p tsconfig.json
	@touch $(BUILD_STAMP)

build: deps $(BUILD_STAMP)

typecheck: deps
	npx tsc -p tsconfig.json --noEmit

demo: build
	@mkdir -p data
	node bin/parley.js call --tenants tenants --to +15550100000 \
	  --say "hi, I would like to make a reservation" \
	  --say "three nights" \
	  --say "starting on friday" \
	  --say "what time is breakfast" \
	  --interrupt "when does the pool open" \
	  --say "no that is all, goodbye" \
	  --out data/demo-call.wav

test: build
	node scripts/run-tests.mjs

serve: build
	node bin/parley.js serve

LOAD_CALLS ?= 1,100,500

bench: build
	@node dist/bench/voice-to-voice.js
	@node dist/bench/provider-overhead.js
	@node dist/bench/load.js --calls $(LOAD_CALLS)
	@node dist/bench/echo-suppressor.js
	@taskset -c 0 node dist/bench/websocket-receive.js

clean:
	rm -rf dist
