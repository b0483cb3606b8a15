// EngineWorker's compare mode, on the worker's thread: renders every column's prompt (with
// its diff against column 1), then generates the columns that share a model together with
// hearth::generate_together, so that the weights are read once per step for all of them and
// the prompt prefix they share is computed once. Columns on other models than the chat's
// (CompareModelPool, loaded when their memory plan fits the RAM available) form one batch
// per model, and those batches run one after another, not concurrently. Streamed text is coalesced
// per column like the chat's (at most one flush per kFlushIntervalMs). Also the template
// shoot-out's question: which candidate template renders the conversation exactly as the model's
// own.
#include "compare_diff.h"
#include "compare_model_pool.h"
#include "engine_worker.h"
#include "hearth/batch_generation.h"
#include "hearth/chat_template.h"
#include "hearth/device_choice.h"
#include "hearth/memory_plan.h"
#include "hearth/prompt_diff.h"
#include "reply_stream.h"

#include <QElapsedTimer>
#include <algorithm>
#include <cstdint>
#include <fmt/format.h>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <tuple>
#include <vector>

namespace {

QString stopText(hearth::StopReason reason) {
    return QString::fromUtf8(hearth::stop_reason_name(reason));
}

std::vector<hearth::ChatMessage> toEngine(const QList<ChatTurn>& turns) {
    std::vector<hearth::ChatMessage> messages;
    messages.reserve(size_t(turns.size()));
    for (const ChatTurn& turn : turns) {
        messages.push_back({turn.role.toStdString(), turn.text.toStdString()});
    }
    return messages;
}

size_t commonStart(std::span<const int32_t> a, std::span<const int32_t> b) {
    const auto end = std::mismatch(a.begin(), a.end(), b.begin(), b.end());
    return size_t(end.first - a.begin());
}

// For each prompt, the index of the session it takes (sessions.size() or more: a new one):
// greedily by the longest cached start, ties to the session at the column's own index.
std::vector<size_t> matchSessions(const std::vector<hearth::Session>& sessions,
                                  const std::vector<std::vector<int32_t>>& prompts) {
    struct Pair {
        size_t shared, column, session;
    };
    std::vector<Pair> pairs;
    for (size_t c = 0; c < prompts.size(); ++c) {
        for (size_t s = 0; s < sessions.size(); ++s) {
            pairs.push_back({commonStart(sessions[s].cached_tokens(), prompts[c]), c, s});
        }
    }
    std::sort(pairs.begin(), pairs.end(), [](const Pair& a, const Pair& b) {
        const auto key = [](const Pair& p) {
            return std::tuple(-int64_t(p.shared), p.column != p.session, p.column, p.session);
        };
        return key(a) < key(b);
    });
    std::vector<size_t> sessionOf(prompts.size(), SIZE_MAX);
    std::vector<bool> taken(sessions.size(), false);
    for (const Pair& p : pairs) {
        if (sessionOf[p.column] == SIZE_MAX && !taken[p.session]) {
            sessionOf[p.column] = p.session;
            taken[p.session] = true;
        }
    }
    return sessionOf;
}

// The sessions of one model's columns, in column order: kept ones by match (matchSessions),
// new ones created on `on` as one group (on CUDA they share one upload of the weights and
// decode in one pass) through the device fall back the chat's session takes
// (hearth::place_sessions); `on` comes back as they were created. When the GPU cannot take
// the new ones, the kept GPU sessions go too and every column runs on the CPU, since one
// batch cannot mix devices. On failure `kept` is left as it was.
hearth::Result<std::vector<hearth::Session>>
arrangeSessions(std::vector<hearth::Session>& kept,
                const std::vector<std::vector<int32_t>>& prompts,
                const std::shared_ptr<const hearth::Model>& model, hearth::SessionOptions& on) {
    const size_t columns = prompts.size();
    std::vector<size_t> sessionOf = matchSessions(kept, prompts);
    auto n_new = size_t(std::count_if(sessionOf.begin(), sessionOf.end(),
                                      [&](size_t s) { return s >= kept.size(); }));
    std::vector<hearth::Session> fresh;
    if (n_new > 0) {
        const hearth::DeviceRequest where{
            .automatic = false, .kind = on.device, .cuda_device = on.cuda_device};
        hearth::Placement placed =
            hearth::place_sessions(model, on, where, n_new, hearth::FallbackPolicy::always);
        if (placed.sessions && placed.fell_back && n_new < columns) {
            kept.clear();
            n_new = columns;
            sessionOf.assign(n_new, 0); // all new
            placed = hearth::place_sessions(model, placed.options, hearth::DeviceRequest{}, n_new,
                                            hearth::FallbackPolicy::always);
        }
        if (!placed.sessions) {
            return std::unexpected(placed.sessions.error());
        }
        on = placed.options;
        fresh = std::move(*placed.sessions);
    }
    std::vector<hearth::Session> ordered;
    ordered.reserve(columns);
    size_t next_fresh = 0;
    for (size_t k = 0; k < columns; ++k) {
        ordered.push_back(sessionOf[k] < kept.size() ? std::move(kept[sessionOf[k]])
                                                     : std::move(fresh[next_fresh++]));
    }
    return ordered;
}

// The columns that share one model: generated together in one batch.
struct ModelGroup {
    QString key;                                // "" = the chat's model, else its canonical path
    std::shared_ptr<const hearth::Model> model; // null: it could not be loaded
    CompareModelSlot* slot = nullptr;           // null: the chat's model
    std::vector<size_t> columns;                // indices into the request, in order
};

} // namespace

