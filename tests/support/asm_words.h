// Test helper: assemble a snippet with klpemu's assembler and return its .text words, so
// differential tests can compare our encoders and decoders with LLVM MC's encodings.
#pragma once

#include "emu/assembler.h"

#include "support/elf_text.h"

#include <doctest/doctest.h>

#include <string_view>
#include <vector>

namespace klpemu::test {

inline std::vector<InsnWord> assemble_words(std::string_view source) {
    auto obj = assemble(source, "snippet.S");
    REQUIRE_MESSAGE(obj.ok(), obj.error().message);
    return elf_text_words(*obj);
}

} // namespace klpemu::test
