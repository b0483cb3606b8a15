// The messages of the conversation on screen, for the chat view. GUI thread only: the
// worker's streamed text reaches it through ChatController, one appendText() per flush.
#pragma once

#include "conversation.h"

#include <QAbstractListModel>
#include <QList>
#include <QVariantList>
#include <QtQml/qqmlregistration.h>

class MessageListModel : public QAbstractListModel {
    Q_OBJECT
    QML_ELEMENT
    QML_UNCREATABLE("MessageListModel belongs to ChatController")
    Q_PROPERTY(int count READ rowCount NOTIFY countChanged)

public:
    enum Role {
        RoleRole = Qt::UserRole + 1,
        TextRole,
        StreamingRole,
        StatsRole,
        IndexRole,
        BlocksRole,
        TokensRole,        // the generated tokens' visible text, for the token inspector's chips
        ReasoningRole,     // the reply's reasoning ("thinking"), "" when none
        ThinkingRole,      // streaming the reasoning: some reasoning, no answer yet
        ThinkingStatsRole, // MessageStats::thinkingSummary()
        AnsweredByRole,    // MessageStats::answeredBy(): a remote reply's model and endpoint
        ErrorRole          // why the reply failed ("" when it did not)
    };
    Q_ENUM(Role)

    explicit MessageListModel(QObject* parent = nullptr);

    int rowCount(const QModelIndex& parent = {}) const override;
    QVariant data(const QModelIndex& index, int role) const override;
    QHash<int, QByteArray> roleNames() const override;

    const QList<Message>& messages() const { return m_messages; }
    void setMessages(const QList<Message>& messages);
    void append(const Message& message, bool streaming = false);
    // Streamed text of the reply in `row`: reasoning and answer, as the worker split it.
    void appendText(int row, const QString& reasoning, const QString& answer);
    void appendTokens(int row, const QList<TokenTrace>& tokens);
    // Token `token` of message `row` for the inspector (TokenTrace::toVariant), or an empty
    // map when there is no such token.
    Q_INVOKABLE QVariantMap tokenTrace(int row, int token) const;
    void finishStreaming(int row, const QString& reasoning, const QString& text,
                         const MessageStats& stats);
    void removeFrom(int row); // removes row and every row after it
    int streamingRow() const { return m_streamingRow; }

    // A message split at its fenced code blocks, for the delegate: [{code: bool, text,
    // language}]. An unclosed fence (a reply still streaming) runs to the end.
    static QVariantList splitBlocks(const QString& markdown);

signals:
    void countChanged();

private:
    QList<Message> m_messages;
    int m_streamingRow = -1;
};
