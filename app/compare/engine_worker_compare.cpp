// EngineWorker's compare mode, on the worker's thread: renders every column's prompt (with
// its diff against column 1), then submits each column as one request to the scheduler of its
// model (a slot per column, kept between requests so that a column's next turn reuses its
// cache), so that the weights are read once per step for all of them; the first column runs
// alone until its prompt is prefilled, and the others copy the prefix they share with it
// rather than compute it again. Columns on other models than the chat's (CompareModelPool,
// loaded when their memory plan fits the RAM available) have their own scheduler, and the
// models run one after another, not concurrently. Streamed text is coalesced per column like
// the chat's (at most one flush per kFlushIntervalMs). Also the template shoot-out's question:
// which candidate template renders the conversation exactly as the model's own.
#include "compare_diff.h"
#include "compare_divergence.h"
#include "compare_model_pool.h"
#include "engine_worker.h"
#include "hearth/chat_template.h"
#include "hearth/device_choice.h"
#include "hearth/memory_plan.h"
#include "hearth/prompt_diff.h"
#include "hearth/scheduler.h"
#include "hearth/scheduler_together.h"
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

hearth::Result<hearth::Scheduler*>
EngineWorker::columnsScheduler(CompareColumns& host,
                               const std::shared_ptr<const hearth::Model>& model,
                               const hearth::SessionOptions& asked, size_t columns) {
    const auto same = [](const hearth::SessionOptions& a, const hearth::SessionOptions& b) {
        return a.n_ctx == b.n_ctx && a.kv_type == b.kv_type && a.device == b.device &&
               a.cuda_device == b.cuda_device && a.gpu_layers == b.gpu_layers;
    };
    if (host.scheduler && host.scheduler->n_slots() == columns && same(host.asked, asked)) {
        return host.scheduler.get();
    }
    host.scheduler.reset(); // its memory goes before the new slots take theirs
    // The device fall back the chat's session takes (hearth::place_sessions): a GPU that
    // cannot hold the columns' slots leaves them all on the CPU, since one scheduler's slots
    // share one device.
    const hearth::DeviceRequest where{
        .automatic = false, .kind = asked.device, .cuda_device = asked.cuda_device};
    hearth::SessionOptions options = asked;
    hearth::Placement placed =
        hearth::place_sessions(model, options, where, columns, hearth::FallbackPolicy::always);
    if (!placed.sessions && !fallBackToF16Cache(placed.sessions.error(), options).isEmpty()) {
        placed =
            hearth::place_sessions(model, options, where, columns, hearth::FallbackPolicy::always);
    }
    if (!placed.sessions) {
        return std::unexpected(placed.sessions.error());
    }
    hearth::SchedulerOptions schedulerOptions;
    schedulerOptions.queue_capacity = columns; // a comparison submits one request per column
    auto scheduler = hearth::Scheduler::create(std::move(*placed.sessions), schedulerOptions);
    if (!scheduler) {
        return std::unexpected(scheduler.error());
    }
    host.scheduler = std::move(*scheduler);
    host.asked = asked;
    host.kvType = placed.options.kv_type;
    host.device = placed.options.device;
    host.cudaDevice =
        placed.options.device == hearth::DeviceKind::cuda ? placed.options.cuda_device : -1;
    return host.scheduler.get();
}

