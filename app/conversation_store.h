// Conversations on disk: one JSON file per conversation under
// $XDG_DATA_HOME/hearth/conversations/, each written atomically (QSaveFile: a temporary file,
// then a rename), so that a crash never leaves a half-written conversation.
//
// A file that cannot be read (corrupted, truncated, written by a newer Hearth, past a limit,
// not a regular file: a FIFO, a directory, a device) is reported in warnings() and skipped;
// its name is remembered and the store never writes over it. Files are opened without
// blocking and only when they are regular files, so a FIFO in the folder cannot freeze the
// start-up; their size, their nesting and how many are read are bounded (the limits below,
// docs/LIMITS.md). GUI thread only; files are small and each write is a few milliseconds.
#pragma once

#include "conversation.h"

#include <QList>
#include <QSet>
#include <QString>
#include <QStringList>

// docs/LIMITS.md, "Conversations, settings and other files the app reads".
struct ConversationLimits {
    // One file: a conversation filling a 128k-token context is about 1 MiB of text.
    qint64 maxFileBytes = qint64{16} << 20;
    // Arrays and objects inside one another: a conversation file nests 4 deep.
    size_t maxNesting = 16;
    // Files read at start-up, the most recently modified first, and their bytes together:
    // the sidebar stays quick and the memory bounded; older files are listed in warnings().
    int maxFiles = 5000;
    qint64 maxTotalBytes = qint64{512} << 20;
};

class ConversationStore {
public:
    // `directory` empty: the standard location ($XDG_DATA_HOME/hearth/conversations).
    explicit ConversationStore(QString directory = {}, ConversationLimits limits = {});

    static QString defaultDirectory();
    QString directory() const { return m_directory; }

    // Every readable conversation, most recently updated first. Rebuilds warnings().
    QList<Conversation> loadAll();
    // Writes (or replaces) the conversation's file. False, with a warning, on failure or
    // when the file is one that could not be read.
    bool save(const Conversation& conversation);
    bool remove(const QString& id);

    // "name.json: <what is wrong>; skipped", one per unreadable file or failed write, and
    // "name.json: <what was changed>" for a file read with a correction (a template path).
    QStringList warnings() const { return m_warnings; }

private:
    QString pathFor(const QString& id) const;

    QString m_directory;
    ConversationLimits m_limits;
    QStringList m_warnings;
    QSet<QString> m_unreadable; // file names never to overwrite
};
