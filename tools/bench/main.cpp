// hearth-bench: prefill and decode speed measured the way llama.cpp's llama-bench measures
// them, so the two are comparable: pp<N> runs one batch of N prompt tokens on an empty
// cache; tg<N> generates N tokens one at a time (each fed back, no sampling). Each test
// runs once to warm up, then -r times; tokens/s is reported as mean ± standard deviation.
//
// `hearth-bench --template FILE.jinja [--turns 50]` times the chat-template renderer instead:
// a conversation of N turns (a system message, then user/assistant pairs) rendered with
// the template, microseconds per render.
#include "bench_cuda.h"
#include "bench_requests.h"
#include "bench_sequences.h"
#include "bench_speculation.h"
#include "cli_args.h"
#include "hearth/batch_generation.h"
#include "hearth/chat_template.h"
#include "hearth/diagnosis.h"
#include "hearth/file_input.h"
#include "hearth/gpu_layers.h"
#include "hearth/memory_plan.h"
#include "hearth/memory_probe.h"
#include "hearth/model.h"
#include "hearth/prefill_numerics.h"
#include "hearth/prompt.h"
#include "hearth/scheduler.h"
#include "hearth/session.h"
#include "json_output.h"
#include "top_level.h"

#include <chrono>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <vector>

using namespace hearth;

