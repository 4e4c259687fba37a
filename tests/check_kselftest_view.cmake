# One selftest case: `klpemu run --kselftest SCENARIO` must print exactly the kernel's expected
# text EXPECTED (tests/data/kselftest/expected/<script>/<case>.txt, from the selftest scripts'
# expected blocks), byte for byte. A scenario klpemu skips prints "SKIP" (the test's
# SKIP_REGULAR_EXPRESSION) instead of comparing. Run with
#   cmake -DKLPEMU=... -DSCENARIO=... -DEXPECTED=... -P check_kselftest_view.cmake
if(NOT EXISTS "${EXPECTED}")
  message(FATAL_ERROR "no expected text ${EXPECTED} for ${SCENARIO}")
endif()
execute_process(COMMAND "${KLPEMU}" run --kselftest --skip-exit-code 77 "${SCENARIO}"
  OUTPUT_VARIABLE view ERROR_VARIABLE verdicts RESULT_VARIABLE status)
if(status EQUAL 77)
  message("SKIP: ${verdicts}")
  return()
endif()
file(READ "${EXPECTED}" expected)
if(NOT view STREQUAL expected)
  string(RANDOM LENGTH 8 tag)
  set(got "${CMAKE_CURRENT_BINARY_DIR}/kselftest-view-${tag}.txt")
  file(WRITE "${got}" "${view}")
  execute_process(COMMAND diff -u "${EXPECTED}" "${got}" OUTPUT_VARIABLE diff)
  file(REMOVE "${got}")
  message(FATAL_ERROR "--kselftest view of ${SCENARIO} differs from ${EXPECTED}:\n${diff}"
                      "\nverdicts:\n${verdicts}")
endif()
if(NOT status EQUAL 0)
  message(FATAL_ERROR "the view matches, but the run failed (exit ${status}):\n${verdicts}")
endif()
