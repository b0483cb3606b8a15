// Local model discovery: bounded folder walks and GGUF header reads, off the GUI thread.
#include "model_scan.h"

#include "hearth/gguf.h"
#include "ollama_models.h"

#include <QDir>
#include <QFileInfo>
#include <QRegularExpression>
#include <QSet>
#include <QStandardPaths>
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

bool isGgufName(const QString& fileName) {
    return fileName.endsWith(QLatin1String(".gguf"), Qt::CaseInsensitive);
}

// A vision projector (LM Studio and Hugging Face repositories put "mmproj-*.gguf" beside the
// model): a GGUF file, but not a model one can chat with.
bool isProjector(const QString& fileName) {
    return fileName.startsWith(QLatin1String("mmproj"), Qt::CaseInsensitive);
}

struct Candidate {
    QString path;
    QString repo; // Hugging Face repository, for the hub cache's files
};

// The .gguf files below a Folder or HuggingFaceCache root. In the hub cache only
// models--*/snapshots is entered: blobs/ holds the same files under hashes.
QList<Candidate> candidateFiles(const ScanRoot& root, FolderWalk& walk) {
    QList<Candidate> files;
    const bool hub = root.layout == ScanRoot::Layout::HuggingFaceCache;
    auto enter = [hub](const QStringList& segments) {
        return !hub ||
               (segments.size() == 1 && segments[0].startsWith(QLatin1String("models--"))) ||
               (segments.size() == 2 && segments[1] == QLatin1String("snapshots")) ||
               segments.size() > 2;
    };
    walk.walk(
        root.path, walk.limits().maxDepth,
        [&](const QFileInfo& entry, const QStringList& segments) {
            if (!isGgufName(entry.fileName()) || (hub && segments.size() < 4)) {
                return;
            }
            if (isProjector(entry.fileName())) {
                walk.note(entry.filePath(), QStringLiteral("skipped: a vision projector"));
                return;
            }
            // "models--org--name" -> "org/name"
            const QString repo =
                hub ? segments[0].mid(8).replace(QLatin1String("--"), QLatin1String("/"))
                    : QString();
            files.append({entry.filePath(), repo});
        },
        enter);
    std::sort(files.begin(), files.end(), [](const Candidate& a, const Candidate& b) {
        return QString::compare(a.path, b.path, Qt::CaseInsensitive) < 0;
    });
    return files;
}

QString originOf(const ScanRoot& root, const QString& repo) {
    if (root.source == QLatin1String("Hearth")) {
        return QStringLiteral("in Hearth's models folder");
    }
    if (root.layout == ScanRoot::Layout::HuggingFaceCache) {
        return repo.isEmpty() ? QStringLiteral("from the Hugging Face cache")
                              : QStringLiteral("from the Hugging Face cache: %1").arg(repo);
    }
    return root.otherApp ? QStringLiteral("from %1").arg(root.source)
                         : QStringLiteral("in %1").arg(QDir::toNativeSeparators(root.path));
}

// Lists the models of one scan: each file once, and no more header reads than the limit.
class Collector {
public:
    Collector(FolderWalk& walk, QList<LocalModel>& models) : m_walk(walk), m_models(models) {}

    bool full() const { return m_full; }

    // Adds the model at `path` (read from its header) unless it is listed already. Returns
    // the new row, or nullptr.
    LocalModel* add(const QString& path, const ScanRoot& root, const QString& repo) {
        const QFileInfo file(path);
        // A dangling symlink (a blob deleted by hand) has no canonical path.
        const QString canonical = file.canonicalFilePath();
        const QString key = canonical.isEmpty() ? file.absoluteFilePath() : canonical;
        if (m_seen.contains(key)) {
            return nullptr;
        }
        LocalModel model;
        if (canonical.isEmpty()) {
            model.path = path;
            model.name = stripGguf(file.fileName());
            model.source = root.source;
            model.error = QStringLiteral("broken link: the file it points to is gone");
        } else if (const QString problem = FileCheck::regularFileProblem(path);
                   !problem.isEmpty()) {
            m_walk.note(path, QStringLiteral("skipped: ") + problem);
            return nullptr;
        } else if (++m_headers > m_walk.limits().maxModels) {
            m_walk.note(path, QStringLiteral("not read: the scan stops after %1 model files")
                                  .arg(m_walk.limits().maxModels));
            m_full = true;
            return nullptr;
        } else {
            model = ModelScan::inspect(path, root.source);
        }
        m_seen.insert(key);
        model.repo = repo;
        model.otherApp = root.otherApp;
        model.origin = originOf(root, repo);
        m_models.append(std::move(model));
        return &m_models.last();
    }

private:
    FolderWalk& m_walk;
    QList<LocalModel>& m_models;
    QSet<QString> m_seen; // canonical paths: a blob, or a file reached through two roots
    int m_headers = 0;
    bool m_full = false;
};