namespace {

struct Options {
    std::string model;
    int n_prompt = 512;
    int n_gen = 128;
    int depth = 0; // -d: tokens in the cache before each test
    int repetitions = 5;
    int n_threads = 0;
    bool json = false;
    std::string template_file; // --template: time rendering instead of the model
    int turns = 50;
    std::string device = "cpu";                 // --device cuda: the CUDA forward (bench_cuda.cpp)
    int32_t gpu_layers = hearth::kAllGpuLayers; // --gpu-layers, with --device cuda
    std::vector<int> sequences; // --sequences 1,2,4: batched generation (bench_sequences.cpp)
    std::vector<int> requests;  // --requests 1,2,4,8: the Scheduler (bench_requests.cpp)
    // --draft FILE / --lookup N: speculative decoding (bench_speculation.cpp)
    std::string draft;
    hearth::SpeculationOptions speculation;
    std::string prompt;
};

using hearth::cli::Args;
using hearth::cli::CommandSpec;
using hearth::cli::IntRange;
using hearth::cli::option;

const CommandSpec& bench_spec() {
    constexpr IntRange kTokens{0, 1 << 20};
    static const CommandSpec spec{
        .program = "hearth-bench",
        .name = "",
        .synopsis = "(MODEL | --template FILE.jinja) [OPTIONS]",
        .summary = "Prefill (pp<N>: one batch of N prompt tokens) and decode (tg<N>: N tokens "
                   "one at a time) speed as llama-bench measures them, in tokens/s; or how long "
                   "a chat template takes to render.",
        .options = {
            option("--n-prompt", "N",
                   fmt::format("prompt tokens of the prefill test, {} (skip it) to {} (default {})",
                               kTokens.low, kTokens.high, Options{}.n_prompt))
                .alias("-p")
                .within(kTokens),
            option("--n-gen", "N",
                   fmt::format("tokens of the decode test, {} (skip it) to {} (default {})",
                               kTokens.low, kTokens.high, Options{}.n_gen))
                .alias("-n")
                .within(kTokens),
            option("--depth", "N",
                   fmt::format("tokens already in the cache when each test starts, as "
                               "llama-bench's -d: prefill and decode at that depth, 0 to {} "
                               "(default 0), CPU tests only",
                               kTokens.high))
                .alias("-d")
                .within(kTokens),
            option("--repetitions", "N",
                   fmt::format("runs of each test after one to warm up, 1 to 1000 (default {})",
                               Options{}.repetitions))
                .alias("-r")
                .within(IntRange{1, 1000}),
            hearth::cli::threads_option(),
            hearth::cli::flag("--json", "print the results as JSON"),
            option("--device", "cpu|cuda",
                   "the CPU forward, or the CUDA one with its load time and bandwidth roofline "
                   "(default cpu)"),
            option("--gpu-layers", "all|auto|N",
                   "with --device cuda, the layers on the GPU, the rest on the CPU (default all)"),
            option("--sequences", "LIST",
                   fmt::format("decode 1 to {} sequences in one batch, each count of the list "
                               "in turn, e.g. 1,2,4 (default: off)",
                               kMaxSequencesTogether)),
            option("--requests", "LIST",
                   fmt::format("N concurrent requests on a scheduler of N slots, 1 to {}, each "
                               "count of the list in turn, e.g. 1,2,4,8 (default: off)",
                               kMaxSchedulerSlots)),
            option("--draft", "MODEL",
                   "decode greedy replies with and without speculation by this draft model "
                   "(same vocabulary): tokens/s of both, speed-up, acceptance rate"),
            option("--lookup", "N",
                   fmt::format("as --draft, with prompt lookup of n-grams up to N (1 to {})",
                               hearth::kMaxLookupNgram))
                .within(IntRange{1, hearth::kMaxLookupNgram}),
            option("--draft-max", "N",
                   fmt::format("with --draft or --lookup, tokens drafted per step, 1 to {} "
                               "(default {})",
                               hearth::kMaxDraftTokens, hearth::SpeculationOptions{}.draft_max))
                .within(IntRange{1, hearth::kMaxDraftTokens}),
            option("--prompt", "TEXT",
                   "with --draft or --lookup, the user message (default: a code edit whose "
                   "reply repeats the prompt's code)"),
            option("--template", "FILE.jinja",
                   "time the rendering of this chat template instead of a model"),
            option("--turns", "N",
                   fmt::format("messages in the conversation --template renders, 1 to 100000 "
                               "(default {})",
                               Options{}.turns))
                .within(IntRange{1, 100000}),
        }};
    return spec;
}

// Options from the parsed command line; an error is a usage error naming the option.
hearth::Result<Options> read_options(const Args& args) {
    Options o;
    if (args.positionals.size() > 1 ||
        (args.positionals.empty() == !args.get("--template").has_value())) {
        return hearth::fail(hearth::ErrorCode::invalid_argument,
                            "expects either one MODEL or --template FILE.jinja");
    }
    o.model = args.positionals.empty() ? std::string() : args.positionals[0];
    o.template_file = args.get("--template").value_or("");
    o.json = args.has("--json");
    for (auto [name, target] : {std::pair{"--n-prompt", &o.n_prompt},
                                {"--n-gen", &o.n_gen},
                                {"--depth", &o.depth},
                                {"--repetitions", &o.repetitions},
                                {"--threads", &o.n_threads},
                                {"--turns", &o.turns}}) {
        auto value = args.get_int(name);
        if (!value) {
            return std::unexpected(value.error());
        }
        *target = static_cast<int>(value->value_or(*target));
    }
    o.draft = args.get("--draft").value_or("");
    o.prompt = args.get("--prompt").value_or("");
    if (!o.draft.empty() && args.get("--lookup")) {
        return hearth::fail(hearth::ErrorCode::invalid_argument,
                            "--draft and --lookup are two ways to draft: choose one");
    }
    if (auto n = args.get_int("--lookup"); !n) {
        return std::unexpected(n.error());
    } else if (*n) {
        o.speculation.mode = hearth::SpeculationMode::lookup;
        o.speculation.lookup_ngram = static_cast<int32_t>(**n);
    }
    if (!o.draft.empty()) {
        o.speculation.mode = hearth::SpeculationMode::draft_model;
    }
    if (auto n = args.get_int("--draft-max"); !n) {
        return std::unexpected(n.error());
    } else if (*n) {
        o.speculation.draft_max = static_cast<int32_t>(**n);
    }
    o.device = args.get("--device").value_or(o.device);
    if (o.device != "cpu" && o.device != "cuda") {
        return hearth::fail(hearth::ErrorCode::invalid_argument,
                            "--device must be cpu or cuda, got '" + o.device + "'");
    }
    if (auto text = args.get("--gpu-layers")) {
        const auto layers = hearth::parse_gpu_layers(*text);
        if (!layers) {
            return hearth::fail(layers.error().code, "--gpu-layers: " + layers.error().message);
        }
        o.gpu_layers = *layers;
    }
    if (auto text = args.get("--requests")) {
        o.requests = bench::parse_sequence_counts(*text);
        if (o.requests.empty()) {
            return hearth::fail(hearth::ErrorCode::invalid_argument,
                                fmt::format("--requests wants counts from 1 to {} separated by "
                                            "commas, got '{}'",
                                            kMaxSchedulerSlots, *text));
        }
    }
    if (o.depth > 0 && (o.device != "cpu" || o.speculation.enabled() || !o.template_file.empty() ||
                        args.get("--requests") || args.get("--sequences"))) {
        return hearth::fail(hearth::ErrorCode::invalid_argument,
                            "--depth applies to the CPU prefill and decode tests only");
    }
    if (auto text = args.get("--sequences")) {
        o.sequences = bench::parse_sequence_counts(*text);
        if (o.sequences.empty()) {
            return hearth::fail(hearth::ErrorCode::invalid_argument,
                                fmt::format("--sequences wants counts from 1 to {} separated by "
                                            "commas, got '{}'",
                                            kMaxSequencesTogether, *text));
        }
    }
    return o;
}

// CPU seconds of every thread of this process so far (the pool's spinning included): on a
// machine shared with other work, a step's CPU time moves far less than its wall time.
double process_cpu_seconds() {
    timespec now{};
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &now);
    return static_cast<double>(now.tv_sec) + static_cast<double>(now.tv_nsec) * 1e-9;
}

