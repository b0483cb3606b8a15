// Resume state of one download, persisted next to its partial file (NAME.part.json), so that
// a download interrupted by a dropped connection, a pause or an app restart continues with
// an HTTP Range request instead of starting over.
//
// A state file is read as outside input (the models directory is the user's, and may hold
// files from anywhere): only a regular file of at most kMaxStateFileBytes, and the download's
// destination comes from the state file's own name, never from what the file says.
#pragma once

#include <QString>
#include <QUrl>
#include <expected>
#include <optional>

struct DownloadState {
    QUrl url;                 // the original URL (before redirects)
    QString destination;      // the final file name; the data goes to destination + ".part"
    qint64 expectedSize = -1; // -1 when not known in advance
    QString sha256;           // lower-case hex, empty when not known in advance
    QString group;            // downloads that belong together (parts of a split GGUF)

    // docs/LIMITS.md, "Downloads and Hugging Face".
    static constexpr size_t kMaxStateFileBytes = 64 * 1024; // one is a few hundred bytes
    // NAME.part.json must fit the file system's 255 bytes for a name.
    static constexpr qsizetype kMaxFileNameBytes = 255 - 10;

    // Where a download of `url` goes in `directory`: the last segment of the URL's path, which
    // the server or a link chose, refused when it cannot be a plain file name there (empty,
    // "." or "..", a slash or backslash, a control character, more than kMaxFileNameBytes
    // bytes of UTF-8). The message names the URL and the reason.
    static std::expected<QString, QString> destinationIn(const QString& directory, const QUrl& url);

    // The partial file and the state file for a final path.
    static QString partPath(const QString& destination) { return destination + ".part"; }
    static QString statePath(const QString& destination) { return destination + ".part.json"; }

    // True when a partial file written for `other` can be continued for this download: the
    // same URL, size and hash (a changed expectation means the bytes belong to another file).
    bool sameTarget(const DownloadState& other) const;

    // Writes the state file atomically (QSaveFile). Returns an error message, empty on success.
    QString save() const;
    // Reads the state file of `destination`; nullopt when it is absent, not a regular file,
    // larger than kMaxStateFileBytes, not such a state, or names a URL that is not http(s).
    static std::optional<DownloadState> load(const QString& destination);
    // Reads a state file by its own path (NAME.part.json), as a directory scan finds it; the
    // destination is NAME in the same directory.
    static std::optional<DownloadState> loadFile(const QString& stateFile);
    static void remove(const QString& destination);
};
