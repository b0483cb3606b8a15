// ChatController: the conversation on screen and its storage. Edits go through commit(),
// which updates the list model and writes the file (ConversationStore, atomically).
#include "chat_controller.h"

#include <QSettings>

std::optional<Conversation> ChatController::current() const {
    // A copy: edits go back through commit(), which updates the list model and the file.
    if (const Conversation* conversation = m_list.find(m_currentId)) {
        return *conversation;
    }
    return std::nullopt;
}

void ChatController::commit(Conversation& conversation) {
    conversation.updated = QDateTime::currentDateTimeUtc();
    m_list.upsert(conversation);
    if (!conversation.messages.isEmpty()) {
        const int before = int(m_store.warnings().size());
        m_store.save(conversation);
        if (m_store.warnings().size() != before) {
            emit storeWarningsChanged();
        }
    }
    if (conversation.id == m_currentId) {
        emit currentConversationChanged();
    }
}

void ChatController::showConversation(const Conversation& conversation) {
    m_applyingConversation = true;
    m_currentId = conversation.id;
    m_messages.setMessages(conversation.messages);
    m_systemPrompt = conversation.systemPrompt;
    if (!conversation.sampling.isEmpty()) {
        m_sampling.fromVariantMap(conversation.sampling);
    }
    m_preview.setTemplateName(conversation.templateName);
    m_applyingConversation = false;
    QSettings().setValue(QLatin1String(kLastConversationKey), conversation.id);
    emit systemPromptChanged();
    emit currentConversationChanged();
    schedulePreview();
}

void ChatController::storeSettingsInCurrent() {
    if (m_applyingConversation) {
        return;
    }
    auto conversation = current();
    if (!conversation) {
        return;
    }
    conversation->systemPrompt = m_systemPrompt;
    conversation->sampling = m_sampling.toVariantMap();
    conversation->templateName = m_preview.templateName();
    m_list.upsert(*conversation);
    if (!conversation->messages.isEmpty()) {
        m_store.save(*conversation);
    }
}