struct Figures {
    std::string test;
    int n_tokens = 0;
    std::vector<double> tokens_per_second;
    double cpu_seconds = 0; // process CPU time of the timed runs (not the warm-up)
    double mean() const {
        double sum = 0;
        for (double v : tokens_per_second)
            sum += v;
        return sum / static_cast<double>(tokens_per_second.size());
    }
    // Process CPU milliseconds per token of the timed runs.
    double cpu_ms_per_token(int repetitions) const {
        return cpu_seconds * 1e3 / (static_cast<double>(n_tokens) * repetitions);
    }
    double stddev() const {
        if (tokens_per_second.size() < 2)
            return 0.0;
        const double m = mean();
        double sum = 0;
        for (double v : tokens_per_second)
            sum += (v - m) * (v - m);
        return std::sqrt(sum / static_cast<double>(tokens_per_second.size() - 1));
    }
};

// Microseconds per render of a `turns`-turn conversation, -r repetitions of 1000 renders.
int bench_template(const Options& o) {
    auto source = read_file_input(o.template_file, "the --template file", kMaxTemplateFileBytes);
    if (!source) {
        std::fprintf(stderr, "hearth-bench: %s\n", source.error().message.c_str());
        return 1;
    }
    auto parsed = ChatTemplate::parse(*source);
    if (!parsed) {
        std::fprintf(stderr, "hearth-bench: %s\n", parsed.error().message.c_str());
        return 1;
    }
    std::vector<ChatMessage> messages{{"system", "You are a helpful assistant."}};
    for (int turn = 0; messages.size() < static_cast<size_t>(o.turns); ++turn) {
        messages.push_back(
            {"user", fmt::format("Question {}: what is {} times {}?", turn, turn, 7)});
        messages.push_back({"assistant", fmt::format("{} times 7 is {}.", turn, turn * 7)});
    }
    messages.resize(static_cast<size_t>(o.turns));
    ChatRenderOptions options;
    options.bos_token = "<|begin_of_text|>";
    options.eos_token = "<|eot_id|>";
    options.render.now_unix = 1'700'000'000;
    size_t bytes = 0;
    std::vector<double> microseconds;
    for (int rep = -1; rep < o.repetitions; ++rep) {
        constexpr int kRenders = 1000;
        const auto start = std::chrono::steady_clock::now();
        for (int i = 0; i < kRenders; ++i) {
            auto text = parsed->render(messages, options);
            if (!text) {
                std::fprintf(stderr, "hearth-bench: %s\n", text.error().message.c_str());
                return 1;
            }
            bytes = text->size();
        }
        const double us =
            std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - start)
                .count() /
            kRenders;
        if (rep >= 0)
            microseconds.push_back(us);
    }
    Figures f{"render", o.turns, microseconds};
    std::printf("%s: %d messages, %zu bytes rendered, %.1f ± %.1f µs per render\n",
                o.template_file.c_str(), o.turns, bytes, f.mean(), f.stddev());
    return 0;
}

