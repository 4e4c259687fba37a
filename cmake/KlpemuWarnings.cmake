# One interface target carries warnings and sanitizers for every klpemu target (style.md §22).
add_library(klpemu_warnings INTERFACE)
target_compile_options(klpemu_warnings INTERFACE -Wall -Wextra -Wshadow=local -Wnon-virtual-dtor)
if(KLPEMU_WERROR)
  target_compile_options(klpemu_warnings INTERFACE -Werror)
endif()
if(KLPEMU_SANITIZE)
  target_compile_options(klpemu_warnings INTERFACE -fsanitize=address,undefined -fno-omit-frame-pointer
                                                   -fno-sanitize-recover=undefined)
  target_link_options(klpemu_warnings INTERFACE -fsanitize=address,undefined)
endif()
