// ChatController: sending a message, the reply streamed from the worker, stop and
// regenerate, and what a finished or failed reply leaves in the conversation.
#include "chat_controller.h"

#include <QRandomGenerator>

bool ChatController::send(const QString& text) {
    const QString trimmed = text.trimmed();
    if (trimmed.isEmpty() || busy() ||
        (m_modelState != ModelState::Ready && m_modelState != ModelState::Loading)) {
        return false;
    }
    if (!current()) {
        newConversation();
    }
    Conversation conversation = *current();
    conversation.messages.push_back({QStringLiteral("user"), trimmed, {}, {}});
    conversation.modelPath = m_modelPath;
    m_messages.append(conversation.messages.last());
    commit(conversation);
    const quint64 seed = m_sampling.randomSeed() ? QRandomGenerator::global()->generate64()
                                                 : quint64(m_sampling.seed());
    startReply(seed);
    return true;
}

void ChatController::startReply(quint64 seed) {
    GenerationRequest request;
    request.id = ++m_nextRequest;
    if (!m_systemPrompt.isEmpty()) {
        request.messages.push_back({QStringLiteral("system"), m_systemPrompt});
    }
    for (const Message& message : m_messages.messages()) {
        // A failed reply that produced nothing stays on screen (its error) but is no turn.
        if (message.role == QLatin1String("assistant") && message.text.isEmpty() &&
            message.reasoning.isEmpty()) {
            continue;
        }
        request.messages.push_back({message.role, message.text, message.reasoning});
    }
    request.sampling = m_sampling.toParams(seed);
    request.maxTokens = m_sampling.maxTokens();
    request.templateName = m_preview.templateName();
    request.thinking = m_sampling.thinking();
    request.speculation = m_sampling.speculation();
    request.draftModel = m_sampling.draftModel();
    m_lastSeed = seed;
    m_activeRequest = request.id;
    m_replyConversationId = m_currentId;
    m_messages.append({QStringLiteral("assistant"), QString(), {}, {}}, true);
    m_gauge.generationStarted();
    clearDiagnoses();
    setStatus(QStringLiteral("Generating…"));
    emit busyChanged();
    m_engine->post([worker = m_engine->worker(), request] { worker->generate(request); });
}

void ChatController::stop() {
    if (m_activeRequest != 0) {
        m_engine->worker()->cancelGeneration(m_activeRequest);
        setStatus(QStringLiteral("Stopping…"));
    }
}

bool ChatController::regenerate(bool sameSeed) {
    if (busy() || m_modelState != ModelState::Ready) {
        return false;
    }
    const QList<Message>& messages = m_messages.messages();
    if (messages.isEmpty()) {
        return false;
    }
    int row = int(messages.size()) - 1;
    if (messages.at(row).role == QLatin1String("assistant")) {
        m_messages.removeFrom(row);
    }
    if (m_messages.messages().isEmpty() ||
        m_messages.messages().last().role != QLatin1String("user")) {
        return false;
    }
    const quint64 seed = sameSeed ? m_lastSeed : QRandomGenerator::global()->generate64();
    startReply(seed);
    return true;
}

void ChatController::onTokens(quint64 id, const QString& reasoning, const QString& answer,
                              int generated, int reasoningTokens, double ms) {
    if (id != m_activeRequest) {
        return;
    }
    if (m_replyConversationId == m_currentId) {
        m_messages.appendText(m_messages.streamingRow(), reasoning, answer);
    }
    m_gauge.progress(generated, ms, reasoningTokens);
    if (m_gauge.decodeTokensPerSecond() > 0) {
        setStatus(
            QStringLiteral("Generating… %1 tok/s").arg(m_gauge.decodeTokensPerSecond(), 0, 'f', 1));
    }
}

void ChatController::endReply(const QString& reasoning, const QString& text,
                              const MessageStats& stats) {
    const QString conversationId = m_replyConversationId;
    m_activeRequest = 0;
    m_replyConversationId.clear();
    if (conversationId == m_currentId && m_messages.streamingRow() >= 0) {
        m_messages.finishStreaming(m_messages.streamingRow(), reasoning, text, stats);
    }
    if (const Conversation* found = m_list.find(conversationId)) {
        Conversation conversation = *found;
        if (conversationId == m_currentId) {
            conversation.messages = m_messages.messages();
        } else {
            conversation.messages.push_back(
                {QStringLiteral("assistant"), text, stats, {}, reasoning});
        }
        // A reply that produced nothing at all is not kept, unless it failed: its error stays
        // in the chat until Regenerate retries it.
        if (!conversation.messages.isEmpty() &&
            conversation.messages.last().role == QLatin1String("assistant") &&
            conversation.messages.last().text.isEmpty() &&
            conversation.messages.last().reasoning.isEmpty() &&
            conversation.messages.last().stats.error.isEmpty()) {
            conversation.messages.removeLast();
            if (conversationId == m_currentId) {
                m_messages.setMessages(conversation.messages);
            }
        }
        commit(conversation);
    }
    emit busyChanged();
}

void ChatController::onFinished(quint64 id, const GenerationResult& result) {
    if (id != m_activeRequest) {
        return;
    }
    // The streamed text is what the user saw; the result's is the same without a stop string.
    const bool streamedOnly =
        result.text.isEmpty() && result.reasoning.isEmpty() && m_messages.streamingRow() >= 0;
    const Message* streamed =
        streamedOnly ? &m_messages.messages().at(m_messages.streamingRow()) : nullptr;
    const QString reasoning = streamed ? streamed->reasoning : result.reasoning;
    const QString text = streamed ? streamed->text : result.text;
    // What the message keeps of the result: its MessageStats base.
    const QString conversationId = m_replyConversationId;
    endReply(reasoning, text, static_cast<const MessageStats&>(result));
    m_gauge.generationFinished(result);
    showDiagnoses(conversationId, result.diagnoses);
    QString status = QStringLiteral("%1 tokens · %2 tok/s")
                         .arg(result.generatedTokens)
                         .arg(result.decodeTokensPerSecond, 0, 'f', 1);
    if (result.droppedTurns > 0) {
        status += QStringLiteral(" · context full: the %1 oldest messages were left out")
                      .arg(result.droppedTurns);
    }
    if (result.stopReason == QLatin1String("cancelled")) {
        status = QStringLiteral("Stopped · ") + status;
    }
    if (!result.error.isEmpty()) {
        status = QStringLiteral("Could not generate: %1").arg(result.error);
    }
    setStatus(status);
    emit replyFinished(result.stopReason);
}

void ChatController::onFailed(quint64 id, const QString& message) {
    if (id != m_activeRequest) {
        return;
    }
    endReply(QString(), QString(), {});
    m_gauge.generationFinished({});
    setStatus(QStringLiteral("Could not generate: %1").arg(message));
    emit replyFinished(QString());
}
