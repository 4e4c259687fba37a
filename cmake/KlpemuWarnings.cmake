# One interface target carries warnings and sanitizers for every klpemu target (style.md §22).
add_library(klpemu_warnings INTERFACE)
target_compile_options(klpemu_warnings INTERFACE -Wall -Wextra
  $<IF:$<CXX_COMPILER_ID:Clang>,-Wshadow-uncaptured-local,-Wshadow=local> -Wnon-virtual-dtor)
if(KLPEMU_WERROR)
  target_compile_options(klpemu_warnings INTERFACE -Werror)
endif()
if(KLPEMU_SANITIZE)
  target_compile_options(klpemu_warnings INTERFACE -fsanitize=address,undefined -fno-omit-frame-pointer
                                                   -fno-sanitize-recover=undefined)
  target_link_options(klpemu_warnings INTERFACE -fsanitize=address,undefined)
endif()
if(KLPEMU_LIBFUZZER)
  # The `fuzz` preset (tests/fuzz/): every library carries libFuzzer's coverage instrumentation
  # and both sanitizers; only the klpemu_fuzz_* executables link libFuzzer's main.
  if(NOT CMAKE_CXX_COMPILER_ID STREQUAL "Clang")
    message(FATAL_ERROR "klpemu: KLPEMU_LIBFUZZER needs clang (the `fuzz` preset uses clang++-19)")
  endif()
  target_compile_options(klpemu_warnings INTERFACE -fsanitize=fuzzer-no-link,address,undefined
                                                   -fno-omit-frame-pointer -fno-sanitize-recover=undefined)
  target_link_options(klpemu_warnings INTERFACE -fsanitize=address,undefined)
endif()
