# Thin wrapper over CMake presets. The two user entry points are `make run` and `make test`;
# both install missing Debian packages, configure and build before they run.
PRESET ?= $(if $(CI),ci,dev)
BUILD  := build/$(PRESET)
JOBS   ?= $(shell nproc)

.PHONY: run test bench build deps configure asan clean

run: build
	$(BUILD)/tools/klpemu run

test: build
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS) --timeout 600

bench: build
	$(BUILD)/bench/klpemu_bench
	$(BUILD)/bench/klpemu_cycle_bench

asan:
	$(MAKE) test PRESET=asan

deps:
	@scripts/install-deps.sh

configure: deps
	@cmake --preset $(PRESET) -Wno-dev >/dev/null

build: configure
	@cmake --build $(BUILD) -j $(JOBS)

clean:
	rm -rf build
