// libFuzzer target for the remote client's stream reading: server-sent events with OpenAI's
// chunks, cut into pieces of any size. Built with clang by tests/fuzz/CMakeLists.txt; run by
// scripts/fuzz sse.
#include "sse_fuzz_input.h"

#include <cstddef>
#include <cstdint>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    hearth::fuzz::run_sse_input(std::string_view(reinterpret_cast<const char*>(data), size));
    return 0;
}
