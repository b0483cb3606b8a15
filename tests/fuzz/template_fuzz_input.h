// One fuzz input through the whole chat-template API: shared by the libFuzzer target
// (fuzz_chat_template.cpp, built with clang) and the regression test that replays the inputs
// the fuzzer found (tst_template_fuzz_regressions, built with the normal compiler).
#pragma once

#include <string>
#include <string_view>

namespace hearth::fuzz {

// The input is a template, optionally followed by a NUL byte and a variables part: a JSON
// object (its keys become template variables; a "messages" list replaces the conversation)
// or, when it is not JSON, text used as a user message's content.
//
// Runs parse(), source(), all three render() entries with a few conversations, the special
// token scan, choose_template() (both overloads), template_warnings() and the built-in
// lookup. Returns a deterministic description of what happened, one line per step: errors
// verbatim, rendered text as its length and a hash. It never throws; a crash, a sanitizer
// report, a leak or a hang in here is a bug in the engine.
std::string run_template_input(std::string_view data);

} // namespace hearth::fuzz
