# Thin wrapper over CMake presets. The two user entry points are `make run` and `make test`;
# both install missing Debian packages, configure and build before they run.
PRESET ?= $(if $(CI),ci,dev)
BUILD  := build/$(PRESET)
JOBS   ?= $(shell nproc)

.PHONY: run test bench fuzz build deps configure asan clean

run: build
	$(BUILD)/tools/klpemu run

test: build
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS) --timeout 600

bench: build
	$(BUILD)/bench/klpemu_bench
	$(BUILD)/bench/klpemu_cycle_bench
	$(BUILD)/bench/klpemu_library_bench

# The guest-execution fuzzer, long run (tests/fuzz/RESULTS.md): FUZZ_SECONDS of cases from
# FUZZ_SEED on, one core, at low priority. Crashes and hangs land in $(BUILD)/fuzz-out.
FUZZ_SECONDS ?= 3600
FUZZ_SEED    ?= 1
fuzz: build
	nice $(BUILD)/tests/fuzz/klpemu_guest_fuzz --seed $(FUZZ_SEED) --seconds $(FUZZ_SECONDS) \
		--out $(BUILD)/fuzz-out

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
