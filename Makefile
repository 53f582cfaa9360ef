# The two commands of the README: `make run` and `make test`. Both install what is missing.
SWIFT ?= swift
BIN := .build/debug/meshwatchd

.PHONY: deps build run test conformance bench man proto clean

deps:
	@scripts/install-deps.sh

build: deps
	$(SWIFT) build --product meshwatchd

# With no PROMETHEUS_URL: meshwatchd-demo, a demo Prometheus on generated Istio data, started and
# stopped here (the demo is its own program: the daemon links no test fixtures).
run: build
ifdef PROMETHEUS_URL
	$(BIN) health --prometheus-url "$(PROMETHEUS_URL)"
else
	$(SWIFT) build --product meshwatchd-demo
	.build/debug/meshwatchd-demo
endif

test: deps
	@scripts/install-deps.sh --test-tools
	$(SWIFT) build --build-tests
	$(SWIFT) test --skip-build

# The conformance cases (conformance/README.md): promtool, then meshwatchd replay against a real Prometheus.
conformance: deps
	@scripts/install-deps.sh --test-tools
	$(SWIFT) build --build-tests
	$(SWIFT) test --skip-build --filter ConformanceTests

# The man pages, generated from the commands' help, then given the sections help cannot hold
# (docs/manual/NAME/*.mdoc: CONFIGURATION, ENVIRONMENT, FILES, SIGNALS, EXIT STATUS, ...; see
# docs/manual/README.md). Kept in git; tests check they are current and that groff has no warning.
man: deps
	$(SWIFT) package --allow-writing-to-directory docs generate-manual --configuration debug --section 8 --date 2026-11-22 -o docs
	scripts/manual-sections.py docs/meshwatchd.8 docs/meshwatchd-demo.8

# The release build, as the README installs it and the image ships it: the Swift runtime linked
# statically; every function in a section of its own (and no merged functions, which LLVM puts
# back in one `.text` per file), so that the link can put the functions a cycle runs together
# (Sources/MeshWatchd/hot-functions.order, scripts/hot-functions.sh).
RELEASE_FLAGS := -c release --static-swift-stdlib -Xswiftc -Xfrontend -Xswiftc -function-sections -Xswiftc -Xfrontend -Xswiftc -disable-llvm-merge-functions-pass -Xcc -ffunction-sections

# The daemon is measured as the image ships it.
# `MeshBench daemon` runs vmalert beside it and prints the footprint goals (docs/benchmarks.md).
bench: deps
	$(SWIFT) build $(RELEASE_FLAGS) --product MeshBench
	$(SWIFT) build $(RELEASE_FLAGS) --product meshwatchd
	.build/release/MeshBench decode
	.build/release/MeshBench engine
	.build/release/MeshBench replay
	.build/release/MeshBench daemon
	.build/release/MeshBench webhook

# The remote-write protobuf types, generated once and kept in git (Sources/RemoteWrite/remote_write.pb.swift):
# needs Debian's protobuf-compiler and swift-protobuf's protoc-gen-swift (built from the resolved checkout).
proto:
	$(SWIFT) package resolve
	cd .build/checkouts/swift-protobuf && $(SWIFT) build --product protoc-gen-swift
	protoc --plugin=protoc-gen-swift=.build/checkouts/swift-protobuf/.build/debug/protoc-gen-swift \
	  --proto_path=Sources/RemoteWrite/Proto --swift_out=Sources/RemoteWrite --swift_opt=Visibility=Public \
	  Sources/RemoteWrite/Proto/remote_write.proto

clean:
	rm -rf .build
