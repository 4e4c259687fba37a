// A one-hunk edit of an entry-ftrace.S, applied when the file is read: how klpemu's own tests
// (and a developer asking "what if I drop this line?") make a broken variant of a good file
// without keeping a copy that drifts from it. The hunk reads like a unified diff without
// line numbers; where it applies is found by its text, so it either lands where it was meant to
// or fails naming what it looked for.
#pragma once

#include "emu/result.h"

#include <string>
#include <string_view>
#include <vector>

namespace klpemu::patcher {

// Applies `hunk` to `text`. Each element is one line: " TEXT" (context, kept), "-TEXT" (deleted)
// or "+TEXT" (inserted). The context and deleted lines, in order, must match consecutive lines
// of `text` exactly once; lines compare with leading/trailing blanks dropped and inner runs of
// blanks as one space. Inserted lines are written as given, indented by a tab. Errors: an
// element without its prefix; a hunk with nothing to match; no match; more than one match.
Result<std::string> apply_source_hunk(std::string_view text, const std::vector<std::string>& hunk);

} // namespace klpemu::patcher
