// Every conversation, most recently updated first, for the sidebar; filtered by a search
// text on the title. GUI thread only. Holds the conversations themselves: ChatController
// edits them through update() and the store saves them.
#pragma once

#include "conversation.h"

#include <QAbstractListModel>
#include <QList>
#include <QSortFilterProxyModel>
#include <QtQml/qqmlregistration.h>

class ConversationListModel : public QAbstractListModel {
    Q_OBJECT
    QML_ELEMENT
    QML_UNCREATABLE("ConversationListModel belongs to ChatController")

public:
    enum Role { IdRole = Qt::UserRole + 1, TitleRole, UpdatedRole, MessageCountRole };
    Q_ENUM(Role)

    explicit ConversationListModel(QObject* parent = nullptr);

    int rowCount(const QModelIndex& parent = {}) const override;
    QVariant data(const QModelIndex& index, int role) const override;
    QHash<int, QByteArray> roleNames() const override;

    void setConversations(const QList<Conversation>& conversations);
    // Inserts or replaces, then moves it to the top (most recently updated).
    void upsert(const Conversation& conversation);
    bool remove(const QString& id);
    int rowOf(const QString& id) const;
    const Conversation* find(const QString& id) const;
    const QList<Conversation>& conversations() const { return m_conversations; }

private:
    QList<Conversation> m_conversations;
};

// The search box's view of the list: case-insensitive substring match on the title.
class ConversationFilterModel : public QSortFilterProxyModel {
    Q_OBJECT
    QML_ELEMENT
    QML_UNCREATABLE("ConversationFilterModel belongs to ChatController")
    Q_PROPERTY(QString searchText READ searchText WRITE setSearchText NOTIFY searchTextChanged)
    Q_PROPERTY(int count READ count NOTIFY countChanged)

public:
    explicit ConversationFilterModel(QObject* parent = nullptr);
    QString searchText() const { return m_searchText; }
    void setSearchText(const QString& text);
    int count() const { return rowCount(); }

signals:
    void searchTextChanged();
    void countChanged();

private:
    QString m_searchText;
};
