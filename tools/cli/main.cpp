// hearth-cli: Hearth's engine from the terminal. Finds the command, parses its options
// (command_specs.cpp), answers --help, and runs it behind the catch at the top (top_level.h).
#include "commands.h"
#include "hearth/prefill_numerics.h"
#include "top_level.h"

#include <cstdio>
#include <string>
#include <string_view>

namespace {

using hearth::cli::CommandSpec;

// "run MODEL (-p PROMPT | -f FILE) [OPTIONS]"; "template list".
std::string usage_line(const CommandSpec& spec) {
    return spec.synopsis.empty() ? spec.name : spec.name + " " + spec.synopsis;
}

void print_usage(std::FILE* out) {
    std::fprintf(out, "usage: hearth-cli COMMAND [OPTIONS]\n\ncommands:\n");
    for (const auto& command : hearth::cli::commands()) {
        const CommandSpec& spec = command.spec();
        std::fprintf(out, "  %s\n      %s\n", usage_line(spec).c_str(), spec.summary.c_str());
    }
    std::fprintf(out, "\nhearth-cli COMMAND --help lists a command's options.\n"
                      "hearth-cli --version prints the version.\n");
}

// The command named by argv[1] (and argv[2] for two-word commands such as "template render");
// `words` says how many arguments the name took.
const hearth::cli::Command* find_command(int argc, char** argv, int& words) {
    for (const auto& command : hearth::cli::commands()) {
        const std::string& name = command.spec().name;
        const size_t space = name.find(' ');
        if (space == std::string::npos ? name == argv[1]
                                       : argc > 2 && name.substr(0, space) == argv[1] &&
                                             name.substr(space + 1) == argv[2]) {
            words = space == std::string::npos ? 1 : 2;
            return &command;
        }
    }
    return nullptr;
}

// "hearth-cli template" without list or render: the group's commands.
int command_group(std::string_view group, int argc, char** argv) {
    const bool help =
        argc > 2 && (std::string_view(argv[2]) == "--help" || std::string_view(argv[2]) == "-h");
    std::FILE* out = help ? stdout : stderr;
    if (!help) {
        std::fprintf(stderr, "hearth-cli %.*s: %s\n", static_cast<int>(group.size()), group.data(),
                     argc > 2 ? (std::string("unknown subcommand '") + argv[2] + "'").c_str()
                              : "which one?");
    }
    std::fprintf(out, "usage:\n");
    for (const auto& command : hearth::cli::commands()) {
        const CommandSpec& spec = command.spec();
        if (spec.name.starts_with(std::string(group) + " ")) {
            std::fprintf(out, "  hearth-cli %s\n      %s\n", usage_line(spec).c_str(),
                         spec.summary.c_str());
        }
    }
    return help ? 0 : hearth::cli::kUsageExitStatus;
}

int dispatch(int argc, char** argv) {
    if (argc < 2) {
        print_usage(stderr);
        return hearth::cli::kUsageExitStatus;
    }
    const std::string_view name = argv[1];
    if (name == "--version" || name == "-V") {
        std::printf("hearth-cli %s\n", HEARTH_VERSION);
        return 0;
    }
    if (name == "--help" || name == "-h" || name == "help") {
        print_usage(stdout);
        return 0;
    }
    int words = 0;
    const hearth::cli::Command* command = find_command(argc, argv, words);
    if (!command) {
        for (const auto& other : hearth::cli::commands()) {
            if (other.spec().name.starts_with(std::string(name) + " ")) {
                return command_group(name, argc, argv);
            }
        }
        std::fprintf(stderr, "hearth-cli: unknown command '%s'\n\n", argv[1]);
        print_usage(stderr);
        return hearth::cli::kUsageExitStatus;
    }
    const CommandSpec& spec = command->spec();
    auto args = hearth::cli::parse_args(argc - 1 - words, argv + 1 + words, spec);
    if (!args) {
        return hearth::cli::usage_error(spec, args.error().message);
    }
    if (args->help) {
        std::fputs(hearth::cli::format_help(spec).c_str(), stdout);
        return 0;
    }
    return hearth::cli::run_guarded(spec.title(), [&] { return command->run(*args); });
}

} // namespace

namespace hearth::cli {

int report_error(const char* message) {
    std::fprintf(stderr, "hearth-cli: %s\n", message);
    return kFailureExitStatus;
}

} // namespace hearth::cli

int main(int argc, char** argv) {
    hearth::cli::install_terminate_handler("hearth-cli");
    // Parsing and --help allocate too: they run behind the same catch as the commands.
    return hearth::cli::run_guarded("hearth-cli", [&] { return dispatch(argc, argv); });
}
