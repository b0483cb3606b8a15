// The one context-overflow policy (hearth/prompt.h): a conversation rendered and tokenized,
// its oldest exchanges left out until it and the reply's reserve fit the context.
#include "hearth/prompt.h"

#include <algorithm>
#include <fmt/format.h>

namespace hearth {

namespace {

// Where each exchange starts: after a leading system prompt, at every user message (messages
// before the first user one form an exchange of their own). The last start is the last
// exchange, which is never left out.
std::vector<size_t> exchange_starts(std::span<const ChatMessage> messages, size_t first) {
    std::vector<size_t> starts;
    for (size_t i = first; i < messages.size(); ++i) {
        if (i == first || messages[i].role == "user") {
            starts.push_back(i);
        }
    }
    return starts;
}

} // namespace

size_t reply_reserve(int max_tokens, size_t n_ctx) {
    const size_t wanted = max_tokens > 0 ? size_t(max_tokens) : 1;
    return std::max<size_t>(1, std::min(wanted, n_ctx / 4));
}

Result<FittedPrompt> fit_prompt(const PromptFormat& format, const Tokenizer& tokenizer,
                                std::span<const ChatMessage> messages, size_t n_ctx, size_t reserve,
                                const nlohmann::ordered_json& variables) {
    if (n_ctx == 0) {
        return fail(ErrorCode::invalid_argument, "the context holds 0 tokens");
    }
    if (messages.empty()) {
        return fail(ErrorCode::invalid_argument, "the conversation has no messages");
    }
    const size_t first = messages.front().role == "system" ? 1 : 0;
    const std::vector<size_t> starts = exchange_starts(messages, first);
    // Left out: the first `k` exchanges, 0 <= k <= droppable.
    const size_t droppable = starts.empty() ? 0 : starts.size() - 1;
    auto render = [&](size_t k) -> Result<FittedPrompt> {
        std::vector<ChatMessage> kept(messages.begin(),
                                      messages.begin() + static_cast<std::ptrdiff_t>(first));
        const size_t from = k == 0 ? first : starts[k];
        kept.insert(kept.end(), messages.begin() + static_cast<std::ptrdiff_t>(from),
                    messages.end());
        auto text = render_prompt(format, kept, true, variables);
        if (!text) {
            return std::unexpected(text.error());
        }
        auto tokens = tokenize_prompt(tokenizer, *text);
        if (!tokens) {
            return std::unexpected(tokens.error());
        }
        return FittedPrompt{.text = std::move(*text),
                            .tokens = std::move(*tokens),
                            .dropped_turns = k,
                            .dropped_messages = from - first};
    };
    // Compared without overflow: a reserve near SIZE_MAX is as good as "the whole context".
    auto fits = [&](const FittedPrompt& p) {
        return p.tokens.size() < n_ctx && n_ctx - p.tokens.size() >= reserve;
    };

    auto best = render(0);
    if (!best) {
        return best;
    }
    if (!fits(*best) && droppable > 0) {
        auto shortest = render(droppable);
        if (!shortest) {
            return shortest;
        }
        if (fits(*shortest)) {
            // The fewest exchanges to leave out: a template renders each message once, so the
            // prompt only shrinks as more are left out. fits(lo) is false, fits(hi) true.
            size_t lo = 0;
            size_t hi = droppable;
            while (hi - lo > 1) {
                const size_t mid = lo + (hi - lo) / 2;
                auto middle = render(mid);
                if (!middle) {
                    return middle;
                }
                if (fits(*middle)) {
                    hi = mid;
                    shortest = std::move(middle);
                } else {
                    lo = mid;
                }
            }
        }
        best = std::move(shortest);
    }
    if (best->tokens.size() >= n_ctx) {
        const std::string left_out =
            best->dropped_messages > 0
                ? fmt::format(" after leaving out the {} earlier messages", best->dropped_messages)
                : std::string();
        return fail(ErrorCode::context_full,
                    fmt::format("the prompt has {} tokens{} but the context holds {}: shorten the "
                                "last message or raise the context length",
                                best->tokens.size(), left_out, n_ctx));
    }
    return best;
}

} // namespace hearth
