// How hearth-cli's run and chat print a reply whose model reasons first: the reasoning under a
// dimmed "Thinking" header on a terminal, between plain <think> and </think> lines otherwise,
// then the answer; and the --think option that sets the template's thinking switch.
#pragma once

#include "cli_args.h"
#include "hearth/prompt.h"
#include "hearth/reasoning.h"
#include "hearth/session.h"

#include <cstdio>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

namespace hearth::cli {

// --think's value as the template variables it sets (ThinkingSwitch::variables): none when the
// option is absent; a usage error naming the template's choices when this template has no
// switch or another one.
Result<nlohmann::ordered_json> read_thinking(const Args& args, const PromptFormat& format);

// Streams one reply to `out`, split as `format` marks it. With `show` false it prints nothing
// and only counts the reasoning's tokens and time (run --json prints at the end).
class ReplyPrinter {
public:
    ReplyPrinter(const ReasoningFormat& format, bool starts_in_reasoning, std::FILE* out,
                 bool show);

    void on_token(const TokenEvent& event);
    // Text a remote server already split into reasoning and answer (reasoning_content).
    void on_delta(const ReasoningDelta& delta) { print(delta); }
    void finish(); // prints what the splitter held back and ends the reasoning's block

    const ReasoningSplitter& splitter() const { return splitter_; }

private:
    void print(const ReasoningDelta& delta);

    ReasoningSplitter splitter_;
    std::FILE* out_;
    bool show_;
    bool terminal_;
    bool in_reasoning_block_ = false;
    bool reasoning_block_done_ = false;
};

// A reply (reasoning and answer apart) and its timings as JSON: run --json's object, and
// each column of compare --json.
nlohmann::json reply_json(const GenerationStats& stats, const SplitReply& reply,
                          const ReplyTiming& timing);

// run --json: reply_json as one JSON object on stdout.
void print_reply_json(const GenerationStats& stats, const SplitReply& reply,
                      const ReplyTiming& timing);

// "thinking: 120 tokens in 3.1 s, 38.4 tokens/s; answer: 40 tokens, 41.0 tokens/s" on stderr,
// when the reply had reasoning.
void print_reasoning_stats(const ReasoningSplitter& splitter, const GenerationStats& stats);

} // namespace hearth::cli
