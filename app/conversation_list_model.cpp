// The sidebar's conversation list and its search filter.
#include "conversation_list_model.h"

ConversationListModel::ConversationListModel(QObject* parent) : QAbstractListModel(parent) {}

int ConversationListModel::rowCount(const QModelIndex& parent) const {
    return parent.isValid() ? 0 : int(m_conversations.size());
}

QVariant ConversationListModel::data(const QModelIndex& index, int role) const {
    if (!checkIndex(index, CheckIndexOption::IndexIsValid | CheckIndexOption::ParentIsInvalid)) {
        return {};
    }
    const Conversation& conversation = m_conversations.at(index.row());
    switch (role) {
    case IdRole:
        return conversation.id;
    case Qt::DisplayRole:
    case TitleRole:
        return conversation.displayTitle();
    case UpdatedRole:
        return conversation.updated;
    case MessageCountRole:
        return int(conversation.messages.size());
    default:
        return {};
    }
}

QHash<int, QByteArray> ConversationListModel::roleNames() const {
    return {{IdRole, "conversationId"},
            {TitleRole, "title"},
            {UpdatedRole, "updated"},
            {MessageCountRole, "messageCount"}};
}

void ConversationListModel::setConversations(const QList<Conversation>& conversations) {
    beginResetModel();
    m_conversations = conversations;
    endResetModel();
}

int ConversationListModel::rowOf(const QString& id) const {
    for (int row = 0; row < m_conversations.size(); ++row) {
        if (m_conversations[row].id == id) {
            return row;
        }
    }
    return -1;
}

const Conversation* ConversationListModel::find(const QString& id) const {
    const int row = rowOf(id);
    return row < 0 ? nullptr : &m_conversations[row];
}

void ConversationListModel::upsert(const Conversation& conversation) {
    const int row = rowOf(conversation.id);
    if (row < 0) {
        beginInsertRows({}, 0, 0);
        m_conversations.prepend(conversation);
        endInsertRows();
        return;
    }
    if (row > 0) {
        beginMoveRows({}, row, row, {}, 0);
        m_conversations.move(row, 0);
        endMoveRows();
    }
    m_conversations[0] = conversation;
    emit dataChanged(index(0), index(0));
}

bool ConversationListModel::remove(const QString& id) {
    const int row = rowOf(id);
    if (row < 0) {
        return false;
    }
    beginRemoveRows({}, row, row);
    m_conversations.removeAt(row);
    endRemoveRows();
    return true;
}

ConversationFilterModel::ConversationFilterModel(QObject* parent) : QSortFilterProxyModel(parent) {
    setFilterRole(ConversationListModel::TitleRole);
    setFilterCaseSensitivity(Qt::CaseInsensitive);
    connect(this, &QAbstractItemModel::rowsInserted, this, &ConversationFilterModel::countChanged);
    connect(this, &QAbstractItemModel::rowsRemoved, this, &ConversationFilterModel::countChanged);
    connect(this, &QAbstractItemModel::modelReset, this, &ConversationFilterModel::countChanged);
    connect(this, &QAbstractItemModel::layoutChanged, this, &ConversationFilterModel::countChanged);
}

void ConversationFilterModel::setSearchText(const QString& text) {
    if (m_searchText == text) {
        return;
    }
    m_searchText = text;
    setFilterFixedString(text);
    emit searchTextChanged();
    emit countChanged();
}
