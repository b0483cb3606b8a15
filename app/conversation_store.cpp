// One JSON file per conversation, written with QSaveFile; unreadable files reported and kept,
// every file read bounded and without blocking.
#include "conversation_store.h"

#include "hearth/file_input.h"
#include "hearth/json_input.h"
#include "hearth/memory_plan.h"

#include <QDir>
#include <QFile>
#include <QSaveFile>
#include <QStandardPaths>
#include <algorithm>
#include <nlohmann/json.hpp>

ConversationStore::ConversationStore(QString directory, ConversationLimits limits)
    : m_directory(directory.isEmpty() ? defaultDirectory() : std::move(directory)),
      m_limits(limits) {}

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
    // Every entry named *.json, whatever its kind (System: FIFOs, sockets, devices and
    // links to them), so that what is skipped is said; newest first for the limits below.
    const QFileInfoList entries =
        dir.entryInfoList({QStringLiteral("*.json")},
                          QDir::AllEntries | QDir::System | QDir::NoDotAndDotDot, QDir::Time);
    qint64 totalBytes = 0;
    int filesRead = 0;
    int notRead = 0;
    for (const QFileInfo& entry : entries) {
        const QString name = entry.fileName();
        auto skip = [&](const QString& why) {
            m_warnings << QStringLiteral("%1: %2; skipped").arg(name, why);
            m_unreadable.insert(name);
        };
        if (filesRead >= m_limits.maxFiles || totalBytes >= m_limits.maxTotalBytes) {
            m_unreadable.insert(name);
            ++notRead;
            continue;
        }
        ++filesRead;
        auto text = hearth::read_file_input(QFile::encodeName(entry.filePath()).toStdString(),
                                            "the file", size_t(m_limits.maxFileBytes));
        if (!text) {
            skip(QString::fromStdString(text.error().message));
            continue;
        }
        totalBytes += qint64(text->size());
        if (text->empty()) {
            skip(QStringLiteral("the file is empty"));
            continue;
        }
        auto json = hearth::parse_json_input(
            *text, "the file",
            {.max_bytes = size_t(m_limits.maxFileBytes), .max_depth = m_limits.maxNesting});
        if (!json) {
            skip(QString::fromStdString(json.error().message));
            continue;
        }
        Conversation conversation;
        QString error;
        QString notice;
        if (!conversationFromJson(*json, &conversation, &error, &notice)) {
            skip(error);
            continue;
        }
        if (conversation.id + QStringLiteral(".json") != name) {
            skip(QStringLiteral("its id \"%1\" does not match the file name").arg(conversation.id));
            continue;
        }
        if (!notice.isEmpty()) {
            m_warnings << QStringLiteral("%1: %2").arg(name, notice);
        }
        conversations.push_back(std::move(conversation));
    }
    if (notRead > 0) {
        m_warnings << QStringLiteral("%1 older conversation files not read: Hearth reads the "
                                     "%2 most recent, %3 at most")
                          .arg(notRead)
                          .arg(m_limits.maxFiles)
                          .arg(QString::fromStdString(
                              hearth::format_bytes(double(m_limits.maxTotalBytes))));
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
