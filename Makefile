# Thin wrapper over CMake presets. The two user entry points are `make run` and `make test`;
# both install missing Debian packages, configure and build before they run.
PRESET ?= $(if $(CI),ci,dev)
BUILD  := build/$(PRESET)
JOBS   ?= $(shell nproc)

.PHONY: run test bench fuzz fuzz-inputs build deps configure asan clean

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

# The input fuzzers (libFuzzer, tests/fuzz/RESULTS.md): `make fuzz-parser_scenario`,
# `make fuzz-asm`, `make fuzz-elf` build the clang `fuzz` preset (build/fuzz) and fuzz that
# target for FUZZ_SECONDS, niced, on one core; `make fuzz-inputs` runs the three in turn.
# New corpus entries stay in build/fuzz/tests/fuzz/corpus-TARGET, crashes in artifacts-TARGET.
FUZZ_TARGETS := parser_scenario asm elf
FUZZ_DIR     := build/fuzz/tests/fuzz
$(addprefix fuzz-,$(FUZZ_TARGETS)): fuzz-%: deps
	@cmake --preset fuzz -Wno-dev >/dev/null
	@cmake --build build/fuzz -j $(JOBS) --target klpemu_fuzz_$*
	nice -n 19 cmake -DFUZZER=$(FUZZ_DIR)/klpemu_fuzz_$* -DTARGET=$* -DROOT=$(CURDIR) \
		-DCORPUS=$(FUZZ_DIR)/corpus-$* -DARTIFACTS=$(FUZZ_DIR)/artifacts-$*/ \
		-DSECONDS=$(FUZZ_SECONDS) -P tests/fuzz/fuzz_run.cmake

fuzz-inputs: $(addprefix fuzz-,$(FUZZ_TARGETS))

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
