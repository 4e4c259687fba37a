# Runs one libFuzzer target (`make fuzz-TARGET`, and the ctest smoke of the `fuzz` preset):
# copies the target's seeds (fuzz_seeds.cmake) into the working corpus CORPUS, then fuzzes for
# SECONDS on one core. New coverage stays in CORPUS; a crash, leak-free ASan report, UBSan
# report or a 10 s hang is written to ARTIFACTS and fails the run (libFuzzer exits non-zero).
#   cmake -DFUZZER=BIN -DTARGET=NAME -DROOT=SRC -DCORPUS=DIR -DARTIFACTS=DIR/ -DSECONDS=N -P ...
include("${CMAKE_CURRENT_LIST_DIR}/fuzz_seeds.cmake")
klpemu_fuzz_seeds("${TARGET}" "${ROOT}" seeds)
file(MAKE_DIRECTORY "${CORPUS}" "${ARTIFACTS}")
file(COPY ${seeds} DESTINATION "${CORPUS}")
set(ENV{ASAN_OPTIONS} "detect_leaks=0")
execute_process(COMMAND "${FUZZER}" -max_total_time=${SECONDS} -timeout=10 -rss_limit_mb=4096
                        -print_final_stats=1 -artifact_prefix=${ARTIFACTS} "${CORPUS}"
                RESULT_VARIABLE status)
if(NOT status EQUAL 0)
  message(FATAL_ERROR "klpemu: ${TARGET} fuzzer exited with ${status}; see ${ARTIFACTS}")
endif()
