// ChatController: editing the messages of the conversation on screen (edit and rerun,
// delete, a compare column's exchange appended) and copying a message.
#include "chat_controller.h"

#include <QClipboard>
#include <QGuiApplication>

bool ChatController::editAndRerun(int row, const QString& text) {
    if (busy() || row < 0 || row >= m_messages.messages().size() ||
        m_messages.messages().at(row).role != QLatin1String("user") || text.trimmed().isEmpty()) {
        return false;
    }
    m_messages.removeFrom(row);
    Conversation conversation = *current();
    conversation.messages = m_messages.messages();
    commit(conversation);
    return send(text);
}

bool ChatController::appendExchange(const QString& userText, const QString& replyText) {
    if (busy() || userText.trimmed().isEmpty() || replyText.isEmpty()) {
        return false;
    }
    if (!current()) {
        newConversation();
    }
    Conversation conversation = *current();
    conversation.messages.push_back({QStringLiteral("user"), userText.trimmed(), {}, {}});
    conversation.messages.push_back({QStringLiteral("assistant"), replyText, {}, {}});
    m_messages.setMessages(conversation.messages);
    commit(conversation);
    return true;
}

void ChatController::deleteMessage(int row) {
    if (busy() || row < 0 || row >= m_messages.messages().size()) {
        return;
    }
    QList<Message> messages = m_messages.messages();
    messages.removeAt(row);
    m_messages.setMessages(messages);
    Conversation conversation = *current();
    conversation.messages = messages;
    commit(conversation);
}

void ChatController::copyToClipboard(const QString& text) {
    if (QClipboard* clipboard = QGuiApplication::clipboard()) {
        clipboard->setText(text);
    }
}
