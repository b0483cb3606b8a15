// Local model discovery: directory walks and GGUF header reads, off the GUI thread.
#include "model_scan.h"

#include "hearth/gguf.h"

#include <QDir>
#include <QDirIterator>
#include <QFileInfo>
#include <QRegularExpression>
#include <QSet>
#include <algorithm>

namespace {

QString qstr(const std::string& text) {
    return QString::fromStdString(text);
}

QString stripGguf(const QString& fileName) {
    return fileName.endsWith(QLatin1String(".gguf"), Qt::CaseInsensitive) ? fileName.chopped(5)
                                                                          : fileName;
}

QString partPath(const QString& directory, const ModelScan::SplitPart& split, int index) {
    return QStringLiteral("%1/%2-%3-of-%4.gguf")
        .arg(directory, split.stem)
        .arg(index, 5, 10, QLatin1Char('0'))
        .arg(split.count, 5, 10, QLatin1Char('0'));
}

// The .gguf files below `directory`, as (path, Hugging Face repository) pairs. In the hub
// cache only snapshots are looked at: blobs/ holds the same files under hashes.
QList<QPair<QString, QString>> candidateFiles(const ScanRoot& root) {
    QList<QPair<QString, QString>> files;
    // System: a symlink whose target is gone is listed only with it.
    const QDir::Filters kinds = QDir::Files | QDir::System;
    const QStringList filters{QStringLiteral("*.gguf"), QStringLiteral("*.GGUF")};
    if (!root.huggingFaceCache) {
        QDirIterator it(root.path, filters, kinds, QDirIterator::Subdirectories);
        while (it.hasNext()) {
            files.append({it.next(), QString()});
        }
        return files;
    }
    const QDir hub(root.path);
    for (const QString& repoDir :
         hub.entryList({QStringLiteral("models--*")}, QDir::Dirs | QDir::NoDotAndDotDot)) {
        // "models--org--name" -> "org/name"
        const QString repo = repoDir.mid(8).replace(QLatin1String("--"), QLatin1String("/"));
        QDirIterator it(hub.filePath(repoDir + QLatin1String("/snapshots")), filters, kinds,
                        QDirIterator::Subdirectories);
        while (it.hasNext()) {
            files.append({it.next(), repo});
        }
    }
    return files;
}

} // namespace

namespace ModelScan {

QString huggingFaceCacheDirectory() {
    const QString hubCache = qEnvironmentVariable("HF_HUB_CACHE");
    if (!hubCache.isEmpty()) {
        return hubCache;
    }
    const QString home = qEnvironmentVariable("HF_HOME");
    if (!home.isEmpty()) {
        return home + QLatin1String("/hub");
    }
    return QDir::homePath() + QLatin1String("/.cache/huggingface/hub");
}

std::optional<SplitPart> splitPart(const QString& fileName) {
    static const QRegularExpression pattern(QStringLiteral("^(.+)-(\\d{5})-of-(\\d{5})\\.gguf$"),
                                            QRegularExpression::CaseInsensitiveOption);
    const QRegularExpressionMatch match = pattern.match(fileName);
    if (!match.hasMatch()) {
        return std::nullopt;
    }
    SplitPart part{match.captured(1), match.captured(2).toInt(), match.captured(3).toInt()};
    if (part.index < 1 || part.count < 1 || part.index > part.count) {
        return std::nullopt;
    }
    return part;
}

LocalModel inspect(const QString& path, const QString& source) {
    LocalModel model;
    const QFileInfo file(path);
    model.path = path;
    model.source = source;
    model.name = stripGguf(file.fileName());
    model.fileSize = file.size();

    QStringList otherParts;
    if (const auto split = splitPart(file.fileName()); split && split->count > 1) {
        model.name = split->stem;
        model.parts = split->count;
        for (int index = 2; index <= split->count; ++index) {
            const QString other = partPath(file.absolutePath(), *split, index);
            if (!QFileInfo::exists(other)) {
                model.error = QStringLiteral("part %1 of %2 is missing (%3)")
                                  .arg(index)
                                  .arg(split->count)
                                  .arg(QFileInfo(other).fileName());
                return model;
            }
            otherParts << other;
            model.fileSize += QFileInfo(other).size();
        }
    }

    auto gguf = hearth::GgufFile::open(path.toStdString());
    if (!gguf) {
        model.error = qstr(gguf.error().message);
        return model;
    }
    auto info = hearth::read_model_info(gguf->header(), gguf->file_size());
    if (!info) {
        model.error = qstr(info.error().message);
        return model;
    }
    // The weights of a split model are spread over its parts. GgufFile has already merged
    // the parts of a real split (split.count in its metadata); files only named like parts
    // are counted here.
    if (gguf->parts().size() > 1) {
        otherParts.clear();
    }
    for (const QString& other : otherParts) {
        auto part = hearth::GgufFile::open(other.toStdString());
        if (!part) {
            model.error = QStringLiteral("%1: %2").arg(QFileInfo(other).fileName(),
                                                       qstr(part.error().message));
            return model;
        }
        for (const hearth::GgufTensorInfo& tensor : part->tensors()) {
            info->n_params += tensor.n_elements;
            info->weights_bytes += tensor.n_bytes;
        }
    }
    info->file_size = uint64_t(model.fileSize);

    model.architecture = qstr(info->architecture);
    model.quantization = qstr(info->file_type);
    if (model.quantization.isEmpty() && !info->quant_mix.empty()) {
        model.quantization = qstr(std::string(hearth::tensor_type_name(info->quant_mix[0].type)));
    }
    model.parameters = qint64(info->n_params);
    model.trainedContext = int(info->n_ctx_train);
    model.info = std::move(*info);
    return model;
}

QList<LocalModel> scan(const QList<ScanRoot>& roots) {
    QList<LocalModel> models;
    QSet<QString> seen; // canonical paths: a blob, or a file reached through two roots
    for (const ScanRoot& root : roots) {
        if (root.path.isEmpty() || !QFileInfo(root.path).isDir()) {
            continue;
        }
        QList<QPair<QString, QString>> files = candidateFiles(root);
        std::sort(files.begin(), files.end(), [](const auto& a, const auto& b) {
            return QString::compare(a.first, b.first, Qt::CaseInsensitive) < 0;
        });
        for (const auto& [path, repo] : files) {
            const QFileInfo file(path);
            if (!file.isFile() && !file.isSymLink()) {
                continue; // a FIFO or a device named *.gguf
            }
            if (const auto split = splitPart(file.fileName()); split && split->index != 1) {
                continue; // shown with its first part
            }
            // A dangling symlink (a blob deleted by hand) has no canonical path.
            const QString canonical = file.canonicalFilePath();
            const QString key = canonical.isEmpty() ? file.absoluteFilePath() : canonical;
            if (seen.contains(key)) {
                continue;
            }
            seen.insert(key);
            LocalModel model;
            if (canonical.isEmpty()) {
                model.path = path;
                model.name = stripGguf(file.fileName());
                model.source = root.source;
                model.error = QStringLiteral("broken link: the file it points to is gone");
            } else {
                model = inspect(path, root.source);
            }
            model.repo = repo;
            models.append(std::move(model));
        }
    }
    return models;
}

} // namespace ModelScan
