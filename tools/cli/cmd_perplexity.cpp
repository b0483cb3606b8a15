// `hearth-cli perplexity MODEL --file TEXT [--ctx N]`: perplexity as llama.cpp's
// llama-perplexity computes it: the text cut into non-overlapping windows of n_ctx tokens
// (the first token of each replaced by BOS when the model adds BOS), and in each window
// only the second half scored: -log p(token[i+1] | tokens ≤ i) for i in [n_ctx/2, n_ctx-1).
#include "cli_args.h"
#include "commands.h"
#include "generation_args.h"
#include "hearth/session.h"

#include <cmath>
#include <cstdio>
#include <fmt/format.h>
#include <fstream>
#include <sstream>

namespace hearth::cli {

Result<std::shared_ptr<const Model>> load_model_for_cli(const std::string& path, int n_threads);

int cmd_perplexity(int argc, char** argv) {
    const ArgSpec spec{.options = {"--file", "--ctx", "--threads", "--batch", "--chunks",
                                   "--kv-type", "--device", "--gpu-layers"},
                       .flags = {},
                       .repeatable = {},
                       .short_names = {{"-f", "--file"}, {"-c", "--ctx"}, {"-t", "--threads"}}};
    auto args = parse_args(argc, argv, 0, spec);
    if (!args) {
        std::fprintf(stderr, "hearth-cli perplexity: %s\n", args.error().message.c_str());
        return 2;
    }
    if (args->positionals.size() != 1 || !args->get("--file")) {
        std::fprintf(stderr, "usage: hearth-cli perplexity MODEL --file TEXT [--ctx N] "
                             "[--threads N] [--chunks N] [--kv-type f16|q8_0] "
                             "[--device cpu|cuda[:N]|auto] [--gpu-layers all|auto|N]\n");
        return 2;
    }
    auto ctx = args->get_int("--ctx");
    auto threads = args->get_int("--threads");
    auto batch = args->get_int("--batch");
    auto chunks = args->get_int("--chunks");
    for (const auto* value : {&ctx, &threads, &batch, &chunks}) {
        if (!*value) {
            return report_error(value->error().message.c_str());
        }
        if (value->value() && **value < 1) {
            return report_error("--ctx, --threads, --batch and --chunks must be at least 1");
        }
    }
    const auto kv_type = parse_kv_cache_type(args->get("--kv-type").value_or("f16"));
    if (!kv_type) {
        return report_error("--kv-type must be f16 or q8_0");
    }
    const auto device = read_device(*args);
    if (!device) {
        return report_error(device.error().message.c_str());
    }
    const auto gpu_layers = read_gpu_layers(*args);
    if (!gpu_layers) {
        return report_error(gpu_layers.error().message.c_str());
    }
    const uint32_t n_ctx = static_cast<uint32_t>(ctx->value_or(512));
    if (n_ctx < 4) {
        return report_error("--ctx must be at least 4");
    }
    std::ifstream in(*args->get("--file"), std::ios::binary);
    if (!in) {
        return report_error(fmt::format("cannot read {}", *args->get("--file")).c_str());
    }
    std::stringstream text;
    text << in.rdbuf();
    auto model = load_model_for_cli(args->positionals[0], static_cast<int>(threads->value_or(0)));
    if (!model) {
        return report_error(model.error().message.c_str());
    }
    const Tokenizer& tokenizer = (*model)->tokenizer();
    auto tokens = tokenizer.encode(text.str(), {.add_special = true, .parse_special = false});
    if (!tokens) {
        return report_error(tokens.error().message.c_str());
    }
    size_t n_chunks = tokens->size() / n_ctx;
    if (chunks->value()) {
        n_chunks = std::min<size_t>(n_chunks, static_cast<size_t>(**chunks));
    }
    if (n_chunks == 0) {
        return report_error(fmt::format("the text has {} tokens, fewer than one window of {}",
                                        tokens->size(), n_ctx)
                                .c_str());
    }
    SessionOptions options;
    options.n_ctx = n_ctx;
    options.n_batch = static_cast<uint32_t>(batch->value_or(512));
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