int run_bench(const Options& o) {
    if (!o.template_file.empty()) {
        return bench_template(o);
    }
    if (!o.requests.empty()) {
        return bench::bench_requests(
            {o.model, o.n_prompt, o.n_gen, o.repetitions, o.n_threads, o.requests});
    }
    if (o.speculation.enabled()) {
        return bench::bench_speculation({.model = o.model,
                                         .draft = o.draft,
                                         .speculation = o.speculation,
                                         .prompt = o.prompt,
                                         .n_gen = o.n_gen,
                                         .repetitions = o.repetitions,
                                         .n_threads = o.n_threads,
                                         .json = o.json});
    }
    if (!o.sequences.empty()) {
        return bench::bench_sequences(
            {o.model, o.n_prompt, o.n_gen, o.repetitions, o.n_threads, o.sequences});
    }
    if (o.device == "cuda") {
        return bench::bench_cuda(
            {o.model, o.n_prompt, o.n_gen, o.repetitions, o.json, o.gpu_layers});
    }
    auto model = Model::load(o.model, {.n_threads = o.n_threads, .on_progress = {}});
    if (!model) {
        std::fprintf(stderr, "hearth-bench: %s\n", model.error().message.c_str());
        return 1;
    }
    const uint32_t n_ctx = static_cast<uint32_t>(o.depth + std::max(o.n_prompt, o.n_gen + 1) + 1);
    if (o.depth > 0 && n_ctx > (*model)->info().n_ctx_train) {
        std::fprintf(stderr,
                     "hearth-bench: --depth %d with these tests needs %u positions; the model "
                     "was trained for %u\n",
                     o.depth, n_ctx, (*model)->info().n_ctx_train);
        return 1;
    }
    // A batch takes the whole prompt, and at least 512 tokens so that the untimed depth fill runs
    // in prompt batches (with -p 0 it ran 4,096 single-token steps for -d 4096).
    constexpr int kMinBatch = 512;
    auto session = Session::create(
        *model, {.n_ctx = std::min(n_ctx, (*model)->info().n_ctx_train),
                 .n_batch = static_cast<uint32_t>(std::max(o.n_prompt, kMinBatch))});
    if (!session) {
        std::fprintf(stderr, "hearth-bench: %s\n", session.error().message.c_str());
        return 1;
    }
    const int32_t n_vocab = (*model)->tokenizer().n_vocab();
    const int32_t first = (*model)->tokenizer().bos_id().value_or(0);
    std::mt19937 rng(1234);
    auto random_token = [&] {
        return static_cast<int32_t>(rng() % static_cast<uint32_t>(n_vocab));
    };
    using Clock = std::chrono::steady_clock;
    // The cache holding `depth` tokens, untimed: filled once, then cut back to them before each
    // run (a recurrent state that cannot go back is filled again).
    std::vector<int32_t> context{first};
    while (static_cast<int>(context.size()) < o.depth)
        context.push_back(random_token());
    context.resize(static_cast<size_t>(o.depth));
    auto to_depth = [&]() -> hearth::Result<void> {
        const size_t kept = session->truncate(context.size());
        if (kept == context.size()) {
            return {};
        }
        if (auto ok = session->append(std::span(context).subspan(kept)); !ok) {
            return std::unexpected(ok.error());
        }
        return {};
    };
    const std::string at_depth = o.depth > 0 ? fmt::format(" @ d{}", o.depth) : "";

    std::vector<Figures> results;
    if (o.n_prompt > 0) {
        Figures pp{fmt::format("pp{}{}", o.n_prompt, at_depth), o.n_prompt, {}};
        for (int rep = -1; rep < o.repetitions; ++rep) {
            std::vector<int32_t> tokens{o.depth > 0 ? random_token() : first};
            while (static_cast<int>(tokens.size()) < o.n_prompt)
                tokens.push_back(random_token());
            if (auto ok = to_depth(); !ok) {
                std::fprintf(stderr, "hearth-bench: %s\n", ok.error().message.c_str());
                return 1;
            }
            const auto start = Clock::now();
            if (auto ok = session->append(tokens); !ok) {
                std::fprintf(stderr, "hearth-bench: %s\n", ok.error().message.c_str());
                return 1;
            }
            const double s = std::chrono::duration<double>(Clock::now() - start).count();
            if (rep >= 0)
                pp.tokens_per_second.push_back(o.n_prompt / s);
        }
        results.push_back(pp);
    }
    if (o.n_gen > 0) {
        Figures tg{fmt::format("tg{}{}", o.n_gen, at_depth), o.n_gen, {}};
        for (int rep = -1; rep < o.repetitions; ++rep) {
            if (auto ok = to_depth(); !ok) {
                std::fprintf(stderr, "hearth-bench: %s\n", ok.error().message.c_str());
                return 1;
            }
            int32_t token = o.depth > 0 ? random_token() : first;
            const double cpu_start = process_cpu_seconds();
            const auto start = Clock::now();
            for (int i = 0; i < o.n_gen; ++i) {
                if (auto ok = session->append({&token, 1}); !ok) {
                    std::fprintf(stderr, "hearth-bench: %s\n", ok.error().message.c_str());
                    return 1;
                }
                token = random_token();
            }
            const double s = std::chrono::duration<double>(Clock::now() - start).count();
            if (rep >= 0) {
                tg.tokens_per_second.push_back(o.n_gen / s);
                tg.cpu_seconds += process_cpu_seconds() - cpu_start;
            }
        }
        results.push_back(tg);
    }

    const auto& info = (*model)->info();
    if (o.json) {
        nlohmann::json out = nlohmann::json::array();
        for (const auto& r : results) {
            nlohmann::json row = {{"model", o.model},
                                  {"model_type", info.file_type},
                                  {"n_params", info.n_params},
                                  {"model_size", info.weights_bytes},
                                  {"active_weight_bytes", info.active_weight_bytes},
                                  {"n_expert", info.n_expert},
                                  {"n_expert_used", info.n_expert_used},
                                  {"n_threads", (*model)->n_threads()},
                                  {"test", r.test},
                                  {"n_tokens", r.n_tokens},
                                  {"n_depth", o.depth},
                                  {"avg_ts", r.mean()},
                                  {"stddev_ts", r.stddev()},
                                  {"samples_ts", r.tokens_per_second}};
            if (r.test.starts_with("tg")) {
                row["cpu_ms_per_token"] = r.cpu_ms_per_token(o.repetitions);
            }
            out.push_back(row);
        }
        std::printf("%s\n", hearth::cli::json_text(out).c_str());
    } else {
        std::printf(
            "| model | size | params | threads | test | t/s |\n|---|---|---|---|---|---|\n");
        for (const auto& r : results) {
            std::printf("| %s %s | %.2f MiB | %.2f M | %d | %s | %.2f ± %.2f |\n",
                        info.architecture.c_str(), info.file_type.c_str(),
                        static_cast<double>(info.weights_bytes) / (1 << 20),
                        static_cast<double>(info.n_params) / 1e6, (*model)->n_threads(),
                        r.test.c_str(), r.mean(), r.stddev());
        }
        // Decode is bound by reading the weights: what a token reads, and at what rate.
        std::printf("\nweights read per decoded token: %s",
                    format_bytes(static_cast<double>(info.active_weight_bytes)).c_str());
        if (info.n_expert > 0) {
            std::printf(" (%u of %u experts per layer; all weights %s)", info.n_expert_used,
                        info.n_expert,
                        format_bytes(static_cast<double>(info.weights_bytes)).c_str());
        }
        for (const auto& r : results) {
            if (r.test.starts_with("tg")) {
                std::printf("; at %s, %.1f GB/s", r.test.c_str(),
                            static_cast<double>(info.active_weight_bytes) * r.mean() / 1e9);
            }
        }
        std::printf("\n");
        // What a token costs in CPU time, every thread together (idle spinning included).
        for (const auto& r : results) {
            if (r.test.starts_with("tg")) {
                std::printf("CPU time per decoded token (%d threads together): %.2f ms at %s\n",
                            (*model)->n_threads(), r.cpu_ms_per_token(o.repetitions),
                            r.test.c_str());
            }
        }
        // Which prompt kernels ran (hearth/prefill_numerics.h; HEARTH_PREFILL=fast for int8).
        std::printf("prefill numerics: %s\n",
                    std::string(hearth::prefill_numerics_name(hearth::prefill_numerics())).c_str());
        // The roofline the doctor holds decoding against (hearth/memory_probe.h).
        if (auto bandwidth = hearth::measure_memory_bandwidth_gbs((*model)->n_threads())) {
            std::printf(
                "host memory read bandwidth: %.1f GB/s measured (%d threads): decode "
                "roofline %.1f tokens/s\n",
                *bandwidth, (*model)->n_threads(),
                hearth::decode_roofline_tokens_per_second(info.active_weight_bytes, *bandwidth));
        }
    }
    return 0;
}

} // namespace

int main(int argc, char** argv) {
    hearth::cli::install_terminate_handler("hearth-bench");
    return hearth::cli::run_guarded("hearth-bench", [&] {
        const CommandSpec& spec = bench_spec();
        auto args = hearth::cli::parse_args(argc - 1, argv + 1, spec);
        if (!args) {
            return hearth::cli::usage_error(spec, args.error().message);
        }
        if (args->help) {
            std::fputs(hearth::cli::format_help(spec).c_str(), stdout);
            return 0;
        }
        auto options = read_options(*args);
        if (!options) {
            return hearth::cli::usage_error(spec, options.error().message);
        }
        return run_bench(*options);
    });
}
