// Guest text made printable: control bytes, DEL, backslash and malformed UTF-8 become \xNN;
// well-formed UTF-8 passes; report documents keep their newlines, tabs and backslashes.
#include "emu/printable_text.h"

#include <doctest/doctest.h>

using namespace klpemu;

TEST_CASE("printk records: control bytes, backslash and malformed UTF-8 are escaped") {
    CHECK(printable_log_text("plain text 123") == "plain text 123");
    CHECK(printable_log_text("\x1b[31mred") == "\\x1b[31mred");
    CHECK(printable_log_text(std::string_view("a\0b", 3)) == "a\\x00b");
    CHECK(printable_log_text("tab\tnl\ncr\r") == "tab\\x09nl\\x0acr\\x0d");
    CHECK(printable_log_text("\x7f") == "\\x7f");
    CHECK(printable_log_text("back\\slash") == "back\\x5cslash");
    CHECK(printable_log_text("\xc2\xb5s") == "\xc2\xb5s");                   // µs
    CHECK(printable_log_text("\xe2\x82\xac") == "\xe2\x82\xac");             // €
    CHECK(printable_log_text("\xf0\x9f\x98\x80") == "\xf0\x9f\x98\x80");     // U+1F600
    CHECK(printable_log_text("\xc0\xaf") == "\\xc0\\xaf");                   // overlong '/'
    CHECK(printable_log_text("\xe0\x80\xaf") == "\\xe0\\x80\\xaf");          // overlong, 3 bytes
    CHECK(printable_log_text("\xed\xa0\x80") == "\\xed\\xa0\\x80");          // surrogate U+D800
    CHECK(printable_log_text("\xf4\x90\x80\x80") == "\\xf4\\x90\\x80\\x80"); // > U+10FFFF
    CHECK(printable_log_text("\xe2\x82") == "\\xe2\\x82");                   // truncated
    CHECK(printable_log_text("\x80x") == "\\x80x");                          // lone continuation
    CHECK(printable_log_text("\xff") == "\\xff");
}

TEST_CASE("report documents keep newlines, tabs and backslashes, escape the rest") {
    CHECK(printable_document("a\n\tb\\x1b\n") == "a\n\tb\\x1b\n");
    CHECK(printable_document("\x1b\r\xfe") == "\\x1b\\x0d\\xfe");
}
