// libFuzzer target for messages JSON as hearth-cli reads a messages file: each input goes
// through parse_json_input and render_messages with a built-in and two real templates.
// Built with clang by tests/fuzz/CMakeLists.txt; run by scripts/fuzz messages.
#include "messages_fuzz_input.h"

#include <cstddef>
#include <cstdint>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    hearth::fuzz::run_messages_input(std::string_view(reinterpret_cast<const char*>(data), size));
    return 0;
}
