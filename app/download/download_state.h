// Resume state of one download, persisted next to its partial file (NAME.part.json), so that
// a download interrupted by a dropped connection, a pause or an app restart continues with
// an HTTP Range request instead of starting over.
#pragma once

#include <QString>
#include <QUrl>
#include <optional>

struct DownloadState {
    QUrl url;                 // the original URL (before redirects)
    QString destination;      // the final file name; the data goes to destination + ".part"
    qint64 expectedSize = -1; // -1 when not known in advance
    QString sha256;           // lower-case hex, empty when not known in advance
    QString group;            // downloads that belong together (parts of a split GGUF)

    // The partial file and the state file for a final path.
    static QString partPath(const QString& destination) { return destination + ".part"; }
    static QString statePath(const QString& destination) { return destination + ".part.json"; }

    // True when a partial file written for `other` can be continued for this download: the
    // same URL, size and hash (a changed expectation means the bytes belong to another file).
    bool sameTarget(const DownloadState& other) const;

    // Writes the state file atomically (QSaveFile). Returns an error message, empty on success.
    QString save() const;
    // Reads the state file of `destination`; nullopt when it is absent or unreadable.
    static std::optional<DownloadState> load(const QString& destination);
    // Reads a state file by its own path (NAME.part.json), as a directory scan finds it.
    static std::optional<DownloadState> loadFile(const QString& stateFile);
    static void remove(const QString& destination);
};
