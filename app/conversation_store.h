// Conversations on disk: one JSON file per conversation under
// $XDG_DATA_HOME/hearth/conversations/, each written atomically (QSaveFile: a temporary file,
// then a rename), so that a crash never leaves a half-written conversation.
//
// A file that cannot be read (corrupted, truncated, written by a newer Hearth) is reported
// in warnings() and skipped; its name is remembered and the store never writes over it.
// GUI thread only; files are small and each write is a few milliseconds.
#pragma once

#include "conversation.h"

#include <QList>
#include <QSet>
#include <QString>
#include <QStringList>

class ConversationStore {
public:
    // `directory` empty: the standard location ($XDG_DATA_HOME/hearth/conversations).
    explicit ConversationStore(QString directory = {});

    static QString defaultDirectory();
    QString directory() const { return m_directory; }

    // Every readable conversation, most recently updated first. Rebuilds warnings().
    QList<Conversation> loadAll();
    // Writes (or replaces) the conversation's file. False, with a warning, on failure or
    // when the file is one that could not be read.
    bool save(const Conversation& conversation);
    bool remove(const QString& id);

    // "name.json: <what is wrong>; skipped", one per unreadable file or failed write.
    QStringList warnings() const { return m_warnings; }

private:
    QString pathFor(const QString& id) const;

    QString m_directory;
    QStringList m_warnings;
    QSet<QString> m_unreadable; // file names never to overwrite
};