void EngineWorker::retainCompareModels(const QStringList& paths) {
    if (!m_compareModels) {
        return;
    }
    QStringList keys;
    for (const QString& path : paths) {
        keys << compareModelKey(path, m_model.get());
    }
    m_compareModels->retain(keys);
}

void EngineWorker::cancelCompare(quint64 upToId) {
    quint64 current = m_compareCancelUpTo.load();
    while (current < upToId && !m_compareCancelUpTo.compare_exchange_weak(current, upToId)) {
    }
}

void EngineWorker::matchOwnTemplate(quint64 id, const QList<ChatTurn>& probe,
                                    const QStringList& candidates) {
    OwnTemplateMatch match; // unknown: the shoot-out keeps every template
    if (!m_model) {
        emit ownTemplateMatched(id, match);
        return;
    }
    auto own = format(QString());
    if (!own) {
        emit ownTemplateMatched(id, match);
        return;
    }
    match.known = true;
    match.resolved = QString::fromStdString((*own)->choice.name);
    // The conversation as the next turn renders it (open, with the generation prompt) and as
    // the turn after sees it (closed by an assistant reply): both must agree.
    std::vector<hearth::ChatMessage> open = toEngine(probe);
    std::vector<hearth::ChatMessage> closed = open;
    closed.push_back({"assistant", "Fine, thank you."});
    auto renderings = [&](const hearth::PromptFormat& f) -> std::optional<std::string> {
        auto a = hearth::render_prompt(f, open, true);
        auto b = hearth::render_prompt(f, closed, false);
        if (!a || !b) {
            return std::nullopt;
        }
        return *a + '\0' + *b;
    };
    const std::optional<std::string> ownText = renderings(**own);
    for (const QString& candidate : candidates) {
        if (candidate.isEmpty() || !ownText) {
            continue;
        }
        auto f = format(candidate);
        if (f && renderings(**f) == ownText) {
            match.twin = candidate;
            break;
        }
    }
    emit ownTemplateMatched(id, match);
}

