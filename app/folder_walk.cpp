// The bounded, loop-safe folder walk of the model scan, and the regular-file checks.
#include "folder_walk.h"

#include <QDir>
#include <QDirIterator>
#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <utility>

namespace {

QString fileKind(mode_t mode) {
    if (S_ISFIFO(mode)) {
        return QStringLiteral("a FIFO");
    }
    if (S_ISCHR(mode) || S_ISBLK(mode)) {
        return QStringLiteral("a device");
    }
    if (S_ISSOCK(mode)) {
        return QStringLiteral("a socket");
    }
    if (S_ISDIR(mode)) {
        return QStringLiteral("a folder");
    }
    return QStringLiteral("not a plain file");
}

// An open descriptor of a regular file, or -1 with `problem` set. The path is looked at
// (stat) before it is opened, so that a FIFO or a device is never opened at all; the
// descriptor is checked again after, in case the file was swapped in between.
int openRegular(const QString& path, QString* problem) {
    const QByteArray native = QFile::encodeName(path);
    struct stat before {};
    if (::stat(native.constData(), &before) != 0) {
        *problem = QStringLiteral("cannot read: %1").arg(QString::fromLocal8Bit(strerror(errno)));
        return -1;
    }
    if (!S_ISREG(before.st_mode)) {
        *problem = QStringLiteral("not a regular file (%1)").arg(fileKind(before.st_mode));
        return -1;
    }
    const int fd = ::open(native.constData(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) {
        *problem = QStringLiteral("cannot open: %1").arg(QString::fromLocal8Bit(strerror(errno)));
        return -1;
    }
    struct stat after {};
    if (::fstat(fd, &after) != 0 || !S_ISREG(after.st_mode)) {
        ::close(fd);
        *problem = QStringLiteral("not a regular file");
        return -1;
    }
    return fd;
}

// Reads up to `count` bytes at the start of `fd`; fewer at the end of the file.
QByteArray readPrefix(int fd, qint64 count) {
    QByteArray bytes(count, Qt::Uninitialized);
    qint64 done = 0;
    while (done < count) {
        const ssize_t got = ::read(fd, bytes.data() + done, size_t(count - done));
        if (got < 0 && errno == EINTR) {
            continue;
        }
        if (got <= 0) {
            break;
        }
        done += got;
    }
    bytes.truncate(done);
    return bytes;
}

} // namespace

FolderWalk::FolderWalk(const ScanLimits& limits, std::function<bool()> stop)
    : m_limits(limits), m_stop(std::move(stop)) {}

void FolderWalk::startRoot(const QString& root) {
    m_root = root;
    m_entries = 0;
    m_stopped = false;
}

void FolderWalk::note(const QString& path, const QString& reason) {
    if (m_notes.size() < m_limits.maxNotes) {
        m_notes << QStringLiteral("%1: %2").arg(path, reason);
    } else {
        ++m_notesLeftOut;
    }
}

QStringList FolderWalk::notes() const {
    QStringList all = m_notes;
    if (m_notesLeftOut > 0) {
        all << QStringLiteral("(%1 more skipped entries not listed)").arg(m_notesLeftOut);
    }
    return all;
}

bool FolderWalk::takeEntry() {
    if (m_stopped) {
        return false;
    }
    if (stopRequested()) {
        m_stopped = true;
        return false;
    }
    if (++m_entries > m_limits.maxEntries) {
        note(m_root, QStringLiteral("stopped after %1 entries (the limit for one folder)")
                         .arg(m_limits.maxEntries));
        m_stopped = true;
        return false;
    }
    return true;
}

bool FolderWalk::walk(const QString& dir, int maxDepth, const Visit& visit, const Enter& enter) {
    struct Pending {
        QString path;
        QStringList segments;
    };
    std::vector<Pending> stack{{dir, {}}};
    while (!stack.empty() && !m_stopped) {
        Pending folder = std::move(stack.back());
        stack.pop_back();
        const QString canonical = QFileInfo(folder.path).canonicalFilePath();
        if (canonical.isEmpty() || m_entered.contains(canonical)) {
            continue; // gone, or entered already: through a link, a loop or another root
        }
        m_entered.insert(canonical);

        // No sorting flag: QDir would read the whole folder first. The budget bounds it.
        QList<QFileInfo> entries;
        QDirIterator it(folder.path, QDir::AllEntries | QDir::System | QDir::NoDotAndDotDot);
        while (it.hasNext() && takeEntry()) {
            it.next();
            entries.append(it.fileInfo());
        }
        std::sort(entries.begin(), entries.end(), [](const QFileInfo& a, const QFileInfo& b) {
            return QString::compare(a.fileName(), b.fileName(), Qt::CaseInsensitive) < 0;
        });
        // Folders go on the stack in reverse, so that they are entered in name order.
        std::vector<Pending> subfolders;
        for (const QFileInfo& entry : entries) {
            QStringList segments = folder.segments;
            segments << entry.fileName();
            if (!entry.isDir()) {
                visit(entry, segments);
                continue;
            }
            if (enter && !enter(segments)) {
                continue;
            }
            if (segments.size() > maxDepth) {
                note(entry.filePath(),
                     QStringLiteral("not searched: deeper than %1 folders").arg(maxDepth));
                continue;
            }
            subfolders.push_back({entry.filePath(), std::move(segments)});
        }
        std::move(subfolders.rbegin(), subfolders.rend(), std::back_inserter(stack));
    }
    return !m_stopped;
}

namespace FileCheck {

QString regularFileProblem(const QString& path) {
    QString problem;
    const int fd = openRegular(path, &problem);
    if (fd >= 0) {
        ::close(fd);
    }
    return problem;
}

bool isGgufFile(const QString& path, QString* problem) {
    QString why;
    const int fd = openRegular(path, &why);
    if (fd >= 0) {
        const QByteArray magic = readPrefix(fd, 4);
        ::close(fd);
        if (magic != "GGUF") {
            why = QStringLiteral("not a GGUF file (no GGUF magic)");
        }
    }
    if (problem) {
        *problem = why;
    }
    return why.isEmpty();
}

QByteArray readSmallFile(const QString& path, qint64 maxBytes, QString* problem) {
    const int fd = openRegular(path, problem);
    if (fd < 0) {
        return {};
    }
    struct stat info {};
    ::fstat(fd, &info);
    if (info.st_size > maxBytes) {
        ::close(fd);
        *problem = QStringLiteral("larger than %1 bytes").arg(maxBytes);
        return {};
    }
    // One byte more than it had: a file that grew past the limit since fstat is still caught.
    QByteArray bytes = readPrefix(fd, std::min<qint64>(info.st_size, maxBytes) + 1);
    ::close(fd);
    if (bytes.size() > maxBytes) {
        *problem = QStringLiteral("larger than %1 bytes").arg(maxBytes);
        return {};
    }
    return bytes;
}

} // namespace FileCheck
