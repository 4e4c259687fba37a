# The seed corpus of each input fuzzer, taken from what the project bundles: every scenario
# file for the parser, every assembly source for the assembler, and for the ELF loader the
# objects in tests/fuzz/corpus/elf/ (bundled C and assembly sources compiled by clang-19 and
# aarch64-linux-gnu-gcc with klpemu's kbuild flags, see RESULTS.md). Included by
# tests/fuzz/CMakeLists.txt and by fuzz_run.cmake.
function(klpemu_fuzz_seeds target root out_var)
  if(target STREQUAL "parser_scenario")
    file(GLOB seeds "${root}/scenarios/*/*.toml")
  elseif(target STREQUAL "asm")
    file(GLOB seeds "${root}/emu/guest/*.S" "${root}/patcher/guest/*.S"
      "${root}/patcher/livepatch/guest/*.S" "${root}/scenarios/*/*.S" "${root}/tests/data/*/*.S")
  elseif(target STREQUAL "elf")
    file(GLOB seeds "${root}/tests/fuzz/corpus/elf/*.o")
  else()
    message(FATAL_ERROR "klpemu: no fuzz target '${target}' (parser_scenario, asm, elf)")
  endif()
  set(${out_var} ${seeds} PARENT_SCOPE)
endfunction()
