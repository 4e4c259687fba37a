// Escaping of guest text to printable UTF-8 (see printable_text.h).
#include "emu/printable_text.h"

#include <cstdint>

namespace klpemu {

namespace {

// Length of the well-formed UTF-8 sequence starting at text[i] (RFC 3629: no overlongs, no
// surrogates, nothing above U+10FFFF), or 0 if the bytes there are not one.
size_t utf8_sequence(std::string_view text, size_t i) {
    const auto byte = [&](size_t k) { return uint8_t(text[k]); };
    const uint8_t b0 = byte(i);
    size_t len = 0;
    uint8_t lo = 0x80;
    uint8_t hi = 0xbf;
    if (b0 >= 0xc2 && b0 <= 0xdf) {
        len = 2;
    } else if (b0 >= 0xe0 && b0 <= 0xef) {
        len = 3;
        lo = b0 == 0xe0 ? 0xa0 : 0x80; // No overlong 3-byte forms.
        hi = b0 == 0xed ? 0x9f : 0xbf; // No UTF-16 surrogates.
    } else if (b0 >= 0xf0 && b0 <= 0xf4) {
        len = 4;
        lo = b0 == 0xf0 ? 0x90 : 0x80; // No overlong 4-byte forms.
        hi = b0 == 0xf4 ? 0x8f : 0xbf; // Nothing above U+10FFFF.
    } else {
        return 0;
    }
    if (i + len > text.size() || byte(i + 1) < lo || byte(i + 1) > hi) {
        return 0;
    }
    for (size_t k = 2; k < len; ++k) {
        if (byte(i + k) < 0x80 || byte(i + k) > 0xbf) {
            return 0;
        }
    }
    return len;
}

std::string escape_unprintable(std::string_view text, bool document) {
    static constexpr char kHex[] = "0123456789abcdef";
    std::string out;
    out.reserve(text.size());
    for (size_t i = 0; i < text.size();) {
        const uint8_t c = uint8_t(text[i]);
        if (c >= 0x80) {
            if (const size_t len = utf8_sequence(text, i)) {
                out.append(text.substr(i, len));
                i += len;
                continue;
            }
        } else if ((c >= 0x20 && c != 0x7f && (c != '\\' || document)) ||
                   ((c == '\n' || c == '\t') && document)) {
            out.push_back(char(c));
            ++i;
            continue;
        }
        out += "\\x";
        out.push_back(kHex[c >> 4]);
        out.push_back(kHex[c & 0xf]);
        ++i;
    }
    return out;
}

} // namespace

std::string printable_log_text(std::string_view text) {
    return escape_unprintable(text, false);
}

std::string printable_document(std::string_view text) {
    return escape_unprintable(text, true);
}

} // namespace klpemu
