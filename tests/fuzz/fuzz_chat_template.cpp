// libFuzzer target for the chat-template parser and renderer: each input is a template
// (optionally followed by a NUL byte and JSON variables) run through the whole public chat
// API. Built with clang by tests/fuzz/CMakeLists.txt; run by scripts/fuzz templates.
#include "template_fuzz_input.h"

#include <cstddef>
#include <cstdint>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    hearth::fuzz::run_template_input(std::string_view(reinterpret_cast<const char*>(data), size));
    return 0;
}
