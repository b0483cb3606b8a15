// libFuzzer target for the GGUF reader and the model loader: each input is a GGUF file (or
// the parts of a split model) run through the header parser, the model facts, the memory
// plans, GgufFile, Model::load and a short forward pass. Built with clang by
// tests/fuzz/CMakeLists.txt; run by scripts/fuzz gguf.
#include "gguf_fuzz_input.h"

#include <cstddef>
#include <cstdint>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    hearth::fuzz::run_gguf_input(std::string_view(reinterpret_cast<const char*>(data), size));
    return 0;
}
