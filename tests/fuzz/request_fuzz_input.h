// One fuzz input through the local server's request layer: shared by the libFuzzer target
// (fuzz_openai_request.cpp, built with clang) and the regression test that replays what it
// found (tst_openai_protocol, built with the normal compiler).
#pragma once

#include <string>
#include <string_view>

namespace hearth::fuzz {

// The input is a request body. It is read as a chat completion and as a completion request;
// a chat request that is accepted is rendered with the built-in chatml template (as the server
// renders a model without a template of its own) and its reply written as a whole response
// and as stream chunks, with the input's text as the reply (invalid UTF-8 included).
//
// Returns a deterministic description, one line per step: errors as status, param and
// message; accepted requests as their settings and the rendered prompt's length and hash. It
// never throws; a crash, a sanitizer report, a leak or a hang in here is a bug.
std::string run_request_input(std::string_view body);

} // namespace hearth::fuzz
