// libFuzzer target for the local server's request bodies: each input is read as a chat
// completion and a completion request, and what is accepted is rendered and answered.
// Built with clang by tests/fuzz/CMakeLists.txt; run by scripts/fuzz requests.
#include "request_fuzz_input.h"

#include <cstddef>
#include <cstdint>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    hearth::fuzz::run_request_input(std::string_view(reinterpret_cast<const char*>(data), size));
    return 0;
}
