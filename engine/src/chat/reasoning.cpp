// Reasoning in replies: detecting a template's reasoning markers and thinking switch, and the
// streaming splitter (hearth/reasoning.h).
#include "hearth/reasoning.h"

#include <algorithm>
#include <array>
#include <fmt/format.h>
#include <set>

namespace hearth {

namespace {

struct TagPair {
    std::string_view open;
    std::string_view close;
    // The vocabulary's tokens for the pair, for a template that does not name it.
    std::string_view open_token;
    std::string_view close_token;
};

// The tag pairs real templates write (llama.cpp's models/templates): Qwen3, DeepSeek-R1 and
// most others <think>; Apriel <thinking>; Seed-OSS <seed:think>; Command R7B and Command A
// <|START_THINKING|>; Ministral reasoning [THINK]; Gemma 4 its thought channel; Kimi-VL ◁think▷.
constexpr std::array<TagPair, 7> kTagPairs{{
    {"<think>", "</think>", "<think>", "</think>"},
    {"<thinking>", "</thinking>", "<thinking>", "</thinking>"},
    {"<seed:think>", "</seed:think>", "<seed:think>", "</seed:think>"},
    {"<|START_THINKING|>", "<|END_THINKING|>", "<|START_THINKING|>", "<|END_THINKING|>"},
    {"[THINK]", "[/THINK]", "[THINK]", "[/THINK]"},
    {"<|channel>thought", "<channel|>", "<|channel>", "<channel|>"},
    {"◁think▷", "◁/think▷", "◁think▷", "◁/think▷"},
}};

constexpr std::string_view kHarmonyChannel = "<|channel|>";
constexpr std::string_view kHarmonyMessage = "<|message|>";
constexpr std::string_view kHarmonyStart = "<|start|>";
constexpr std::array<std::string_view, 3> kHarmonyEnds{"<|end|>", "<|return|>", "<|call|>"};

bool is_space(char c) {
    return c == ' ' || c == '\n' || c == '\r' || c == '\t';
}

bool is_identifier_char(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
}

// The names a template reads as top-level variables: identifiers inside {% %} and {{ }},
// outside string literals, not after a dot (message.thinking is a message's field).
std::set<std::string, std::less<>> template_variables(std::string_view source) {
    std::set<std::string, std::less<>> names;
    size_t i = 0;
    while (i < source.size()) {
        const size_t open = source.find('{', i);
        if (open == std::string_view::npos || open + 1 >= source.size()) {
            break;
        }
        const char kind = source[open + 1];
        if (kind != '%' && kind != '{' && kind != '#') {
            i = open + 1;
            continue;
        }
        const std::string_view closing = kind == '%' ? "%}" : kind == '{' ? "}}" : "#}";
        size_t j = open + 2;
        char quote = 0;
        char previous = 0; // the last character before j that is not white space
        while (j < source.size()) {
            const char c = source[j];
            if (quote) {
                j += c == '\\' ? 2 : 1;
                quote = c == quote ? 0 : quote;
                continue;
            }
            if (source.substr(j, 2) == closing) {
                j += 2;
                break;
            }
            if (kind != '#' && (c == '\'' || c == '"')) {
                quote = c;
            } else if (kind != '#' && is_identifier_char(c)) {
                size_t end = j;
                while (end < source.size() && is_identifier_char(source[end])) {
                    ++end;
                }
                if (previous != '.' && !(c >= '0' && c <= '9')) {
                    names.emplace(source.substr(j, end - j));
                }
                previous = source[end - 1];
                j = end;
                continue;
            }
            if (!is_space(c)) {
                previous = c;
            }
            ++j;
        }
        i = j;
    }
    return names;
}

ThinkingSwitch detect_switch(std::string_view source) {
    const auto names = template_variables(source);
    // In order of preference: DeepSeek V3.1 reads both enable_thinking and thinking, and maps
    // the first onto the second.
    if (names.contains("enable_thinking")) {
        return {ThinkingSwitchKind::boolean, "enable_thinking"};
    }
    if (names.contains("thinking")) {
        return {ThinkingSwitchKind::boolean, "thinking"};
    }
    if (names.contains("reasoning_effort")) {
        return {ThinkingSwitchKind::effort, "reasoning_effort"};
    }
    return {};
}

// The length of the longest suffix of `text` that is a proper prefix of `marker`.
size_t partial_suffix(std::string_view text, std::string_view marker) {
    const size_t longest = std::min(text.size(), marker.size() - 1);
    for (size_t n = longest; n > 0; --n) {
        if (marker.starts_with(text.substr(text.size() - n))) {
            return n;
        }
    }
    return 0;
}

} // namespace

std::vector<std::string> ThinkingSwitch::choices() const {
    switch (kind) {
    case ThinkingSwitchKind::boolean:
        return {"on", "off"};
    case ThinkingSwitchKind::effort:
        return {"low", "medium", "high"};
    case ThinkingSwitchKind::none:
        break;
    }
    return {};
}

Result<nlohmann::ordered_json> ThinkingSwitch::variables(std::string_view choice) const {
    nlohmann::ordered_json out = nlohmann::ordered_json::object();
    if (choice.empty()) {
        return out;
    }
    const auto allowed = choices();
    if (std::find(allowed.begin(), allowed.end(), choice) == allowed.end()) {
        if (allowed.empty()) {
            return fail(
                ErrorCode::invalid_argument,
                fmt::format("thinking '{}': this chat template has no thinking switch", choice));
        }
        std::string list;
        for (const auto& each : allowed) {
            list += (list.empty() ? "" : ", ") + each;
        }
        return fail(
            ErrorCode::invalid_argument,
            fmt::format("thinking '{}': this chat template's {} takes {}", choice, variable, list));
    }
    if (kind == ThinkingSwitchKind::boolean) {
        out[variable] = choice == "on";
    } else {
        out[variable] = std::string(choice);
    }
    return out;
}

ReasoningFormat detect_reasoning_format(std::string_view template_source,
                                        const VocabularyLookup& has_token) {
    ReasoningFormat format;
    format.thinking_switch = detect_switch(template_source);
    const bool writes_harmony = template_source.find(kHarmonyChannel) != std::string_view::npos &&
                                template_source.find(kHarmonyMessage) != std::string_view::npos;
    if (writes_harmony) {
        format.syntax = ReasoningSyntax::harmony;
        return format;
    }
    for (const TagPair& pair : kTagPairs) {
        if (template_source.find(pair.close) != std::string_view::npos) {
            format.syntax = ReasoningSyntax::tags;
            format.open = pair.open;
            format.close = pair.close;
            return format;
        }
    }
    if (!has_token) {
        return format;
    }
    if (has_token(kHarmonyChannel) && has_token(kHarmonyMessage) && has_token("<|end|>")) {
        format.syntax = ReasoningSyntax::harmony;
        return format;
    }
    for (const TagPair& pair : kTagPairs) {
        if (has_token(pair.open_token) && has_token(pair.close_token)) {
            format.syntax = ReasoningSyntax::tags;
            format.open = pair.open;
            format.close = pair.close;
            return format;
        }
    }
    return format;
}

bool prompt_opens_reasoning(const ReasoningFormat& format, std::string_view rendered_prompt) {
    while (!rendered_prompt.empty() && is_space(rendered_prompt.back())) {
        rendered_prompt.remove_suffix(1);
    }
    switch (format.syntax) {
    case ReasoningSyntax::tags:
        return rendered_prompt.ends_with(format.open);
    case ReasoningSyntax::harmony:
        return rendered_prompt.ends_with("<|channel|>analysis<|message|>");
    case ReasoningSyntax::none:
        break;
    }
    return false;
}

ReasoningSplitter::ReasoningSplitter(ReasoningFormat format, bool starts_in_reasoning)
    : format_(std::move(format)) {
    if (!format_.marks_reasoning()) {
        phase_ = Phase::answer;
        return;
    }
    if (starts_in_reasoning) {
        phase_ = Phase::reasoning;
        harmony_reasoning_ = true;
        return;
    }
    phase_ = Phase::undecided;
    // The template's generation prompt ends with "<|start|>assistant": a header follows.
    in_harmony_header_ = format_.syntax == ReasoningSyntax::harmony;
}

void ReasoningSplitter::put(ReasoningDelta& out, bool to_reasoning, std::string_view text) {
    if (to_reasoning) {
        if (reasoning_message_start_) { // white space opening a message is dropped
            while (!text.empty() && is_space(text.front())) {
                text.remove_prefix(1);
            }
            if (text.empty()) {
                return;
            }
            reasoning_message_start_ = false;
            // A second harmony analysis message: a paragraph of its own.
            reasoning_ws_ = reasoning_started_ ? "\n\n" : "";
            reasoning_started_ = true;
        }
        // Trailing white space waits until text follows it: the close marker drops it.
        size_t body = text.size();
        while (body > 0 && is_space(text[body - 1])) {
            --body;
        }
        if (body == 0) {
            reasoning_ws_ += text;
            return;
        }
        out.reasoning += reasoning_ws_;
        out.reasoning += text.substr(0, body);
        reasoning_ws_ = std::string(text.substr(body));
        return;
    }
    if (!answer_started_) {
        while (!text.empty() && is_space(text.front())) {
            text.remove_prefix(1);
        }
        if (text.empty()) {
            return;
        }
        answer_started_ = true;
    }
    out.answer += text;
}

ReasoningDelta ReasoningSplitter::feed(std::string_view text) {
    ReasoningDelta out;
    if (!format_.marks_reasoning()) {
        out.answer = std::string(text);
        return out;
    }
    pending_ += text;
    if (format_.syntax == ReasoningSyntax::tags) {
        feed_tags(out);
    } else {
        feed_harmony(out);
    }
    return out;
}

void ReasoningSplitter::feed_tags(ReasoningDelta& out) {
    if (phase_ == Phase::undecided) {
        size_t first = 0;
        while (first < pending_.size() && is_space(pending_[first])) {
            ++first;
        }
        pending_.erase(0, first); // dropped whichever part it begins
        const std::string_view rest = pending_;
        if (rest.starts_with(format_.open)) {
            phase_ = Phase::reasoning;
            pending_.erase(0, format_.open.size());
        } else if (std::string_view(format_.open).starts_with(rest)) {
            return; // white space or the start of the open tag: wait for more
        } else {
            phase_ = Phase::answer;
        }
    }
    if (phase_ == Phase::reasoning) {
        const size_t close = pending_.find(format_.close);
        if (close == std::string::npos) {
            const size_t keep = partial_suffix(pending_, format_.close);
            put(out, true, std::string_view(pending_).substr(0, pending_.size() - keep));
            pending_.erase(0, pending_.size() - keep);
            return;
        }
        put(out, true, std::string_view(pending_).substr(0, close));
        reasoning_ws_.clear();
        closed_ = true;
        phase_ = Phase::answer;
        pending_.erase(0, close + format_.close.size());
    }
    put(out, false, pending_);
    pending_.clear();
}

void ReasoningSplitter::feed_harmony(ReasoningDelta& out) {
    while (!pending_.empty()) {
        if (in_harmony_header_) {
            const std::string_view head = pending_;
            // A header starts with <|channel|> (the first, after the prompt's
            // "<|start|>assistant") or <|start|>; anything else is not harmony: plain answer.
            const bool may_be_header =
                head.starts_with(kHarmonyChannel) || head.starts_with(kHarmonyStart) ||
                kHarmonyChannel.starts_with(head) || kHarmonyStart.starts_with(head);
            size_t message = head.find(kHarmonyMessage);
            if (message != std::string_view::npos && message > kMaxHarmonyHeaderBytes) {
                message = std::string_view::npos; // as if the stream had been cut before it
            }
            if (!may_be_header ||
                (message == std::string_view::npos && head.size() > kMaxHarmonyHeaderBytes)) {
                format_.syntax = ReasoningSyntax::none; // from here on, all answer
                if (phase_ == Phase::reasoning) {
                    reasoning_ws_.clear();
                    closed_ = true;
                }
                phase_ = Phase::answer;
                put(out, false, pending_);
                pending_.clear();
                return;
            }
            if (message == std::string_view::npos) {
                return; // the header is still arriving
            }
            std::string_view channel;
            if (const size_t at = head.substr(0, message).find(kHarmonyChannel);
                at != std::string_view::npos) {
                channel =
                    head.substr(at + kHarmonyChannel.size(), message - at - kHarmonyChannel.size());
                // "commentary json" or "commentary <|constrain|>json": the channel is one word.
                channel = channel.substr(0, std::min(channel.find(' '), channel.find("<|")));
            }
            const bool analysis = channel == "analysis";
            reasoning_message_start_ = true;
            if (!analysis && phase_ == Phase::reasoning) {
                reasoning_ws_.clear();
                closed_ = true;
            }
            harmony_reasoning_ = analysis;
            phase_ = analysis ? Phase::reasoning : Phase::answer;
            in_harmony_header_ = false;
            pending_.erase(0, message + kHarmonyMessage.size());
            continue;
        }
        size_t end = std::string::npos;
        size_t end_size = 0;
        for (std::string_view marker : kHarmonyEnds) {
            if (const size_t at = pending_.find(marker); at < end) {
                end = at;
                end_size = marker.size();
            }
        }
        if (end == std::string::npos) {
            size_t keep = 0;
            for (std::string_view marker : kHarmonyEnds) {
                keep = std::max(keep, partial_suffix(pending_, marker));
            }
            put(out, harmony_reasoning_,
                 std::string_view(pending_).substr(0, pending_.size() - keep));
            pending_.erase(0, pending_.size() - keep);
            return;
        }
        put(out, harmony_reasoning_, std::string_view(pending_).substr(0, end));
        pending_.erase(0, end + end_size);
        in_harmony_header_ = true;
    }
}

ReasoningDelta ReasoningSplitter::finish() {
    ReasoningDelta out;
    if (!format_.marks_reasoning() || pending_.empty()) {
        return out;
    }
    if (format_.syntax == ReasoningSyntax::harmony) {
        if (!in_harmony_header_) { // a partial end marker: it was text after all
            put(out, harmony_reasoning_, pending_);
        }
        // A header cut short is markup, not text: dropped.
    } else if (phase_ == Phase::reasoning) {
        put(out, true, pending_);
    } else {
        phase_ = Phase::answer;
        put(out, false, pending_);
    }
    pending_.clear();
    return out;
}

ReasoningDelta ReasoningSplitter::feed_token(std::string_view text, double ms) {
    if (first_ms_ < 0) {
        first_ms_ = ms;
    }
    const bool was_closed = closed_;
    ReasoningDelta out = feed(text);
    if (phase_ == Phase::undecided) {
        ++undecided_tokens_;
    } else if (phase_ == Phase::reasoning || closed_ != was_closed) {
        reasoning_tokens_ += 1 + undecided_tokens_;
        undecided_tokens_ = 0;
        last_reasoning_ms_ = ms;
    } else {
        undecided_tokens_ = 0; // they were the answer's
    }
    return out;
}

ReplyTiming reply_timing(const ReasoningSplitter& splitter, int32_t n_generated, double decode_ms) {
    ReplyTiming timing;
    timing.reasoning_tokens = std::min(splitter.reasoning_tokens(), n_generated);
    timing.reasoning_ms = std::min(splitter.reasoning_ms(), decode_ms);
    timing.answer_tokens = n_generated - timing.reasoning_tokens;
    timing.answer_ms = decode_ms - timing.reasoning_ms;
    return timing;
}

SplitReply split_reasoning(const ReasoningFormat& format, bool starts_in_reasoning,
                           std::string_view reply) {
    ReasoningSplitter splitter(format, starts_in_reasoning);
    ReasoningDelta first = splitter.feed(reply);
    ReasoningDelta last = splitter.finish();
    return {first.reasoning + last.reasoning, first.answer + last.answer,
            splitter.reasoning_closed()};
}

} // namespace hearth