void scanRoot(const ScanRoot& root, FolderWalk& walk, Collector& collector) {
    if (root.layout == ScanRoot::Layout::Ollama) {
        for (const OllamaModels::Blob& blob : OllamaModels::find(root.path, walk)) {
            if (collector.full() || walk.stopRequested()) {
                return;
            }
            if (LocalModel* model = collector.add(blob.path, root, {})) {
                model->name = blob.names.first();
                model->origin = QStringLiteral("from Ollama: %1").arg(blob.names.join(", "));
            }
        }
        return;
    }
    for (const Candidate& candidate : candidateFiles(root, walk)) {
        if (collector.full() || walk.stopRequested()) {
            return;
        }
        const QFileInfo file(candidate.path);
        if (const auto split = ModelScan::splitPart(file.fileName()); split && split->index != 1) {
            continue; // shown with its first part
        }
        collector.add(candidate.path, root, candidate.repo);
    }
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
    const QString cache = qEnvironmentVariable("XDG_CACHE_HOME");
    return (cache.isEmpty() ? QDir::homePath() + QLatin1String("/.cache") : cache) +
           QLatin1String("/huggingface/hub");
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
            // Never opened unless it is a plain file: a FIFO would block the scan for good.
            if (const QString problem = FileCheck::regularFileProblem(other); !problem.isEmpty()) {
                model.error = QStringLiteral("part %1 of %2 (%3): %4")
                                  .arg(index)
                                  .arg(split->count)
                                  .arg(QFileInfo(other).fileName(), problem);
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

QList<ScanRoot> otherAppRoots() {
    using Layout = ScanRoot::Layout;
    const QString home = QDir::homePath();
    QList<ScanRoot> roots{
        {huggingFaceCacheDirectory(), QStringLiteral("Hugging Face"), Layout::HuggingFaceCache,
         true},
        {home + QLatin1String("/.lmstudio/models"), QStringLiteral("LM Studio"), Layout::Folder,
         true},
        {home + QLatin1String("/.cache/lm-studio/models"), QStringLiteral("LM Studio"),
         Layout::Folder, true},
        {QStandardPaths::writableLocation(QStandardPaths::GenericDataLocation) +
             QLatin1String("/nomic.ai/GPT4All"),
         QStringLiteral("GPT4All"), Layout::Folder, true},
        {OllamaModels::modelsDirectory(), QStringLiteral("Ollama"), Layout::Ollama, true}};
    // Ollama's own rule: OLLAMA_MODELS replaces every default.
    if (qEnvironmentVariableIsEmpty("OLLAMA_MODELS")) {
        roots.append({QLatin1String(OllamaModels::kServiceModelsDirectory),
                      QStringLiteral("Ollama"), Layout::Ollama, true});
    }
    return roots;
}

ScanResult scan(const QList<ScanRoot>& roots, const ScanLimits& limits,
                const std::function<bool()>& stop) {
    ScanResult result;
    FolderWalk walk(limits, stop);
    Collector collector(walk, result.models);
    for (const ScanRoot& root : roots) {
        if (collector.full() || walk.stopRequested()) {
            break;
        }
        if (root.path.isEmpty() || !QFileInfo(root.path).isDir()) {
            continue;
        }
        walk.startRoot(root.path);
        scanRoot(root, walk, collector);
    }
    result.skipped = walk.notes();
    return result;
}

} // namespace ModelScan
