// Text that came from the guest (printk arguments, strings in guest memory) can hold any byte.
// Before it reaches a transcript, a terminal or a report it is made printable the way the
// kernel's /dev/kmsg makes records printable: a control byte, DEL, a backslash or a byte that
// is not part of valid UTF-8 becomes `\xNN` (lower-case hex); reports apply the same rule
// without the backslash, to text that may already hold such escapes. Unlike /dev/kmsg, well-formed
// multi-byte UTF-8 passes through unchanged, so "µs" stays readable. The result is valid UTF-8
// with no control characters (except '\n' where the caller keeps line structure), so it is
// safe in a terminal, in XML 1.0, in JSON and in KTAP.
#pragma once

#include <string>
#include <string_view>

namespace klpemu {

// A printk record: every control byte (newlines included), DEL, backslash and byte outside
// well-formed UTF-8 escaped as `\xNN`.
std::string printable_log_text(std::string_view text);

// A report document: the same, except that '\n', '\t' and backslashes pass through.
std::string printable_document(std::string_view text);

} // namespace klpemu
