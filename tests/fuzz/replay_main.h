// The main() of the fuzz targets' replay programs: runs each input file given on the command
// line through the target's entry function and prints what it gave, or with --write-expected
// records it next to the input as FILE.expected (the outcome the regression tests check).
// Built with the sanitizers but without libFuzzer, for triaging what scripts/fuzz found.
#pragma once

#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>
#include <string_view>

namespace hearth::fuzz {

inline int replay_inputs(int argc, char** argv, std::string (*run)(std::string_view)) {
    const bool write = argc > 1 && std::string_view(argv[1]) == "--write-expected";
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
        const std::string outcome = run(data.str());
        if (!write) {
            std::printf("== %s\n%s", argv[i], outcome.c_str());
            continue;
        }
        const std::string path = std::string(argv[i]) + ".expected";
        std::ofstream out(path, std::ios::binary);
        out << outcome;
        if (!out) {
            std::fprintf(stderr, "cannot write %s\n", path.c_str());
            status = 1;
        }
    }
    return status;
}

} // namespace hearth::fuzz
