// One JSON file per conversation, written with QSaveFile; unreadable files reported and kept.
#include "conversation_store.h"

#include <QDir>
#include <QFile>
#include <QSaveFile>
#include <QStandardPaths>
#include <algorithm>
#include <nlohmann/json.hpp>

ConversationStore::ConversationStore(QString directory)
    : m_directory(directory.isEmpty() ? defaultDirectory() : std::move(directory)) {}

QString ConversationStore::defaultDirectory() {
    // GenericDataLocation is $XDG_DATA_HOME (~/.local/share): Hearth's files live in hearth/.
    return QStandardPaths::writableLocation(QStandardPaths::GenericDataLocation) +
           QStringLiteral("/hearth/conversations");
}

QString ConversationStore::pathFor(const QString& id) const {
    return m_directory + QLatin1Char('/') + id + QStringLiteral(".json");
}

QList<Conversation> ConversationStore::loadAll() {
    m_warnings.clear();
    m_unreadable.clear();
    QList<Conversation> conversations;
    const QDir dir(m_directory);
    const QStringList names = dir.entryList({QStringLiteral("*.json")}, QDir::Files, QDir::Name);
    for (const QString& name : names) {
        auto skip = [&](const QString& why) {
            m_warnings << QStringLiteral("%1: %2; skipped").arg(name, why);
            m_unreadable.insert(name);
        };
        QFile file(dir.filePath(name));
        if (!file.open(QIODevice::ReadOnly)) {
            skip(file.errorString());
            continue;
        }
        const QByteArray bytes = file.readAll();
        const auto json = nlohmann::json::parse(bytes.constBegin(), bytes.constEnd(), nullptr,
                                                /*allow_exceptions=*/false);
        if (json.is_discarded()) {
            skip(bytes.isEmpty() ? QStringLiteral("the file is empty")
                                 : QStringLiteral("not valid JSON (corrupted or cut short)"));
            continue;
        }
        Conversation conversation;
        QString error;
        if (!conversationFromJson(json, &conversation, &error)) {
            skip(error);
            continue;
        }
        if (conversation.id + QStringLiteral(".json") != name) {
            skip(QStringLiteral("its id \"%1\" does not match the file name").arg(conversation.id));
            continue;
        }
        conversations.push_back(std::move(conversation));
    }
    std::stable_sort(
        conversations.begin(), conversations.end(),
        [](const Conversation& a, const Conversation& b) { return a.updated > b.updated; });
    return conversations;
}

bool ConversationStore::save(const Conversation& conversation) {
    const QString name = conversation.id + QStringLiteral(".json");
    if (m_unreadable.contains(name)) {
        m_warnings << QStringLiteral("%1: not saved, the file on disk could not be read and is "
                                     "kept as it is")
                          .arg(name);
        return false;
    }
    if (!QDir().mkpath(m_directory)) {
        m_warnings << QStringLiteral("cannot create %1").arg(m_directory);
        return false;
    }
    const std::string text = conversationToJson(conversation).dump(2);
    QSaveFile file(pathFor(conversation.id));
    if (!file.open(QIODevice::WriteOnly) ||
        file.write(text.data(), qint64(text.size())) != qint64(text.size()) || !file.commit()) {
        m_warnings << QStringLiteral("%1: cannot save: %2").arg(name, file.errorString());
        return false;
    }
    return true;
}

bool ConversationStore::remove(const QString& id) {
    if (m_unreadable.contains(id + QStringLiteral(".json"))) {
        return false;
    }
    return QFile::remove(pathFor(id));
}
