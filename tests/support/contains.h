// Substring test for messages and transcripts: the one helper the test files share instead of
// each defining its own.
#pragma once

#include <string_view>

namespace klpemu::test {

inline bool contains(std::string_view haystack, std::string_view needle) {
    return haystack.find(needle) != std::string_view::npos;
}

} // namespace klpemu::test
