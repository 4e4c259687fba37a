# Finds every dependency of design.md §2 and fails configure with the Debian package to install.
# `make run` / `make test` install these through scripts/install-deps.sh before configuring.

function(klpemu_require found package what)
  if(NOT ${found})
    message(FATAL_ERROR "klpemu: ${what} not found: install the Debian package '${package}' "
                        "(or run scripts/install-deps.sh as root)")
  endif()
endfunction()

find_package(PkgConfig QUIET)
klpemu_require(PKG_CONFIG_FOUND pkg-config "pkg-config")

pkg_check_modules(UNICORN QUIET IMPORTED_TARGET unicorn>=2.0)
klpemu_require(UNICORN_FOUND libunicorn-dev "Unicorn Engine 2.x (pkg-config 'unicorn')")

find_package(LLVM 19.1 CONFIG QUIET PATHS /usr/lib/llvm-19/lib/cmake/llvm NO_DEFAULT_PATH)
klpemu_require(LLVM_FOUND llvm-19-dev "LLVM 19 (CMake package 'LLVM')")
if(NOT TARGET LLVM)
  message(FATAL_ERROR "klpemu: LLVM 19 was found but has no shared 'LLVM' target; install llvm-19-dev")
endif()

pkg_check_modules(TOMLPP QUIET IMPORTED_TARGET tomlplusplus>=3)
klpemu_require(TOMLPP_FOUND libtomlplusplus-dev "toml++ 3 (pkg-config 'tomlplusplus')")

find_package(fmt 9 QUIET)
klpemu_require(fmt_FOUND libfmt-dev "{fmt} 9")

find_package(CLI11 QUIET)
klpemu_require(CLI11_FOUND libcli11-dev "CLI11")

find_package(nlohmann_json 3.10 QUIET)
klpemu_require(nlohmann_json_FOUND nlohmann-json3-dev "nlohmann/json 3")

find_package(doctest QUIET)
klpemu_require(doctest_FOUND doctest-dev "doctest")

find_path(LIBEDIT_INCLUDE_DIR editline/readline.h)
find_library(LIBEDIT_LIBRARY edit)
if(LIBEDIT_INCLUDE_DIR AND LIBEDIT_LIBRARY)
  set(LIBEDIT_FOUND TRUE)
endif()
klpemu_require(LIBEDIT_FOUND libedit-dev "libedit (editline/readline.h)")

# External programs the toolchain drives (C sources in scenarios, real-compiler tests).
find_program(KLPEMU_CLANG clang-19)
klpemu_require(KLPEMU_CLANG clang-19 "clang-19")
find_program(KLPEMU_GCC aarch64-linux-gnu-gcc)
klpemu_require(KLPEMU_GCC gcc-aarch64-linux-gnu "aarch64-linux-gnu-gcc")
find_program(KLPEMU_LLD ld.lld-19)
klpemu_require(KLPEMU_LLD lld-19 "ld.lld-19")
