// Reasoning ("thinking") in a model's replies: how the model's chat template marks it
// (<think>…</think> and its cousins, or gpt-oss's "harmony" channels), which template variable
// turns it on or off, and a splitter that separates a streamed reply into its reasoning and its
// answer as the text arrives.
//
// Everything here is detected from the template's source and the vocabulary's tokens, never
// from a model's name. Nothing throws; the splitter accepts any bytes (a reply is model output:
// it may never close its reasoning, split a marker across tokens, or write markers in odd
// places) and holds back at most one marker's worth of text.
#pragma once

#include "hearth/chat_template.h"
#include "hearth/error.h"

#include <cstddef>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

namespace hearth {

// The longest header between two harmony messages ("<|start|>assistant to=functions.x
// <|channel|>commentary <|constrain|>json<|message|>"): past it the text is taken as the
// answer, unparsed (docs/LIMITS.md, "Reasoning"). Real headers are under 100 bytes.
inline constexpr size_t kMaxHarmonyHeaderBytes = 256;

enum class ReasoningSyntax {
    none,    // the template marks no reasoning
    tags,    // an open and a close tag around the reasoning at the start of the reply
    harmony, // gpt-oss: <|channel|>analysis<|message|>…<|end|>, then the final channel
};

// How a template lets the user choose how much the model thinks.
enum class ThinkingSwitchKind {
    none,    // no switch: the model thinks (or not) as it was trained
    boolean, // a true/false variable: Qwen3's enable_thinking, DeepSeek V3.1's thinking
    effort,  // a level: gpt-oss's reasoning_effort (low, medium, high)
};

struct ThinkingSwitch {
    ThinkingSwitchKind kind = ThinkingSwitchKind::none;
    std::string variable; // the template variable it sets: "enable_thinking", "reasoning_effort"

    // What the user may pick, in the order a menu shows them: {"on", "off"} for a boolean
    // switch, {"low", "medium", "high"} for an effort; empty without a switch.
    std::vector<std::string> choices() const;
    // The template variables for `choice` ({"enable_thinking": false}); "" (the template's
    // own default) gives none. Fails with invalid_argument naming the choices when `choice` is
    // not one of them.
    Result<nlohmann::ordered_json> variables(std::string_view choice) const;
};

struct ReasoningFormat {
    ReasoningSyntax syntax = ReasoningSyntax::none;
    std::string open;  // tags: "<think>"
    std::string close; // tags: "</think>"
    ThinkingSwitch thinking_switch;

    bool marks_reasoning() const { return syntax != ReasoningSyntax::none; }
};

// What `template_source` marks as reasoning and which variable switches it. Tags are taken
// when the template writes the close tag, or, for a template that names none (a built-in or a
// raw prompt), when the vocabulary has both tags as tokens. Harmony when the template writes
// <|channel|> and <|message|>. `has_token` may be null.
ReasoningFormat detect_reasoning_format(std::string_view template_source,
                                        const VocabularyLookup& has_token);

// Whether a prompt rendered with this format leaves the model inside its reasoning: the
// DeepSeek-R1 distills' generation prompt ends with "<think>\n", so their reply starts with the
// reasoning and only closes it.
bool prompt_opens_reasoning(const ReasoningFormat& format, std::string_view rendered_prompt);

// Text split off a reply, in the order it came: reasoning and answer.
struct ReasoningDelta {
    std::string reasoning;
    std::string answer;

    bool empty() const { return reasoning.empty() && answer.empty(); }
};

// Splits a reply as its text streams in. The reasoning is the text between the open and the
// close marker when the reply begins with the open marker (after white space), or from the
// start when the prompt opened it; everything after the close marker is the answer, markers
// inside it included. White space around the reasoning and at the start of the answer is
// dropped. A reply that never closes its reasoning is all reasoning.
class ReasoningSplitter {
public:
    enum class Phase {
        undecided, // nothing but white space or the start of a marker yet
        reasoning,
        answer,
    };

    ReasoningSplitter() = default; // splits nothing: all answer
    ReasoningSplitter(ReasoningFormat format, bool starts_in_reasoning);

    // The text that `text` (the next bytes of the reply) completes. Bytes that may begin a
    // marker are held back until the next call or finish().
    ReasoningDelta feed(std::string_view text);
    // The end of the reply: whatever was held back, where it belongs.
    ReasoningDelta finish();

    // feed() for one generated token (TokenEvent: its text and when it came, in ms since
    // generation started), counting the reasoning's tokens and time: a token belongs to the
    // reasoning when it comes before the answer's first byte (the markers' tokens included).
    ReasoningDelta feed_token(std::string_view text, double ms);
    int32_t reasoning_tokens() const { return reasoning_tokens_; }
    // From the first token to the last token of the reasoning; 0 without reasoning.
    double reasoning_ms() const {
        return reasoning_tokens_ > 0 ? last_reasoning_ms_ - first_ms_ : 0;
    }

    Phase phase() const { return phase_; }
    // The reasoning was closed (the answer may still be empty).
    bool reasoning_closed() const { return closed_; }

private:
    void feed_tags(ReasoningDelta& out);
    void feed_harmony(ReasoningDelta& out);
    void put(ReasoningDelta& out, bool to_reasoning, std::string_view text);

    ReasoningFormat format_;
    Phase phase_ = Phase::answer;
    bool closed_ = false;
    std::string pending_;      // held back: a possible marker or a harmony header
    std::string reasoning_ws_; // white space inside the reasoning, kept until text follows it
    bool answer_started_ = false;
    bool reasoning_started_ = false;
    bool reasoning_message_start_ = true; // drop white space until the reasoning's text
    bool in_harmony_header_ = false;
    bool harmony_reasoning_ = false; // the current harmony message is on the analysis channel
    int32_t reasoning_tokens_ = 0;
    int32_t undecided_tokens_ = 0; // tokens before the splitter knew where they belong
    double first_ms_ = -1;
    double last_reasoning_ms_ = 0;
};

// A reply's generation divided between its reasoning and its answer, so that each has its
// own speed. Speeds are decode speeds: the first token's time (the prompt's prefill) is not
// the reasoning's.
struct ReplyTiming {
    int32_t reasoning_tokens = 0;
    double reasoning_ms = 0; // first token to the reasoning's last
    int32_t answer_tokens = 0;
    double answer_ms = 0; // the reasoning's last token to the reply's last

    double reasoning_tokens_per_second() const {
        return reasoning_tokens > 1 && reasoning_ms > 0
                   ? (reasoning_tokens - 1) * 1000.0 / reasoning_ms
                   : 0;
    }
    double answer_tokens_per_second() const {
        return answer_tokens > 0 && answer_ms > 0 ? answer_tokens * 1000.0 / answer_ms : 0;
    }
};
// `n_generated` and `decode_ms` as GenerationStats has them (decode_ms: first token to last).
ReplyTiming reply_timing(const ReasoningSplitter& splitter, int32_t n_generated, double decode_ms);

// A whole reply at once (a saved reply, the CLI's --json): what a splitter fed every byte
// would give.
struct SplitReply {
    std::string reasoning;
    std::string answer;
    bool reasoning_closed = false;
};
SplitReply split_reasoning(const ReasoningFormat& format, bool starts_in_reasoning,
                           std::string_view reply);

} // namespace hearth
