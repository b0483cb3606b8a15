// The model scan's bounded walk of a folder tree, and the check that a file is a regular
// file before anything reads it. Folders come from other apps and from the user, so the walk
// assumes nothing of them: it stops at a depth and a number of entries, enters each real
// folder once (a symlink loop ends where it closes), never opens what it lists, and can be
// stopped from another thread. What it skips, and why, is noted for the log.
//
// Plain functions and a value type: one FolderWalk per scan, on the scanning thread.
#pragma once

#include <QFileInfo>
#include <QSet>
#include <QString>
#include <QStringList>
#include <functional>

// docs/LIMITS.md, "Model folders scanned".
struct ScanLimits {
    int maxDepth = 8;                  // folder levels below a root
    int maxEntries = 50'000;           // folder entries looked at, per root
    int maxModels = 1'000;             // GGUF headers read, per scan
    qint64 maxManifestBytes = 1 << 20; // one Ollama manifest (a real one is about 1 KiB)
    int maxNotes = 100;                // skipped entries named in the log, per scan
};

class FolderWalk {
public:
    // `stop`, when set, is asked between entries; true ends the walk early.
    FolderWalk(const ScanLimits& limits, std::function<bool()> stop);

    // Calls `visit` for every entry below `dir` that is not a folder (files, links to files,
    // dangling links, FIFOs: the caller decides), depth-first, each folder's entries in name
    // order; `segments` is the entry's path below `dir`. Hidden entries are left out.
    // Folders more than `maxDepth` levels down are not entered (noted). The entry budget
    // (ScanLimits::maxEntries) is shared by every walk until startRoot(). `enter`, when set,
    // says which folders to go into (by their segments). Returns false once the budget is
    // spent or a stop is requested.
    using Visit = std::function<void(const QFileInfo& entry, const QStringList& segments)>;
    using Enter = std::function<bool(const QStringList& segments)>;
    bool walk(const QString& dir, int maxDepth, const Visit& visit, const Enter& enter = {});

    // A new root: a fresh entry budget. Folders already entered stay entered.
    void startRoot(const QString& root);
    bool stopped() const { return m_stopped; }

    // Records why something was skipped ("PATH: reason"); past ScanLimits::maxNotes only
    // counted.
    void note(const QString& path, const QString& reason);
    // The notes, with a last line counting those left out.
    QStringList notes() const;
    const ScanLimits& limits() const { return m_limits; }
    bool stopRequested() const { return m_stop && m_stop(); }

private:
    bool takeEntry();

    ScanLimits m_limits;
    std::function<bool()> m_stop;
    QSet<QString> m_entered; // canonical paths of the folders entered
    QStringList m_notes;
    int m_notesLeftOut = 0;
    QString m_root;
    int m_entries = 0;
    bool m_stopped = false;
};

namespace FileCheck {

// Opens `path` without blocking (a FIFO would otherwise wait for a writer) and checks that
// it is a regular file. Empty on success, else why not: "not a regular file (a FIFO)",
// "cannot open: Permission denied".
QString regularFileProblem(const QString& path);

// True when `path` is a regular file that starts with the GGUF magic.
bool isGgufFile(const QString& path, QString* problem = nullptr);

// Reads a whole regular file of at most `maxBytes`, never blocking on a FIFO; empty with
// `problem` set otherwise.
QByteArray readSmallFile(const QString& path, qint64 maxBytes, QString* problem);

} // namespace FileCheck
