// ReplyStream: one sequence's streamed reply and its result, for the chat and Compare.
#include "reply_stream.h"

#include <utility>

ReplyStream::ReplyStream(const hearth::ReasoningFormat& format, std::string_view prompt)
    : m_format(format), m_opened(hearth::prompt_opens_reasoning(format, prompt)),
      m_splitter(format, m_opened) {}

void ReplyStream::feed(const hearth::TokenEvent& event) {
    if (event.token >= 0) {
        ++m_generated;
    }
    const hearth::ReasoningDelta delta = m_splitter.feed_token(event.text, event.ms);
    m_pending.reasoning += delta.reasoning;
    m_pending.answer += delta.answer;
}

void ReplyStream::finish() {
    const hearth::ReasoningDelta rest = m_splitter.finish();
    m_pending.reasoning += rest.reasoning;
    m_pending.answer += rest.answer;
}

hearth::ReasoningDelta ReplyStream::take() {
    m_reported = m_generated;
    return std::exchange(m_pending, {});
}

GenerationResult ReplyStream::result(const hearth::GenerationStats& stats) const {
    const hearth::SplitReply reply = hearth::split_reasoning(m_format, m_opened, stats.text);
    const hearth::ReplyTiming timing =
        hearth::reply_timing(m_splitter, stats.n_generated, stats.decode_ms);
    GenerationResult result;
    result.promptTokens = stats.n_prompt;
    result.generatedTokens = stats.n_generated;
    result.prefillTokensPerSecond = stats.prefill_tokens_per_second();
    result.decodeTokensPerSecond = stats.decode_tokens_per_second();
    result.ttftMs = stats.ttft_ms;
    result.stopReason = QString::fromUtf8(hearth::stop_reason_name(stats.stop));
    result.reasoningTokens = timing.reasoning_tokens;
    result.reasoningMs = timing.reasoning_ms;
    result.reasoningTokensPerSecond = timing.reasoning_tokens_per_second();
    result.answerTokensPerSecond = timing.answer_tokens_per_second();
    result.text = QString::fromStdString(reply.answer);
    result.reasoning = QString::fromStdString(reply.reasoning);
    result.reusedTokens = stats.n_reused;
    result.sharedTokens = stats.n_shared;
    result.prefilledTokens = stats.n_prefilled;
    result.prefillMs = stats.prefill_ms;
    result.decodeMs = stats.decode_ms;
    return result;
}
