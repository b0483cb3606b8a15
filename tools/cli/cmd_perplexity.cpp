// `hearth-cli perplexity MODEL --file TEXT [--ctx N]`: perplexity as llama.cpp's
// llama-perplexity computes it: the text cut into non-overlapping windows of n_ctx tokens
// (the first token of each replaced by BOS when the model adds BOS), and in each window
// only the second half scored: -log p(token[i+1] | tokens ≤ i) for i in [n_ctx/2, n_ctx-1).
#include "cli_args.h"
#include "commands.h"
#include "generation_args.h"
#include "hearth/file_input.h"
#include "hearth/session.h"

#include <cmath>
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
    size_t n_chunks = tokens->size() / n_ctx;
    if (chunks->has_value()) {
        n_chunks = std::min<size_t>(n_chunks, static_cast<size_t>(**chunks));
    }
    if (n_chunks == 0) {
        return report_error(fmt::format("the text has {} tokens, fewer than one window of {}",
                                        tokens->size(), n_ctx)
                                .c_str());
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
    std::fprintf(stderr, "%zu tokens, %zu windows of %u\n", tokens->size(), n_chunks, n_ctx);
    const size_t first = n_ctx / 2;
    double nll = 0.0;
    size_t count = 0;
    for (size_t chunk = 0; chunk < n_chunks; ++chunk) {
        std::vector<int32_t> window(tokens->begin() + static_cast<std::ptrdiff_t>(chunk * n_ctx),
                                    tokens->begin() +
                                        static_cast<std::ptrdiff_t>((chunk + 1) * n_ctx));
        if (tokenizer.add_bos() && tokenizer.bos_id()) {
            window[0] = *tokenizer.bos_id();
        }
        auto ok = session->evaluate(window, [&](size_t i, std::span<const float> logits) {
            if (i < first || i + 1 >= window.size()) {
                return;
            }
            float max_logit = -INFINITY;
            for (float l : logits) {
                max_logit = std::max(max_logit, l);
            }
            double sum = 0.0;
            for (float l : logits) {
                sum += std::exp(static_cast<double>(l - max_logit));
            }
            const float target = logits[static_cast<size_t>(window[i + 1])];
            nll += -(static_cast<double>(target - max_logit) - std::log(sum));
            ++count;
        });
        if (!ok) {
            return report_error(ok.error().message.c_str());
        }
        std::fprintf(stderr, "[%zu]%.4f\n", chunk + 1, std::exp(nll / static_cast<double>(count)));
    }
    std::printf("perplexity: %.6f\n", std::exp(nll / static_cast<double>(count)));
    return 0;
}

} // namespace hearth::cli
