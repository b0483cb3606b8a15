// `hearth-cli imatrix MODEL --text FILE -o OUT`: an importance matrix computed with Hearth's
// forward pass (hearth/imatrix.h), written in llama.cpp's GGUF imatrix format, for
// `hearth-cli quantize --imatrix` or llama.cpp's llama-quantize --imatrix.
#include "cli_args.h"
#include "commands.h"
#include "hearth/file_input.h"
#include "hearth/imatrix.h"
#include "hearth/model.h"
#include "hearth/tokenizer.h"

#include <cstdio>
#include <fmt/format.h>

namespace hearth::cli {

Result<std::shared_ptr<const Model>> load_model_for_cli(const std::string& path, int n_threads);

namespace {
constexpr int kDefaultImatrixContext = 512; // llama-imatrix's default -c
constexpr int kMaxImatrixContext = 1 << 20;
} // namespace

const CommandSpec& imatrix_spec() {
    static const CommandSpec spec{
        .program = "hearth-cli",
        .name = "imatrix",
        .synopsis = "MODEL --text FILE -o OUT.gguf [OPTIONS]",
        .summary = "Computes an importance matrix as llama-imatrix does (the mean squared "
                   "activation of each input column of every matrix, over a text), on the CPU, "
                   "and writes it in llama.cpp's GGUF imatrix format for quantize --imatrix.",
        .options = {
            option("--text", "FILE", "the text to run (required)").alias("-f"),
            option("--output", "OUT", "the imatrix file to write (required)").alias("-o"),
            option("--ctx", "N",
                   fmt::format("tokens per chunk, 16 to {} (default {})", kMaxImatrixContext,
                               kDefaultImatrixContext))
                .alias("-c")
                .within(IntRange{16, kMaxImatrixContext}),
            option("--chunks", "N",
                   fmt::format("run at most N chunks, 1 to {} (default: every whole chunk of "
                               "the text)",
                               kMaxImatrixContext))
                .within(IntRange{1, kMaxImatrixContext}),
            option("--threads", "N", "CPU threads, 1 to 1024 (default: the physical cores)")
                .alias("-t")
                .within(IntRange{1, 1024}),
        }};
    return spec;
}

int cmd_imatrix(const Args& args) {
    if (args.positionals.size() != 1 || !args.get("--text") || !args.get("--output")) {
        return usage_error(*args.spec, "expects one MODEL, --text FILE and -o OUT");
    }
    auto ctx = args.get_int("--ctx");
    auto chunks = args.get_int("--chunks");
    auto threads = args.get_int("--threads");
    for (const auto* value : {&ctx, &chunks, &threads}) {
        if (!*value) {
            return usage_error(*args.spec, value->error().message);
        }
    }
    const std::string text_path = *args.get("--text");
    const std::string out_path = *args.get("--output");
    auto text = read_file_input(text_path, "the --text file", kMaxTextInputBytes);
    if (!text) {
        return report_error(text.error().message.c_str());
    }
    auto model = load_model_for_cli(args.positionals[0], static_cast<int>(threads->value_or(0)));
    if (!model) {
        return report_error(model.error().message.c_str());
    }
    auto tokens =
        (*model)->tokenizer().encode(*text, {.add_special = true, .parse_special = false});
    if (!tokens) {
        return report_error(tokens.error().message.c_str());
    }
    const ImatrixComputeOptions options{
        .n_ctx = static_cast<uint32_t>(ctx->value_or(kDefaultImatrixContext)),
        .max_chunks = static_cast<size_t>(chunks->value_or(0)),
        .n_threads = static_cast<unsigned>(threads->value_or(0)),
        .dataset = text_path};
    std::fprintf(stderr, "%zu tokens, chunks of %u\n", tokens->size(), options.n_ctx);
    auto result = compute_imatrix(*model, *tokens, options, [](size_t done, size_t total) {
        std::fprintf(stderr, "[%zu/%zu]\n", done, total);
        return true;
    });
    if (!result) {
        return report_error(result.error().message.c_str());
    }
    for (const std::string& name : result->unseen) {
        std::fprintf(stderr, "note: no product of 16 or more tokens read %s: it has no entry\n",
                     name.c_str());
    }
    if (auto saved = save_imatrix(out_path, result->matrix); !saved) {
        return report_error(saved.error().message.c_str());
    }
    std::fprintf(stderr, "perplexity over the chunks: %.4f\n", result->perplexity);
    std::fprintf(stderr, "wrote %s: %zu entries, %zu chunks of %u\n", out_path.c_str(),
                 result->matrix.entries.size(), result->chunks, options.n_ctx);
    return 0;
}

} // namespace hearth::cli
