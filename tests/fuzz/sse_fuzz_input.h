// One fuzz input through the remote client's stream reading (remote/src/reply_reader.h: the
// SSE parser feeding the OpenAI reply reader): shared by the libFuzzer target
// (fuzz_sse_stream.cpp, built with clang) and the regression test that replays what it found
// (tst_remote_protocol, built with the normal compiler).
#pragma once

#include <string>
#include <string_view>

namespace hearth::fuzz {

// The input's first byte chooses how the rest is cut into pieces (1 to 64 bytes: bits 0-5)
// and whether it is read as chat chunks or text-completion chunks (bit 6); the rest is the
// response body of a streamed request. Returns a deterministic description (the reply's
// lengths, finish reason and token count, or the failure's kind and the partial text's
// length). It never throws; a crash, a sanitizer report, a leak or a hang in here is a bug.
std::string run_sse_input(std::string_view input);

} // namespace hearth::fuzz
