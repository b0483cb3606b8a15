// ChatController: the conversation list's verbs (new, select, rename, delete with undo).
#include "chat_controller.h"

void ChatController::newConversation() {
    if (const auto existing = current(); existing && existing->messages.isEmpty()) {
        return; // already on an empty chat
    }
    Conversation conversation = Conversation::create();
    conversation.systemPrompt = m_systemPrompt;
    conversation.sampling = m_sampling.toVariantMap();
    conversation.templateName = m_preview.templateName();
    conversation.modelPath = m_modelPath;
    m_list.upsert(conversation);
    showConversation(conversation);
}

void ChatController::selectConversation(const QString& id) {
    if (id == m_currentId) {
        return;
    }
    const Conversation* conversation = m_list.find(id);
    if (!conversation) {
        return;
    }
    // An empty chat left behind is not worth keeping in the list.
    if (const Conversation* previous = m_list.find(m_currentId);
        previous && previous->messages.isEmpty()) {
        const Conversation next = *conversation;
        m_list.remove(previous->id);
        showConversation(next);
        return;
    }
    showConversation(*conversation);
}

void ChatController::renameConversation(const QString& id, const QString& title) {
    const Conversation* found = m_list.find(id);
    if (!found) {
        return;
    }
    Conversation conversation = *found;
    conversation.title = title.simplified();
    commit(conversation);
}

void ChatController::deleteConversation(const QString& id) {
    const Conversation* found = m_list.find(id);
    if (!found) {
        return;
    }
    if (id == m_replyConversationId) {
        stop();
    }
    m_deleted = *found;
    m_list.remove(id);
    m_store.remove(id);
    emit undoChanged();
    if (id == m_currentId) {
        m_currentId.clear();
        if (!m_list.conversations().isEmpty()) {
            showConversation(m_list.conversations().first());
        } else {
            newConversation();
        }
    }
}

void ChatController::undoDelete() {
    if (!m_deleted) {
        return;
    }
    Conversation conversation = *m_deleted;
    m_deleted.reset();
    m_list.upsert(conversation);
    if (!conversation.messages.isEmpty()) {
        m_store.save(conversation);
    }
    emit undoChanged();
    selectConversation(conversation.id);
}

void ChatController::dismissStoreWarnings() {
    // The warnings stay in the store (files are still skipped); the UI hides them.
    emit storeWarningsChanged();
}
