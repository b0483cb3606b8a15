// EngineWorker's compare mode, on the worker's thread: renders every column's prompt (with
// its diff against column 1), then generates all columns together with
// hearth::generate_together, so that the weights are read once per step for all of them and
// the prompt prefix they share is computed once. Streamed text is coalesced per column like
// the chat's (at most one flush per kFlushIntervalMs).
#include "compare_diff.h"
#include "engine_worker.h"
#include "hearth/batch_generation.h"
#include "hearth/chat_template.h"
#include "hearth/prompt_diff.h"

#include <QElapsedTimer>
#include <fmt/format.h>
#include <string>
#include <vector>

namespace {

QString stopText(hearth::StopReason reason) {
    return QString::fromUtf8(hearth::stop_reason_name(reason));
}

std::vector<hearth::ChatMessage> toEngine(const QList<CompareTurn>& turns) {
    std::vector<hearth::ChatMessage> messages;
    messages.reserve(size_t(turns.size()));
    for (const CompareTurn& turn : turns) {
        messages.push_back({turn.role.toStdString(), turn.text.toStdString()});
    }
    return messages;
}

} // namespace

void EngineWorker::cancelCompare(quint64 upToId) {
    quint64 current = m_compareCancelUpTo.load();
    while (current < upToId && !m_compareCancelUpTo.compare_exchange_weak(current, upToId)) {
    }
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

    // Every column's prompt, as text and tokens; the diff against column 1.
    std::vector<std::string> texts(n);
    std::vector<std::vector<int32_t>> tokens(n);
    std::vector<const hearth::PromptFormat*> formats(n);
    QList<ComparePrompt> prompts;
    for (size_t i = 0; i < n; ++i) {
        const CompareColumnRequest& column = request.columns[qsizetype(i)];
        auto columnError = [&](const hearth::Error& error) {
            emit compareFailed(id, QStringLiteral("column %1: %2")
                                       .arg(i + 1)
                                       .arg(QString::fromStdString(error.message)));
        };
        auto resolved = format(column.templateName);
        if (!resolved) {
            columnError(resolved.error());
            return;
        }
        formats[i] = *resolved;
        const hearth::PromptFormat& f = **resolved;
        auto text = hearth::render_prompt(f, toEngine(column.messages), true);
        if (!text) {
            columnError(text.error());
            return;
        }
        auto ids = hearth::tokenize_prompt(m_model->tokenizer(), *text);
        if (!ids) {
            columnError(ids.error());
            return;
        }
        texts[i] = std::move(*text);
        tokens[i] = std::move(*ids);

        ComparePrompt prompt;
        prompt.templateName = QString::fromStdString(f.choice.name);
        prompt.text = QString::fromStdString(texts[i]);
        prompt.tokenCount = int(tokens[i].size());
        for (const hearth::TemplateWarning& warning : f.warnings) {
            prompt.warnings << QString::fromStdString(warning.message);
        }
        std::vector<std::string> special = hearth::template_special_tokens(f.choice.source);
        special.push_back(f.bos_token);
        special.push_back(f.eos_token);
        for (const std::string& token : special) {
            const QString q = QString::fromStdString(token);
            if (!token.empty() && texts[i].find(token) != std::string::npos &&
                !prompt.specialTokens.contains(q)) {
                prompt.specialTokens << q;
            }
        }
        if (i == 0) {
            prompt.diffHtml = comparePromptHtml(prompt.text, prompt.specialTokens);
        } else {
            const auto spans = hearth::diff_text(texts[0], texts[i]);
            const hearth::DiffCounts chars = hearth::count_text_diff(spans);
            const hearth::DiffCounts toks =
                hearth::count_token_diff(hearth::diff_tokens(tokens[0], tokens[i]));
            QStringList marked = prompt.specialTokens;
            for (const QString& token : prompts.front().specialTokens) {
                if (!marked.contains(token)) {
                    marked << token;
                }
            }
            prompt.diffHtml = compareDiffHtml(spans, marked);
            prompt.charsInserted = int(chars.inserted);
            prompt.charsRemoved = int(chars.removed);
            prompt.tokensInserted = int(toks.inserted);
            prompt.tokensRemoved = int(toks.removed);
        }
        prompts << prompt;
    }
    emit compareStarted(id, prompts);
    if (cancelled()) {
        QList<CompareColumnResult> results(static_cast<qsizetype>(n));
        for (CompareColumnResult& result : results) {
            result.stopReason = stopText(hearth::StopReason::cancelled);
        }
        emit compareFinished(id, results, CompareSummary{});
        return;
    }

    // One session per column, kept between requests so that a column's next turn reuses
    // its cache; the surplus of a shrunk comparison is freed.
    if (m_compareSessions.size() > n) {
        m_compareSessions.erase(m_compareSessions.begin() + std::ptrdiff_t(n),
                                m_compareSessions.end());
    }
    while (m_compareSessions.size() < n) {
        auto session = hearth::Session::create(m_model, {.n_ctx = m_session->n_ctx()});
        if (!session) {
            emit compareFailed(id, QString::fromStdString(session.error().message));
            return;
        }
        m_compareSessions.push_back(std::move(*session));
    }

    std::vector<std::string> pending(n);
    std::vector<int> generated(n, 0);
    QElapsedTimer sinceFlush;
    sinceFlush.start();
    QElapsedTimer clock;
    clock.start();
    auto flush = [&] {
        const double ms = double(clock.nsecsElapsed()) / 1e6;
        for (size_t i = 0; i < n; ++i) {
            if (!pending[i].empty()) {
                emit compareTokensArrived(id, int(i), QString::fromStdString(pending[i]),
                                          generated[i], ms);
                pending[i].clear();
            }
        }
        sinceFlush.restart();
    };
    std::vector<hearth::SequenceRequest> requests;
    requests.reserve(n);
    for (size_t i = 0; i < n; ++i) {
        const CompareColumnRequest& column = request.columns[qsizetype(i)];
        requests.push_back(
            {.session = &m_compareSessions[i],
             .prompt = tokens[i],
             .sampling = column.sampling,
             .options = {.max_tokens = column.maxTokens, .stop_strings = formats[i]->stop_strings},
             .on_token = [&, i](const hearth::TokenEvent& event) {
                 if (event.token >= 0) {
                     ++generated[i];
                 }
                 pending[i] += event.text;
                 if (sinceFlush.elapsed() >= kFlushIntervalMs) {
                     flush();
                 }
                 return !cancelled();
             }});
    }
    auto stats = hearth::generate_together(requests);
    if (!stats) {
        emit compareFailed(id, QString::fromStdString(stats.error().message));
        return;
    }
    flush();
    QList<CompareColumnResult> results;
    for (const hearth::GenerationStats& s : stats->sequences) {
        CompareColumnResult result;
        result.promptTokens = s.n_prompt;
        result.sharedTokens = s.n_shared;
        result.generatedTokens = s.n_generated;
        result.ttftMs = s.ttft_ms;
        result.decodeTokensPerSecond = s.decode_tokens_per_second();
        result.stopReason = stopText(s.stop);
        result.text = QString::fromStdString(s.text);
        results << result;
    }
    CompareSummary summary;
    summary.sharedPrefixTokens = stats->n_shared_prefix;
    summary.steps = stats->n_steps;
    summary.prefillMs = stats->prefill_ms;
    summary.decodeMs = stats->decode_ms;
    summary.tokensPerSecond = stats->decode_tokens_per_second();
    emit compareFinished(id, results, summary);
}