void EngineWorker::generateCompare(const CompareRequest& request) {
    const quint64 id = request.id;
    auto cancelled = [this, id] {
        return id <= m_compareCancelUpTo.load(std::memory_order_relaxed);
    };
    if (!m_model || !m_session) {
        emit compareFailed(id, QStringLiteral("no model is loaded"));
        return;
    }
    const size_t n = size_t(request.columns.size());
    if (n == 0 || n > hearth::kMaxSequencesTogether) {
        emit compareFailed(
            id, QString::fromStdString(fmt::format("compare needs 1 to {} columns, got {}",
                                                   hearth::kMaxSequencesTogether, n)));
        return;
    }
    if (!m_compareModels) {
        m_compareModels = std::make_shared<CompareModelPool>();
    }

    // The columns by model, in the order the models first appear.
    std::vector<ModelGroup> groups;
    std::vector<size_t> groupOf(n);
    QStringList keysInUse;
    for (size_t i = 0; i < n; ++i) {
        const QString key = compareModelKey(request.columns[qsizetype(i)].modelPath, m_model.get());
        auto it = std::find_if(groups.begin(), groups.end(),
                               [&](const ModelGroup& g) { return g.key == key; });
        if (it == groups.end()) {
            it = groups.insert(
                groups.end(),
                ModelGroup{.key = key, .model = nullptr, .slot = nullptr, .columns = {}});
            keysInUse << key;
        }
        it->columns.push_back(i);
        groupOf[i] = size_t(it - groups.begin());
    }
    // Models no column uses any more go first, so that their memory counts as available.
    m_compareModels->retain(keysInUse);
    std::vector<QString> failure(n); // why a column cannot run, "" when it can
    for (ModelGroup& group : groups) {
        if (group.key.isEmpty()) {
            group.model = m_model;
            continue;
        }
        std::optional<uint64_t> available;
        if (const quint64 injected = m_compareAvailableMemory.load(); injected > 0) {
            available = injected;
        } else if (const auto host = hearth::read_host_memory()) {
            available = host->available_bytes;
        }
        auto slot =
            m_compareModels->acquire(group.key, m_session->n_ctx(), uint32_t(group.columns.size()),
                                     m_model->n_threads(), m_sessionOptions.kv_type, available);
        if (!slot) {
            for (size_t c : group.columns) {
                failure[c] = QString::fromStdString(slot.error().message);
            }
            continue;
        }
        group.slot = *slot;
        group.model = (*slot)->model;
    }

    // Every column's prompt, as text and tokens; the diff against column 1 (in tokens only
    // when both use the same model: other vocabularies number tokens differently).
    std::vector<std::string> texts(n);
    std::vector<std::vector<int32_t>> tokens(n);
    std::vector<const hearth::PromptFormat*> formats(n);
    std::vector<int> droppedTurns(n, 0); // oldest messages left out to fit the context
    QList<ComparePrompt> prompts;
    for (size_t i = 0; i < n; ++i) {
        const CompareColumnRequest& column = request.columns[qsizetype(i)];
        ModelGroup& group = groups[groupOf[i]];
        if (!group.model) {
            prompts << ComparePrompt{};
            continue;
        }
        auto columnError = [&](const hearth::Error& error) {
            emit compareFailed(id, QStringLiteral("column %1: %2")
                                       .arg(i + 1)
                                       .arg(QString::fromStdString(error.message)));
        };
        auto resolved =
            group.slot ? group.slot->format(column.templateName) : format(column.templateName);
        if (!resolved) {
            columnError(resolved.error());
            return;
        }
        formats[i] = *resolved;
        const hearth::PromptFormat& f = **resolved;
        // The column's conversation as it fits its context (hearth::fit_prompt), as the chat's.
        const uint32_t nCtx = group.slot ? group.slot->nCtx : m_session->n_ctx();
        auto fitted = hearth::fit_prompt(f, group.model->tokenizer(), toEngine(column.messages),
                                         nCtx, hearth::reply_reserve(column.maxTokens, nCtx));
        if (!fitted) {
            columnError(fitted.error());
            return;
        }
        texts[i] = std::move(fitted->text);
        tokens[i] = std::move(fitted->tokens);
        droppedTurns[i] = int(fitted->dropped_messages);

        ComparePrompt prompt;
        prompt.templateName = QString::fromStdString(f.choice.name);
        prompt.text = QString::fromStdString(texts[i]);
        prompt.tokenCount = int(tokens[i].size());
        for (const hearth::TemplateWarning& warning : f.warnings) {
            prompt.warnings << QString::fromStdString(warning.message);
        }
        prompt.specialTokens = specialTokensIn(f, texts[i]);
        if (i == 0 || !failure[0].isEmpty()) {
            prompt.diffHtml = comparePromptHtml(prompt.text, prompt.specialTokens);
        } else {
            QStringList marked = prompt.specialTokens;
            for (const QString& token : prompts.front().specialTokens) {
                if (!marked.contains(token)) {
                    marked << token;
                }
            }
            const auto spans = hearth::diff_text(texts[0], texts[i], toStdStrings(marked));
            const hearth::DiffCounts chars = hearth::count_text_diff(spans);
            prompt.diffHtml = compareDiffHtml(spans);
            prompt.charsInserted = int(chars.inserted);
            prompt.charsRemoved = int(chars.removed);
            if (groupOf[i] == groupOf[0]) {
                const hearth::DiffCounts toks =
                    hearth::count_token_diff(hearth::diff_tokens(tokens[0], tokens[i]));
                prompt.tokensInserted = int(toks.inserted);
                prompt.tokensRemoved = int(toks.removed);
            }
        }
        prompts << prompt;
    }
    emit compareStarted(id, prompts);

    QList<GenerationResult> results(static_cast<qsizetype>(n));
    for (size_t i = 0; i < n; ++i) {
        if (!failure[i].isEmpty()) {
            results[qsizetype(i)].stopReason = QStringLiteral("failed");
            results[qsizetype(i)].error = failure[i];
        }
    }
    // A conversation's first turn starts from empty caches: reusing the cache of an earlier
    // comparison would compute the prompt's last token alone rather than in the prefill
    // batch, which can change the last bits of the logits and with them a draw, so that the
    // same message, settings and seed would not give the same text twice. Later turns reuse
    // the column's own cache, a path that repeating the same turns repeats.
    const bool firstTurn = std::none_of(
        request.columns.begin(), request.columns.end(), [](const CompareColumnRequest& c) {
            return std::any_of(c.messages.begin(), c.messages.end(),
                               [](const ChatTurn& t) { return t.role == "assistant"; });
        });

    // Each column's reply as it streams, split as its template marks reasoning.
    std::vector<ReplyStream> streams(n);
    for (size_t i = 0; i < n; ++i) {
        if (formats[i]) {
            streams[i] = ReplyStream(formats[i]->reasoning, texts[i]);
        }
    }
    QElapsedTimer sinceFlush;
    sinceFlush.start();
    QElapsedTimer clock; // since the current group started
    clock.start();
    auto flush = [&] {
        const double ms = double(clock.nsecsElapsed()) / 1e6;
        for (size_t i = 0; i < n; ++i) {
            if (streams[i].hasNews()) {
                const hearth::ReasoningDelta delta = streams[i].take();
                emit compareTokensArrived(id, int(i), QString::fromStdString(delta.reasoning),
                                          QString::fromStdString(delta.answer),
                                          streams[i].generated(), ms);
            }
        }
        sinceFlush.restart();
    };
    auto failGroup = [&](const ModelGroup& group, const QString& message) {
        for (size_t c : group.columns) {
            results[qsizetype(c)].stopReason = QStringLiteral("failed");
            results[qsizetype(c)].error = message;
        }
    };

    CompareSummary summary;
    summary.modelGroups = int(groups.size());
    double decodedTokens = 0; // over all groups, at each group's decode rate
    int groupsRun = 0;
    // One batch per model, one after another: two models generating at once would compete
    // for the same cores and memory bandwidth (running them concurrently is future work).
    for (const ModelGroup& group : groups) {
        if (!group.model) {
            continue;
        }
        if (cancelled()) {
            for (size_t c : group.columns) {
                results[qsizetype(c)].stopReason = stopText(hearth::StopReason::cancelled);
            }
            continue;
        }
        // One session per column, kept between requests so that a column's next turn reuses
        // its cache: each column takes the kept session whose cache shares the longest start
        // with its prompt, so that removing or duplicating a column leaves the others their
        // own caches (and two identical columns their identical paths); new sessions for the
        // rest, and the surplus of a shrunk comparison freed.
        std::vector<hearth::Session>& kept = group.slot ? group.slot->sessions : m_compareSessions;
        std::vector<std::vector<int32_t>> groupPrompts;
        for (size_t c : group.columns) {
            groupPrompts.push_back(tokens[c]);
        }
        // The chat's model: columns run where the chat's session runs (its device); a GPU
        // that cannot hold the columns' sessions leaves the whole group on the CPU, since
        // one batch cannot mix devices. Other models run on the CPU.
        hearth::SessionOptions options;
        options.n_ctx = group.slot ? group.slot->nCtx : m_session->n_ctx();
        // The chat's KV cache type (as its session got it); another model may need F16.
        options.kv_type = m_sessionOptions.kv_type;
        if (!group.slot) {
            options.device = m_sessionOptions.device;
            options.cuda_device = m_sessionOptions.cuda_device;
            options.gpu_layers = m_sessionOptions.gpu_layers;
        } else {
            if (group.slot->kvAsked != options.kv_type) {
                kept.clear(); // the chat was reloaded with another cache type
                group.slot->kvAsked = group.slot->kvType = options.kv_type;
            }
            options.kv_type = group.slot->kvType;
        }
        if (!kept.empty() && kept.front().device() != options.device) {
            kept.clear(); // the chat's model moved device since the last comparison
        }
        auto arranged = arrangeSessions(kept, groupPrompts, group.model, options);
        if (!arranged && !fallBackToF16Cache(arranged.error(), options).isEmpty()) {
            kept.clear();
            arranged = arrangeSessions(kept, groupPrompts, group.model, options);
            if (group.slot) {
                group.slot->kvType = options.kv_type;
            }
        }
        QString sessionError;
        std::vector<hearth::Session> ordered;
        if (!arranged) {
            sessionError = QString::fromStdString(arranged.error().message);
        } else {
            ordered = std::move(*arranged);
        }
        if (!sessionError.isEmpty()) {
            kept.clear();
            failGroup(group, sessionError);
            continue;
        }
        kept = std::move(ordered);
        if (firstTurn) {
            for (hearth::Session& session : kept) {
                session.clear();
            }
        }

        std::vector<hearth::SequenceRequest> requests;
        requests.reserve(group.columns.size());
        for (size_t k = 0; k < group.columns.size(); ++k) {
            const size_t i = group.columns[k];
            const CompareColumnRequest& column = request.columns[qsizetype(i)];
            requests.push_back({.session = &kept[k],
                                .prompt = tokens[i],
                                .sampling = column.sampling,
                                .options = {.max_tokens = column.maxTokens,
                                            .stop_strings = formats[i]->stop_strings},
                                .on_token = [&, i](const hearth::TokenEvent& event) {
                                    streams[i].feed(event);
                                    if (sinceFlush.elapsed() >= kFlushIntervalMs) {
                                        flush();
                                    }
                                    return !cancelled();
                                }});
        }
        clock.restart();
        auto stats = hearth::generate_together(requests);
        for (size_t i : group.columns) {
            streams[i].finish();
        }
        flush();
        if (!stats) {
            failGroup(group, QString::fromStdString(stats.error().message));
            continue;
        }
        const QString device = QString::fromStdString(
            hearth::device_label(options.device, kept.front().cuda_device()));
        for (size_t k = 0; k < group.columns.size(); ++k) {
            const size_t i = group.columns[k];
            GenerationResult& result = results[qsizetype(i)];
            result = streams[i].result(stats->sequences[k]);
            result.kvUsed = int(kept[k].cached_tokens().size());
            result.droppedTurns = droppedTurns[i];
            result.device = device;
        }
        ++groupsRun;
        if (const QString kv = QString::fromUtf8(hearth::kv_cache_type_name(options.kv_type));
            !summary.kvTypes.contains(kv)) {
            summary.kvTypes << kv;
        }
        summary.sharedPrefixTokens += stats->n_shared_prefix;
        summary.steps += stats->n_steps;
        summary.prefillMs += stats->prefill_ms;
        summary.decodeMs += stats->decode_ms;
        summary.tokensPerSecond = stats->decode_tokens_per_second();
        decodedTokens += stats->decode_tokens_per_second() * stats->decode_ms / 1000;
    }
    if (groupsRun > 1) {
        summary.tokensPerSecond =
            summary.decodeMs > 0 ? decodedTokens * 1000 / summary.decodeMs : 0;
    }
    emit compareFinished(id, results, summary);
}
