// A list model over the current conversation's messages.
#include "message_list_model.h"

MessageListModel::MessageListModel(QObject* parent) : QAbstractListModel(parent) {}

int MessageListModel::rowCount(const QModelIndex& parent) const {
    return parent.isValid() ? 0 : int(m_messages.size());
}

QVariant MessageListModel::data(const QModelIndex& index, int role) const {
    if (!checkIndex(index, CheckIndexOption::IndexIsValid | CheckIndexOption::ParentIsInvalid)) {
        return {};
    }
    const Message& message = m_messages.at(index.row());
    switch (role) {
    case RoleRole:
        return message.role;
    case Qt::DisplayRole:
    case TextRole:
        return message.text;
    case StreamingRole:
        return index.row() == m_streamingRow;
    case StatsRole:
        return message.stats.summary();
    case IndexRole:
        return index.row();
    case BlocksRole:
        return splitBlocks(message.text);
    case ReasoningRole:
        return message.reasoning;
    case ThinkingRole:
        return index.row() == m_streamingRow && message.text.isEmpty() &&
               !message.reasoning.isEmpty();
    case ThinkingStatsRole:
        return message.stats.thinkingSummary();
    case AnsweredByRole:
        return message.stats.answeredBy();
    case ErrorRole:
        return message.stats.error;
    case TokensRole: {
        QStringList pieces;
        pieces.reserve(message.tokens.size());
        for (const TokenTrace& token : message.tokens) {
            pieces << TokenTrace::visible(token.text);
        }
        return pieces;
    }
    default:
        return {};
    }
}

QHash<int, QByteArray> MessageListModel::roleNames() const {
    return {{RoleRole, "role"},
            {TextRole, "text"},
            {StreamingRole, "streaming"},
            {StatsRole, "stats"},
            {IndexRole, "messageIndex"},
            {BlocksRole, "blocks"},
            {TokensRole, "tokens"},
            {ReasoningRole, "reasoning"},
            {ThinkingRole, "thinking"},
            {ThinkingStatsRole, "thinkingStats"},
            {AnsweredByRole, "answeredBy"},
            {ErrorRole, "error"}};
}

void MessageListModel::setMessages(const QList<Message>& messages) {
    beginResetModel();
    m_messages = messages;
    m_streamingRow = -1;
    endResetModel();
    emit countChanged();
}

void MessageListModel::append(const Message& message, bool streaming) {
    const int row = int(m_messages.size());
    beginInsertRows({}, row, row);
    m_messages.push_back(message);
    if (streaming) {
        m_streamingRow = row;
    }
    endInsertRows();
    emit countChanged();
}

void MessageListModel::appendText(int row, const QString& reasoning, const QString& answer) {
    if (row < 0 || row >= m_messages.size() || (reasoning.isEmpty() && answer.isEmpty())) {
        return;
    }
    Message& message = m_messages[row];
    // The section opens with the reasoning's first text and closes with the answer's.
    const bool thinkingChanged = (message.text.isEmpty() && !answer.isEmpty()) ||
                                 (message.reasoning.isEmpty() && !reasoning.isEmpty());
    message.reasoning += reasoning;
    message.text += answer;
    QList<int> roles;
    if (!reasoning.isEmpty()) {
        roles << ReasoningRole;
    }
    if (!answer.isEmpty()) {
        roles << TextRole << Qt::DisplayRole << BlocksRole;
    }
    if (thinkingChanged) {
        roles << ThinkingRole;
    }
    const QModelIndex at = index(row);
    emit dataChanged(at, at, roles);
}

void MessageListModel::appendTokens(int row, const QList<TokenTrace>& tokens) {
    if (row < 0 || row >= m_messages.size() || tokens.isEmpty()) {
        return;
    }
    m_messages[row].tokens += tokens;
    const QModelIndex at = index(row);
    emit dataChanged(at, at, {TokensRole});
}

QVariantMap MessageListModel::tokenTrace(int row, int token) const {
    if (row < 0 || row >= m_messages.size() || token < 0 ||
        token >= m_messages.at(row).tokens.size()) {
        return {};
    }
    return m_messages.at(row).tokens.at(token).toVariant();
}

void MessageListModel::finishStreaming(int row, const QString& reasoning, const QString& text,
                                       const MessageStats& stats) {
    if (row < 0 || row >= m_messages.size()) {
        return;
    }
    m_messages[row].reasoning = reasoning;
    m_messages[row].text = text;
    m_messages[row].stats = stats;
    if (m_streamingRow == row) {
        m_streamingRow = -1;
    }
    const QModelIndex at = index(row);
    emit dataChanged(at, at,
                     {TextRole, Qt::DisplayRole, StreamingRole, StatsRole, BlocksRole,
                      ReasoningRole, ThinkingRole, ThinkingStatsRole, AnsweredByRole, ErrorRole});
}

void MessageListModel::removeFrom(int row) {
    if (row < 0 || row >= m_messages.size()) {
        return;
    }
    beginRemoveRows({}, row, int(m_messages.size()) - 1);
    m_messages.resize(row);
    if (m_streamingRow >= row) {
        m_streamingRow = -1;
    }
    endRemoveRows();
    emit countChanged();
}

QVariantList MessageListModel::splitBlocks(const QString& markdown) {
    QVariantList blocks;
    auto add = [&blocks](bool code, const QStringList& lines, const QString& language) {
        QString text = lines.join(QLatin1Char('\n'));
        if (!code) {
            text = text.trimmed();
        }
        if (!text.isEmpty() || code) {
            blocks << QVariantMap{{QStringLiteral("code"), code},
                                  {QStringLiteral("text"), text},
                                  {QStringLiteral("language"), language}};
        }
    };
    QStringList lines;
    QString language;
    bool inCode = false;
    for (const QString& line : markdown.split(QLatin1Char('\n'))) {
        if (line.trimmed().startsWith(QStringLiteral("```"))) {
            add(inCode, lines, language);
            lines.clear();
            language = inCode ? QString() : line.trimmed().mid(3).trimmed();
            inCode = !inCode;
            continue;
        }
        lines << line;
    }
    add(inCode, lines, language);
    return blocks;
}
