// Replays fuzz inputs through the chat-template fuzz entry and prints what each one gave,
// or with --write-expected records it next to the input as FILE.expected (the outcome that
// tst_template_fuzz_regressions checks). For triaging what scripts/fuzz templates found.
#include "template_fuzz_input.h"

#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>
#include <string_view>

int main(int argc, char** argv) {
    bool write = argc > 1 && std::string_view(argv[1]) == "--write-expected";
    if (argc < (write ? 3 : 2)) {
        std::fprintf(stderr, "usage: %s [--write-expected] INPUT...\n", argv[0]);
        return 2;
    }
    int status = 0;
    for (int i = write ? 2 : 1; i < argc; ++i) {
        std::ifstream in(argv[i], std::ios::binary);
        if (!in) {
            std::fprintf(stderr, "cannot read %s\n", argv[i]);
            status = 1;
            continue;
        }
        std::stringstream data;
        data << in.rdbuf();
        std::string outcome = hearth::fuzz::run_template_input(data.str());
        if (!write) {
            std::printf("== %s\n%s", argv[i], outcome.c_str());
            continue;
        }
        std::string path = std::string(argv[i]) + ".expected";
        std::ofstream out(path, std::ios::binary);
        out << outcome;
        if (!out) {
            std::fprintf(stderr, "cannot write %s\n", path.c_str());
            status = 1;
        }
    }
    return status;
}
