// One fuzz input through the GGUF reader and the model loader: shared by the libFuzzer target
// (fuzz_gguf.cpp, built with clang) and the regression test that replays what the fuzzer
// found (tst_gguf_fuzz_regressions, built with the normal compiler).
#pragma once

#include <string>
#include <string_view>

namespace hearth::fuzz {

// Separates the parts of a split model inside one input; an input without it is one file.
inline constexpr std::string_view kGgufPartSeparator = "HEARTH-GGUF-PART";
inline constexpr size_t kMaxGgufParts = 4;

// The input is a GGUF file, or up to kMaxGgufParts files joined by kGgufPartSeparator, which
// are written as the parts of a split model (PREFIX-0000i-of-0000n.gguf) in a private
// temporary directory.
//
// Runs parse_gguf_header on the whole first file, on it without its size and on its first
// half (a prefix, as a download reads it), then on what parses read_model_info, plan_memory,
// plan_offload and Tokenizer::from_gguf (encoding and decoding a fixed text); then
// GgufFile::open and read_tensor_f32 on the tensors (up to 4M elements in all), then
// Model::load (one thread) and, when it loads, one forward pass of two tokens in a 16-token
// session. Returns a deterministic description of what
// happened, one line per step: errors verbatim (the temporary directory written as <dir>),
// results as the facts that do not depend on the compiler (counts, sizes, token ids, never
// logits). It never throws; a crash, sanitizer report, leak or hang in here is a bug in the
// engine. The three parses of the header must agree (a prefix fails only as a truncation):
// when they do not, it prints what it found and aborts, so that the fuzzer keeps the input.
std::string run_gguf_input(std::string_view data);

} // namespace hearth::fuzz