void EngineWorker::cancelCompare(quint64 upToId) {
    quint64 current = m_compareCancelUpTo.load();
    while (current < upToId && !m_compareCancelUpTo.compare_exchange_weak(current, upToId)) {
    }
    const std::lock_guard lock(m_remoteMutex);
    if (m_compareRemoteRunning && m_compareRemoteRunning->first <= upToId) {
        m_compareRemoteRunning->second.cancel(); // a remote column's stream is closed at once
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
    if (!m_model || !m_scheduler) {
        emit compareFailed(id, QStringLiteral("no model is loaded"));
        return;
    }
    const size_t n = size_t(request.columns.size());
    if (n == 0 || n > hearth::kMaxSchedulerSlots) {
        emit compareFailed(
            id, QString::fromStdString(fmt::format("compare needs 1 to {} columns, got {}",
                                                   hearth::kMaxSchedulerSlots, n)));
        return;
    }
    if (!m_compareModels) {
        m_compareModels = std::make_shared<CompareModelPool>();
    }

    // The columns by model, in the order the models first appear.
    std::vector<ModelGroup> groups;
    std::vector<size_t> groupOf(n);
    QStringList keysInUse;
    std::vector<size_t> remoteColumns; // their own requests to their servers, after the models
    for (size_t i = 0; i < n; ++i) {
        if (request.columns[qsizetype(i)].remote) {
            remoteColumns.push_back(i);
            groupOf[i] = n; // in no group
            continue;
        }
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
        auto slot = m_compareModels->acquire(group.key, m_scheduler->n_ctx(),
                                             uint32_t(group.columns.size()), m_model->n_threads(),
                                             m_sessionOptions.kv_type, available);
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
        // A remote column: its prompt is rendered here with the chat's model only when it
        // names a template (sent raw to /v1/completions); else the server applies its own.
        if (column.remote && column.templateName.isEmpty()) {
            ComparePrompt prompt;
            prompt.templateName = QStringLiteral("server's own");
            prompt.warnings << QStringLiteral("The server applies its own template to the chat.");
            prompts << prompt;
            continue;
        }
        ModelGroup* group = column.remote ? nullptr : &groups[groupOf[i]];
        if (group && !group->model) {
            prompts << ComparePrompt{};
            continue;
        }
        auto columnError = [&](const hearth::Error& error) {
            emit compareFailed(id, QStringLiteral("column %1: %2")
                                       .arg(i + 1)
                                       .arg(QString::fromStdString(error.message)));
        };
        auto resolved = group && group->slot ? group->slot->format(column.templateName)
                                             : format(column.templateName);
        if (!resolved) {
            columnError(resolved.error());
            return;
        }
        formats[i] = *resolved;
        const hearth::PromptFormat& f = **resolved;
        // The column's conversation as it fits its context (hearth::fit_prompt), as the chat's.
        const uint32_t nCtx = group && group->slot ? group->slot->nCtx : m_scheduler->n_ctx();
        const hearth::Model& model = group ? *group->model : *m_model;
        auto fitted = hearth::fit_prompt(f, model.tokenizer(), toEngine(column.messages), nCtx,
                                         hearth::reply_reserve(column.maxTokens, nCtx));
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
    // Each column's reply as it streams (fed on its scheduler's thread), split as its
    // template marks reasoning.
    std::vector<ReplyStream> streams(n);
    std::vector<std::vector<int32_t>> replyTokens(n); // for the divergence view
    for (size_t i = 0; i < n; ++i) {
        if (formats[i] && !request.columns[qsizetype(i)].remote) {
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
    int generatedTokens = 0; // by every column that ran
    double elapsedMs = 0;    // of the models' runs, one after another
    // One model after another: two models generating at once would compete for the same
    // cores and memory bandwidth (running them concurrently is future work).
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
        // The chat's model: columns run where the chat's session runs (its device). Other
        // models run on the CPU. The chat's KV cache type (another model may need F16).
        hearth::SessionOptions asked;
        asked.n_ctx = group.slot ? group.slot->nCtx : m_scheduler->n_ctx();
        asked.kv_type = m_sessionOptions.kv_type;
        if (!group.slot) {
            asked.device = m_sessionOptions.device;
            asked.cuda_device = m_sessionOptions.cuda_device;
            asked.gpu_layers = m_sessionOptions.gpu_layers;
        }
        CompareColumns& host = group.slot ? group.slot->columns : m_compareColumns;
        auto scheduler = columnsScheduler(host, group.model, asked, group.columns.size());
        if (!scheduler) {
            failGroup(group, QString::fromStdString(scheduler.error().message));
            continue;
        }
        std::vector<hearth::SchedulerRequest> requests;
        for (size_t i : group.columns) {
            const CompareColumnRequest& column = request.columns[qsizetype(i)];
            requests.push_back({.prompt = tokens[i],
                                .sampling = column.sampling,
                                .options = {.max_tokens = column.maxTokens,
                                            .stop_strings = formats[i]->stop_strings},
                                .on_token =
                                    [&, i](const hearth::TokenEvent& event) {
                                        streams[i].feed(event);
                                        replyTokens[i].push_back(event.token);
                                        if (sinceFlush.elapsed() >= kFlushIntervalMs) {
                                            flush();
                                        }
                                        return !cancelled();
                                    },
                                .on_done = {}});
        }
        clock.restart();
        const hearth::TogetherOutcome outcome =
            hearth::run_together(**scheduler, std::move(requests));
        for (size_t i : group.columns) {
            streams[i].finish();
        }
        flush();
        const QString device =
            QString::fromStdString(hearth::device_label(host.device, host.cudaDevice));
        for (size_t k = 0; k < group.columns.size(); ++k) {
            const size_t i = group.columns[k];
            const hearth::Result<hearth::GenerationStats>& stats = outcome.sequences[k];
            GenerationResult& result = results[qsizetype(i)];
            if (!stats) {
                result.stopReason = QStringLiteral("failed");
                result.error = QString::fromStdString(stats.error().message);
                continue;
            }
            result = streams[i].result(*stats);
            result.droppedTurns = droppedTurns[i];
            result.device = device;
        }
        if (const QString kv = QString::fromUtf8(hearth::kv_cache_type_name(host.kvType));
            !summary.kvTypes.contains(kv)) {
            summary.kvTypes << kv;
        }
        summary.sharedPrefixTokens += outcome.n_shared_prefix;
        summary.steps += int(outcome.n_steps);
        summary.prefillMs += outcome.prefill_ms;
        summary.decodeMs += outcome.elapsed_ms - outcome.prefill_ms;
        generatedTokens += outcome.n_generated;
        elapsedMs += outcome.elapsed_ms;
    }
    // Column 1's reply under each other column's model: where their choices diverge.
    std::vector<DivergenceColumn> divergenceColumns(n);
    for (size_t i = 0; i < n; ++i) {
        DivergenceColumn& column = divergenceColumns[i];
        if (groupOf[i] < groups.size()) {
            column.model = groups[groupOf[i]].model;
            column.modelKey = groups[groupOf[i]].key;
        }
        column.promptText = texts[i];
        column.prompt = tokens[i];
        column.reply = std::move(replyTokens[i]);
        const QString& stop = results[qsizetype(i)].stopReason;
        column.ran = results[qsizetype(i)].error.isEmpty() && stop != QStringLiteral("failed") &&
                     stop != stopText(hearth::StopReason::cancelled);
    }
    summary.divergences = compareDivergences(divergenceColumns, cancelled);
    // The remote columns, one after another: each its own request, the same prompt and seed.
    for (size_t i : remoteColumns) {
        if (cancelled()) {
            results[qsizetype(i)].stopReason = stopText(hearth::StopReason::cancelled);
            continue;
        }
        results[qsizetype(i)] =
            runRemoteColumn(id, int(i), request.columns[qsizetype(i)], texts[i]);
        summary.modelGroups += 1;
    }
    summary.tokensPerSecond = elapsedMs > 0 ? generatedTokens * 1000.0 / elapsedMs : 0;
    emit compareFinished(id, results, summary);
}
