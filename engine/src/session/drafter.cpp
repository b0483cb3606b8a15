// See drafter.h.
#include "session/drafter.h"

#include "hearth/model_info.h"
#include "hearth/tokenizer.h"
#include "session/step_loop.h"

#include <algorithm>
#include <cmath>
#include <fmt/format.h>

namespace hearth {

const char* speculation_mode_name(SpeculationMode mode) {
    switch (mode) {
    case SpeculationMode::off:
        return "off";
    case SpeculationMode::lookup:
        return "lookup";
    case SpeculationMode::draft_model:
        return "draft model";
    }
    return "?";
}

Result<void> SpeculationOptions::validate() const {
    if (!enabled()) {
        return {};
    }
    if (draft_max < 1 || draft_max > kMaxDraftTokens) {
        return fail(ErrorCode::invalid_argument,
                    fmt::format("draft max must be 1 to {}, not {}", kMaxDraftTokens, draft_max));
    }
    if (draft_min < 0 || draft_min > draft_max) {
        return fail(
            ErrorCode::invalid_argument,
            fmt::format("draft min must be 0 to draft max ({}), not {}", draft_max, draft_min));
    }
    if (mode == SpeculationMode::lookup && (lookup_ngram < 1 || lookup_ngram > kMaxLookupNgram)) {
        return fail(ErrorCode::invalid_argument,
                    fmt::format("the lookup n-gram must be 1 to {} tokens, not {}", kMaxLookupNgram,
                                lookup_ngram));
    }
    if (!(draft_p_min >= 0.0f && draft_p_min <= 1.0f)) {
        return fail(ErrorCode::invalid_argument,
                    fmt::format("draft p-min must be in [0, 1], not {}", draft_p_min));
    }
    if (mode == SpeculationMode::draft_model && !draft_model) {
        return fail(ErrorCode::invalid_argument, "speculation with a draft model needs the model");
    }
    return {};
}

Result<void> check_draft_model(const Model& target, const Model& draft) {
    const Tokenizer& a = target.tokenizer();
    const Tokenizer& b = draft.tokenizer();
    const int32_t n = std::min(a.n_vocab(), b.n_vocab());
    for (int32_t id = 0; id < n; ++id) {
        if (a.token_text(id) != b.token_text(id)) {
            return fail(ErrorCode::unsupported,
                        fmt::format("the draft model's vocabulary differs from the model's at "
                                    "token {}: '{}' vs '{}'; a draft model needs the same "
                                    "vocabulary",
                                    id, b.token_text(id), a.token_text(id)));
        }
    }
    if (a.n_vocab() != b.n_vocab() || draft.info().n_vocab != target.info().n_vocab) {
        return fail(ErrorCode::unsupported,
                    fmt::format("the draft model has {} tokens, the model {}; a draft model "
                                "needs the same vocabulary",
                                draft.info().n_vocab, target.info().n_vocab));
    }
    return {};
}

Result<void> check_speculation(const Session::Impl& slot, const SpeculationOptions& speculation,
                               std::string_view who) {
    if (!speculation.enabled()) {
        return {};
    }
    auto refuse = [&](ErrorCode code, const std::string& why) {
        return fail(code, fmt::format("{}speculative decoding: {}", who, why));
    };
    if (auto ok = speculation.validate(); !ok) {
        return refuse(ok.error().code, ok.error().message);
    }
    if (slot.cuda) {
        return refuse(ErrorCode::unsupported,
                      "not on CUDA yet; run the model on the CPU or turn speculation off");
    }
    if (speculation.mode == SpeculationMode::draft_model) {
        if (auto ok = check_draft_model(*slot.model, *speculation.draft_model); !ok) {
            return refuse(ok.error().code, ok.error().message);
        }
    }
    return {};
}

void lookup_draft(std::span<const int32_t> history, size_t ngram_max, size_t max,
                  std::vector<int32_t>& out) {
    out.clear();
    const size_t size = history.size();
    for (size_t n = std::min(ngram_max, size > 0 ? size - 1 : 0); n >= 1 && out.empty(); --n) {
        const auto tail = history.subspan(size - n);
        // The most recent earlier occurrence: it ends before the tail does.
        for (size_t start = size - n; start-- > 0;) {
            if (!std::equal(tail.begin(), tail.end(),
                            history.begin() + static_cast<std::ptrdiff_t>(start))) {
                continue;
            }
            const size_t from = start + n;
            const size_t to = std::min(size, from + max);
            out.assign(history.begin() + static_cast<std::ptrdiff_t>(from),
                       history.begin() + static_cast<std::ptrdiff_t>(to));
            break;
        }
    }
}

namespace {

// The largest probability of softmax(logits).
float top_probability(std::span<const float> logits) {
    const float max_logit = *std::ranges::max_element(logits);
    double sum = 0.0;
    for (const float logit : logits) {
        sum += std::exp(static_cast<double>(logit) - max_logit);
    }
    return static_cast<float>(1.0 / sum);
}

SamplingParams draft_sampling(SamplingParams params) {
    params.trace = false;
    params.seed ^= 0x5DEECE66DULL; // its own draws, fixed by the request's seed
    return params;
}

} // namespace

Speculator::Speculator(const SpeculationOptions& options, const SamplingParams& sampling)
    : options_(options), sampler_(draft_sampling(sampling)) {}

Result<void> Speculator::propose(Session::Impl& slot, std::span<const int32_t> history, size_t max,
                                 Draft& out) {
    out.clear();
    max = std::min(max, static_cast<size_t>(options_.draft_max));
    if (max == 0) {
        return {};
    }
    if (options_.mode == SpeculationMode::lookup) {
        lookup_draft(history, static_cast<size_t>(options_.lookup_ngram), max, out.tokens);
    } else if (auto ok = propose_with_model(slot, history, max, out); !ok) {
        return ok;
    }
    if (out.tokens.size() < static_cast<size_t>(std::max(options_.draft_min, 1))) {
        out.clear();
    }
    return {};
}

Result<void> Speculator::propose_with_model(Session::Impl& slot, std::span<const int32_t> history,
                                            size_t max, Draft& out) {
    if (!slot.draft || slot.draft->model != options_.draft_model) {
        const ModelInfo& info = options_.draft_model->info();
        SessionOptions options{.n_ctx = std::min(slot.options.n_ctx, info.n_ctx_train),
                               .n_batch = slot.options.n_batch};
        auto session = Session::create(options_.draft_model, options);
        if (!session) {
            return fail(session.error().code,
                        fmt::format("the draft model: {}", session.error().message));
        }
        slot.draft = std::make_shared<DraftSession>(options_.draft_model, std::move(*session));
    }
    Session& draft = slot.draft->session;
    Session::Impl& d = SessionAccess::impl(draft);
    // The draft runs the history and max - 1 of its own tokens: no room, no draft.
    if (history.size() + max > d.options.n_ctx) {
        if (history.size() + 1 >= d.options.n_ctx) {
            return {};
        }
        max = d.options.n_ctx - history.size();
    }
    // Its cache keeps the prefix it shares with the history, short of the last token, whose
    // logits are needed; cells past the kept tokens are not read. A hybrid draft's recurrent
    // state goes back to its checkpoint (below), or to the start for another conversation.
    draft.truncate(std::min(common_prefix(d.tokens, history), history.size() - 1));
    auto logits = draft.append(history.subspan(d.tokens.size()));
    if (!logits) {
        return fail(logits.error().code,
                    fmt::format("the draft model: {}", logits.error().message));
    }
    // The next proposal's history holds this one whole (its draft tokens are replaced, not
    // this history's): a hybrid draft keeps a copy of its state here, and resumes from it
    // by running only the tokens taken since. Nothing for a transformer draft.
    d.state.request_checkpoint(static_cast<uint32_t>(history.size()));
    scratch_.assign(history.begin(), history.end());
    for (size_t i = 0; i < max; ++i) {
        std::vector<TokenProbability> q = sampler_.distribution(*logits, scratch_);
        const float top = q.size() > 1 ? std::ranges::max(q, {}, &TokenProbability::p).p
                                       : top_probability(*logits);
        if (top < options_.draft_p_min) {
            break;
        }
        const int32_t token = sampler_.draw(q);
        out.tokens.push_back(token);
        if (q.size() > 1) {
            out.q.resize(out.tokens.size());
            out.q.back() = std::move(q);
        }
        scratch_.push_back(token);
        if (i + 1 < max) {
            const int32_t next[] = {token};
            logits = draft.append(next);
            if (!logits) {
                return fail(logits.error().code,
                            fmt::format("the draft model: {}", logits.error().message));
            }
        }
    }
    return {};
}

} // namespace hearth
