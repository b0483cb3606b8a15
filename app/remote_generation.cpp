// runRemote: a remote request streamed, and its end as a GenerationResult.
#include "remote_generation.h"

#include "hearth/session.h"

#include <QElapsedTimer>
#include <algorithm>

namespace remote = hearth::remote;

namespace {

QString qstr(std::string_view text) {
    return QString::fromUtf8(text.data(), qsizetype(text.size()));
}

// The finish reason in the words of the local engine's stop reasons, so that a message's
// summary reads alike ("stopped: max tokens").
QString stopReasonOf(const std::string& finishReason) {
    if (finishReason == "stop" || finishReason.empty()) {
        return QString::fromUtf8(hearth::stop_reason_name(hearth::StopReason::end_of_generation));
    }
    if (finishReason == "length") {
        return QString::fromUtf8(hearth::stop_reason_name(hearth::StopReason::max_tokens));
    }
    return qstr(finishReason);
}

} // namespace

remote::RemoteChatRequest remoteChatRequest(const QString& model, const QList<ChatTurn>& turns,
                                            const hearth::SamplingParams& sampling, int maxTokens) {
    remote::RemoteChatRequest body;
    body.model = model.toStdString();
    for (const ChatTurn& turn : turns) {
        if (turn.role == QLatin1String("system")) {
            body.system_prompt = turn.text.toStdString();
        } else {
            body.messages.push_back(
                {turn.role.toStdString(), turn.text.toStdString(), turn.reasoning.toStdString()});
        }
    }
    body.generation.sampling = sampling;
    body.generation.max_tokens = maxTokens;
    body.generation.stream = true;
    return body;
}

GenerationResult runRemote(const RemoteRun& run, const RemoteFlush& flush) {
    // The stream's pieces, coalesced as a local model's are. One event is one token for the
    // live count; the server's usage gives the exact count at the end.
    QString reasoning;
    QString answer;
    int events = 0;
    int reasoningEvents = 0;
    QElapsedTimer clock;
    clock.start();
    QElapsedTimer sinceFlush;
    sinceFlush.start();
    auto emitNews = [&] {
        if (!reasoning.isEmpty() || !answer.isEmpty()) {
            flush(reasoning, answer, events, reasoningEvents, double(clock.nsecsElapsed()) / 1e6);
            reasoning.clear();
            answer.clear();
        }
        sinceFlush.restart();
    };
    const remote::DeltaHandler onDelta = [&](const remote::RemoteDelta& delta) {
        if (delta.content.empty() && delta.reasoning.empty()) {
            return true;
        }
        ++events;
        if (!delta.reasoning.empty()) {
            ++reasoningEvents;
        }
        reasoning += qstr(delta.reasoning);
        answer += qstr(delta.content);
        if (sinceFlush.elapsed() >= run.flushIntervalMs) {
            emitNews();
        }
        return true;
    };
    const remote::RemoteResult reply =
        run.chat ? run.client->chat(*run.chat, onDelta, run.cancel)
                 : run.client->complete(*run.completion, onDelta, run.cancel);
    emitNews();

    const remote::RemoteReply& got = reply ? *reply : reply.error().partial;
    GenerationResult result;
    result.text = qstr(got.content);
    result.reasoning = qstr(got.reasoning);
    result.generatedTokens = got.completion_tokens;
    if (got.usage) {
        result.promptTokens = got.usage->prompt_tokens;
        result.reasoningTokens = std::min(got.usage->reasoning_tokens, got.completion_tokens);
    }
    if (result.reasoningTokens == 0 && !result.reasoning.isEmpty()) {
        result.reasoningTokens = std::min(reasoningEvents, result.generatedTokens);
    }
    // Measured here: the first token's wait includes the network and the server's queue, as
    // the user feels them.
    result.ttftMs = got.timings.time_to_first_token_s * 1000.0;
    result.prefillMs = result.ttftMs;
    result.decodeMs = std::max(0.0, got.timings.total_s - got.timings.time_to_first_token_s) * 1e3;
    result.decodeTokensPerSecond = got.timings.tokens_per_second;
    if (result.promptTokens > 0 && result.ttftMs > 0) {
        result.prefillTokensPerSecond = result.promptTokens / (result.ttftMs / 1000.0);
    }
    result.device = QStringLiteral("server");
    result.endpoint = qstr(run.client->url().display());
    result.model = got.model.empty() ? run.model : qstr(got.model);
    if (reply) {
        result.stopReason = stopReasonOf(got.finish_reason);
    } else if (reply.error().error.kind == remote::RemoteErrorKind::cancelled) {
        result.stopReason =
            QString::fromUtf8(hearth::stop_reason_name(hearth::StopReason::cancelled));
    } else {
        // Kept with what arrived before the failure, marked; Regenerate sends it again.
        result.stopReason = QStringLiteral("error");
        result.error = qstr(reply.error().error.error.message);
        if (remote::is_retryable(reply.error().error.kind)) {
            result.error += QStringLiteral(" (Regenerate retries it)");
        }
    }
    return result;
}
