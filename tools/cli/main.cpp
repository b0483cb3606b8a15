// hearth-cli: Hearth's engine from the terminal.
#include "commands.h"

#include <cstdio>
#include <cstring>
#include <string_view>

namespace {

struct Command {
    const char* name;
    int (*run)(int argc, char** argv);
    const char* usage;
};

constexpr Command kCommands[] = {
    {"info", hearth::cli::cmd_info,
     "info MODEL [--ctx N] [--json]    model facts and memory arithmetic"},
    {"tensor", hearth::cli::cmd_tensor,
     "tensor MODEL NAME --out FILE.npy  one tensor, dequantized to float32"},
    {"tokenize", hearth::cli::cmd_tokenize,
     "tokenize MODEL (--file F | TEXT) [--ids] [--no-add-special] [--parse-special]  token ids"},
    {"run", hearth::cli::cmd_run, "run MODEL -p PROMPT [-n N] [--temp T] ... [--raw]  one completion"},
    {"compare", hearth::cli::cmd_compare,
     "compare MODEL -p PROMPT (--template T | --column SPEC)...  columns side by side"},
    {"chat", hearth::cli::cmd_chat, "chat MODEL [--system TEXT]          multi-turn chat in the terminal"},
    {"perplexity", hearth::cli::cmd_perplexity,
     "perplexity MODEL --file TEXT [--ctx N]  perplexity as llama-perplexity computes it"},
    {"template", hearth::cli::cmd_template,
     "template (list | render ...)        a conversation rendered with a chat template"},
    {"pull", hearth::cli::cmd_pull,
     "pull (URL | owner/repo[:file] | catalog-id) [--dir D] [--sha256 X] [--quant Q]  download a model"},
};

void print_usage(std::FILE* out) {
    std::fprintf(out, "usage: hearth-cli COMMAND [ARGS]\n\ncommands:\n");
    for (const auto& command : kCommands) {
        std::fprintf(out, "  %s\n", command.usage);
    }
    std::fprintf(out, "\n  --version, --help\n");
}

} // namespace

namespace hearth::cli {

int report_error(const char* message) {
    std::fprintf(stderr, "hearth-cli: %s\n", message);
    return 1;
}

} // namespace hearth::cli

int main(int argc, char** argv) {
    if (argc < 2) {
        print_usage(stderr);
        return 2;
    }
    std::string_view name = argv[1];
    if (name == "--version" || name == "-V") {
        std::printf("hearth-cli %s\n", HEARTH_VERSION);
        return 0;
    }
    if (name == "--help" || name == "-h" || name == "help") {
        print_usage(stdout);
        return 0;
    }
    for (const auto& command : kCommands) {
        if (name == command.name) {
            return command.run(argc - 2, argv + 2);
        }
    }
    std::fprintf(stderr, "hearth-cli: unknown command '%s'\n\n", argv[1]);
    print_usage(stderr);
    return 2;
}
