// `hearth-cli perplexity MODEL --file TEXT [--ctx N]`: perplexity as llama.cpp's
// llama-perplexity computes it: the text cut into non-overlapping windows of n_ctx tokens
// (the first token of each replaced by BOS when the model adds BOS), and in each window
// only the second half scored: -log p(token[i+1] | tokens ≤ i) for i in [n_ctx/2, n_ctx-1).
#include "cli_args.h"
#include "commands.h"
#include "generation_args.h"
#include "hearth/file_input.h"
#include "hearth/perplexity.h"
#include "hearth/session.h"

#include <cstdio>
#include <fmt/format.h>

namespace hearth::cli {

Result<std::shared_ptr<const Model>> load_model_for_cli(const std::string& path, int n_threads);

int cmd_perplexity(const Args& args) {
    if (args.positionals.size() != 1 || !args.get("--file")) {
        return usage_error(*args.spec, "expects one MODEL and --file TEXT");
    }
    // Ranges from the declarations (command_specs.cpp); absent options keep their defaults.
    auto ctx = args.get_int("--ctx");
    auto threads = args.get_int("--threads");
    auto batch = args.get_int("--batch");
    auto chunks = args.get_int("--chunks");
    for (const auto* value : {&ctx, &threads, &batch, &chunks}) {
        if (!*value) {
            return usage_error(*args.spec, value->error().message);
        }
    }
    const auto kv_type = read_kv_type(args);
    if (!kv_type) {
        return usage_error(*args.spec, kv_type.error().message);
    }
    const auto device = read_device(args);
    if (!device) {
        return usage_error(*args.spec, device.error().message);
    }
    const auto gpu_layers = read_gpu_layers(args);
    if (!gpu_layers) {
        return usage_error(*args.spec, gpu_layers.error().message);
    }
    const auto n_ctx = static_cast<uint32_t>(ctx->value_or(kDefaultPerplexityContext));
    auto text = read_file_input(*args.get("--file"), "the --file text", kMaxTextInputBytes);
    if (!text) {
        return report_error(text.error().message.c_str());
    }
    auto model = load_model_for_cli(args.positionals[0], static_cast<int>(threads->value_or(0)));
    if (!model) {
        return report_error(model.error().message.c_str());
    }
    const Tokenizer& tokenizer = (*model)->tokenizer();
    auto tokens = tokenizer.encode(*text, {.add_special = true, .parse_special = false});
    if (!tokens) {
        return report_error(tokens.error().message.c_str());
    }
    auto windows =
        perplexity_windows(*tokens, n_ctx, static_cast<size_t>(chunks->value_or(0)),
                           tokenizer.add_bos() ? tokenizer.bos_id() : std::optional<int32_t>{});
    if (!windows) {
        return report_error(windows.error().message.c_str());
    }
    SessionOptions options;
    options.n_ctx = n_ctx;
    options.n_batch = static_cast<uint32_t>(batch->value_or(options.n_batch));
    options.kv_type = *kv_type;
    options.gpu_layers = *gpu_layers;
    auto sessions = create_cli_sessions(*model, options, *device);
    if (!sessions) {
        return report_error(sessions.error().message.c_str());
    }
    Session* session = &sessions->front();
    std::fprintf(stderr, "%zu tokens, %zu windows of %u\n", tokens->size(), windows->size(), n_ctx);
    auto perplexity =
        measure_perplexity(*session, *windows, [](size_t done, size_t, double running) {
            std::fprintf(stderr, "[%zu]%.4f\n", done, running);
            return true;
        });
    if (!perplexity) {
        return report_error(perplexity.error().message.c_str());
    }
    std::printf("perplexity: %.6f\n", *perplexity);
    return 0;
}

} // namespace hearth::cli
