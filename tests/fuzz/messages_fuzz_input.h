// One fuzz input through what hearth-cli template render does with a messages file: shared by
// the libFuzzer target (fuzz_messages.cpp, built with clang) and the regression test that
// replays what it found (tst_template_fuzz_regressions, built with the normal compiler).
#pragma once

#include <string>
#include <string_view>

namespace hearth::fuzz {

// The input is the text of a messages file, optionally followed by a NUL byte and the text of
// a tools file. Each is read with parse_json_input, as the CLI reads --messages and --tools
// (a tools part that does not parse leaves the built-in list of one tool); the messages are
// then rendered with render_messages by the built-in chatml template and by two real
// templates of tests/data/templates/corpus/ (Qwen3-Coder: tool calls and their arguments;
// Llama 3.2: tools, a dated system prompt, raise_exception), each with and without a
// generation prompt.
//
// Returns a deterministic description, one line per step: errors verbatim, rendered text as
// its length and a hash. It never throws; a crash, a sanitizer report, a leak or a hang in
// here is a bug in the engine.
std::string run_messages_input(std::string_view data);

} // namespace hearth::fuzz
