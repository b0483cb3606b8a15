// Printing a reply's reasoning and answer for hearth-cli run, chat and compare.
#include "reply_output.h"

#include "json_output.h"

#include <fmt/format.h>
#include <unistd.h>

namespace hearth::cli {

namespace {

constexpr const char* kDim = "\033[2m";
constexpr const char* kReset = "\033[0m";

} // namespace

Result<nlohmann::ordered_json> read_thinking(const Args& args, const PromptFormat& format) {
    const auto choice = args.get("--think");
    if (!choice) {
        return nlohmann::ordered_json::object();
    }
    auto variables = format.reasoning.thinking_switch.variables(*choice);
    if (!variables) {
        return fail(ErrorCode::invalid_argument, "--think: " + variables.error().message);
    }
    return variables;
}

ReplyPrinter::ReplyPrinter(const ReasoningFormat& format, bool starts_in_reasoning, std::FILE* out,
                           bool show)
    : splitter_(format, starts_in_reasoning), out_(out), show_(show),
      terminal_(isatty(fileno(out)) != 0) {}

void ReplyPrinter::on_token(const TokenEvent& event) {
    print(splitter_.feed_token(event.text, event.ms));
}

void ReplyPrinter::finish() {
    print(splitter_.finish());
    if (show_ && in_reasoning_block_) { // never closed: cut by -n or the end of the context
        std::fputs(terminal_ ? kReset : "\n</think>", out_);
        std::fflush(out_);
    }
    in_reasoning_block_ = false;
}

void ReplyPrinter::print(const ReasoningDelta& delta) {
    if (!show_) {
        return;
    }
    if (!delta.reasoning.empty()) {
        if (!in_reasoning_block_ && !reasoning_block_done_) {
            std::fputs(terminal_ ? fmt::format("{}Thinking…\n", kDim).c_str() : "<think>\n", out_);
            in_reasoning_block_ = true;
        }
        std::fwrite(delta.reasoning.data(), 1, delta.reasoning.size(), out_);
    }
    if (!delta.answer.empty()) {
        if (in_reasoning_block_) {
            std::fputs(terminal_ ? fmt::format("{}\n\n", kReset).c_str() : "\n</think>\n\n", out_);
            in_reasoning_block_ = false;
            reasoning_block_done_ = true;
        }
        std::fwrite(delta.answer.data(), 1, delta.answer.size(), out_);
    }
    std::fflush(out_);
}

nlohmann::json reply_json(const GenerationStats& stats, const SplitReply& reply,
                          const ReplyTiming& timing) {
    return {
        {"reasoning", reply.reasoning},
        {"answer", reply.answer},
        {"reasoning_closed", reply.reasoning_closed},
        {"text", stats.text},
        {"stop", stop_reason_name(stats.stop)},
        {"prompt_tokens", stats.n_prompt},
        {"generated_tokens", stats.n_generated},
        {"reasoning_tokens", timing.reasoning_tokens},
        {"answer_tokens", timing.answer_tokens},
        {"prefill_ms", stats.prefill_ms},
        {"first_token_ms", stats.ttft_ms},
        {"decode_ms", stats.decode_ms},
        {"drafted_tokens", stats.n_drafted},
        {"draft_accepted_tokens", stats.n_draft_accepted},
        {"reasoning_ms", timing.reasoning_ms},
        {"reasoning_tokens_per_second", timing.reasoning_tokens_per_second()},
        {"answer_tokens_per_second", timing.answer_tokens_per_second()},
    };
}

void print_reply_json(const GenerationStats& stats, const SplitReply& reply,
                      const ReplyTiming& timing) {
    std::printf("%s\n", json_text(reply_json(stats, reply, timing)).c_str());
}

void print_reasoning_stats(const ReasoningSplitter& splitter, const GenerationStats& stats) {
    if (splitter.reasoning_tokens() == 0) {
        return;
    }
    const ReplyTiming timing = reply_timing(splitter, stats.n_generated, stats.decode_ms);
    std::fprintf(stderr,
                 "thinking: %d tokens in %.1f ms, %.1f tokens/s; answer: %d tokens in %.1f ms, "
                 "%.1f tokens/s\n",
                 timing.reasoning_tokens, timing.reasoning_ms, timing.reasoning_tokens_per_second(),
                 timing.answer_tokens, timing.answer_ms, timing.answer_tokens_per_second());
}

} // namespace hearth::cli
