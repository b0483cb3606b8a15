// The local model list, its fit badges, and the load settings.
#include "model_library.h"

#include "device_probe.h"
#include "hearth/gpu_layers.h"
#include "hearth/memory_plan.h"
#include "hearth/session.h"
#include "model_locator.h"

#include <QDir>
#include <QFileInfo>
#include <QLoggingCategory>
#include <QSettings>
#include <QUrl>
#include <algorithm>

namespace {

Q_LOGGING_CATEGORY(lcModelScan, "hearth.models.scan")

const char* kFoldersKey = "models/folders";
const char* kContextKey = "models/context";
const char* kThreadsKey = "models/threads";
const char* kDeviceKey = "models/device";
const char* kGpuLayersKey = "models/gpuLayers";
const char* kKvTypeKey = "models/kvType";

// The session's own default when no context is chosen (SessionOptions::n_ctx = 0).
constexpr uint32_t kDefaultContextCap = 4096;

QString compactCount(qint64 n) {
    if (n >= 1'000'000'000) {
        return QStringLiteral("%1B").arg(double(n) / 1e9, 0, 'f', 1);
    }
    if (n >= 1'000'000) {
        return QStringLiteral("%1M").arg(qRound(double(n) / 1e6));
    }
    if (n >= 1'000) {
        return QStringLiteral("%1K").arg(qRound(double(n) / 1e3));
    }
    return QString::number(n);
}

QString bytes(double n) {
    return QString::fromStdString(hearth::format_bytes(n));
}

// The GPU layers setting in its canonical spelling ("auto", "all", "18"), or the engine's
// reason for refusing it.
hearth::Result<QString> canonicalGpuLayers(const QString& text) {
    const auto parsed = hearth::parse_gpu_layers(text.trimmed().toStdString());
    if (!parsed) {
        return std::unexpected(parsed.error());
    }
    return QString::fromStdString(hearth::gpu_layers_label(*parsed));
}

} // namespace

void ModelScanner::scan(quint64 generation, const QList<ScanRoot>& roots) {
    if (m_wanted->load() != generation) {
        return; // superseded while it waited in the queue
    }
    const ScanResult result =
        ModelScan::scan(roots, {}, [this, generation] { return m_wanted->load() != generation; });
    for (const QString& reason : result.skipped) {
        qCInfo(lcModelScan, "%s", qPrintable(reason));
    }
    emit scanned(generation, result);
}

ModelLibrary::ModelLibrary(QObject* parent) : QAbstractListModel(parent) {
    qRegisterMetaType<LocalModel>();
    qRegisterMetaType<QList<LocalModel>>();
    qRegisterMetaType<QList<ScanRoot>>();
    qRegisterMetaType<ScanResult>();

    const QSettings settings;
    m_folders = settings.value(QLatin1String(kFoldersKey)).toStringList();
    m_contextLength = std::max(0, settings.value(QLatin1String(kContextKey), 0).toInt());
    m_threads = std::clamp(settings.value(QLatin1String(kThreadsKey), 0).toInt(), 0, maxThreads());
    m_device = settings.value(QLatin1String(kDeviceKey), QStringLiteral("auto")).toString();
    // A hand-edited value ("cuda:7") is not a choice the panel offers: "auto".
    if (m_device != QLatin1String("cpu") && m_device != QLatin1String("gpu")) {
        m_device = QStringLiteral("auto");
    }
    // A hand-edited value the engine does not know reads as F16.
    m_kvType = hearth::parse_kv_cache_type(
                   settings.value(QLatin1String(kKvTypeKey)).toString().toStdString())
                   .value_or(hearth::KvCacheType::f16);
    // A hand-edited or older value the engine refuses falls back to "auto".
    if (const auto saved = canonicalGpuLayers(
            settings.value(QLatin1String(kGpuLayersKey), QStringLiteral("auto")).toString())) {
        m_gpuLayers = *saved;
    }

    // The GPU comes from DeviceProbe, asked off the GUI thread (initialising CUDA can take
    // seconds). Until it answers the badges are for the CPU and a saved "gpu" choice waits.
    const DeviceProbe* probe = DeviceProbe::instance();
    auto takeGpu = [this, probe] {
        m_gpuStatus = probe->status();
        if (!probe->gpus().isEmpty()) {
            const DeviceProbe::Gpu& gpu = probe->gpus().front();
            m_gpuName = gpu.name;
            m_gpuStatus = QStringLiteral("%1, %2").arg(m_gpuName, bytes(double(gpu.totalBytes)));
            m_gpuTotalBytes = gpu.totalBytes;
            m_gpuFreeBytes = gpu.freeBytes;
        }
        if (probe->ready() && m_device == QLatin1String("gpu") && !gpuAvailable()) {
            m_device = QStringLiteral("auto");
        }
    };
    takeGpu();
    connect(probe, &DeviceProbe::devicesChanged, this, [this, takeGpu] {
        takeGpu();
        refreshFits();
        emit settingsChanged();
    });

    m_thread.setObjectName(QStringLiteral("hearth-model-scan"));
    m_wantedScan = std::make_shared<std::atomic<quint64>>(0);
    m_scanner = new ModelScanner(m_wantedScan);
    m_scanner->moveToThread(&m_thread);
    connect(&m_thread, &QThread::finished, m_scanner, &QObject::deleteLater);
    connect(this, &ModelLibrary::scanRequested, m_scanner, &ModelScanner::scan,
            Qt::QueuedConnection);
    connect(m_scanner, &ModelScanner::scanned, this, &ModelLibrary::onScanned,
            Qt::QueuedConnection);
    m_thread.start();
}

ModelLibrary::~ModelLibrary() {
    // A scan in progress stops at its next folder entry; its result is dropped with us.
    m_wantedScan->store(~quint64(0));
    m_thread.quit();
    m_thread.wait();
}

int ModelLibrary::rowCount(const QModelIndex& parent) const {
    return parent.isValid() ? 0 : int(m_models.size());
}

QVariant ModelLibrary::data(const QModelIndex& index, int role) const {
    if (!checkIndex(index, CheckIndexOption::IndexIsValid | CheckIndexOption::ParentIsInvalid)) {
        return {};
    }
    const LocalModel& model = m_models.at(index.row());
    switch (role) {
    case Qt::DisplayRole:
    case NameRole:
        return model.name;
    case PathRole:
        return model.path;
    case SourceRole:
        return model.source;
    case RepoRole:
        return model.repo;
    case ArchitectureRole:
        return model.architecture;
    case QuantizationRole:
        return model.quantization;
    case ParametersRole:
        return model.parameters > 0 ? compactCount(model.parameters) : QString();
    case FileSizeRole:
        return bytes(double(model.fileSize));
    case TrainedContextRole:
        return model.trainedContext;
    case PartsRole:
        return model.parts;
    case ErrorRole:
        return model.error;
    case FitRole:
        return m_fits.value(index.row()).fit;
    case FitDetailRole:
        return m_fits.value(index.row()).detail;
    case LoadedRole:
        return !m_loadedPath.isEmpty() && model.path == m_loadedPath;
    case OriginRole:
        return model.origin;
    case OtherAppRole:
        return model.otherApp;
    case DetailsRole: {
        QStringList parts;
        for (const QString& part :
             {model.architecture, model.quantization,
              model.parameters > 0 ? compactCount(model.parameters) : QString(),
              bytes(double(model.fileSize))}) {
            if (!part.isEmpty()) {
                parts << part;
            }
        }
        if (model.trainedContext > 0) {
            parts << QStringLiteral("context %1").arg(model.trainedContext);
        }
        if (model.parts > 1) {
            parts << QStringLiteral("%1 parts").arg(model.parts);
        }
        return parts.join(QStringLiteral(" · "));
    }
    default:
        return {};
    }
}

QHash<int, QByteArray> ModelLibrary::roleNames() const {
    return {{PathRole, "path"},
            {NameRole, "name"},
            {SourceRole, "source"},
            {RepoRole, "repo"},
            {ArchitectureRole, "architecture"},
            {QuantizationRole, "quantization"},
            {ParametersRole, "parameters"},
            {FileSizeRole, "fileSize"},
            {TrainedContextRole, "trainedContext"},
            {PartsRole, "parts"},
            {ErrorRole, "error"},
            {FitRole, "fit"},
            {FitDetailRole, "fitDetail"},
            {LoadedRole, "loaded"},
            {DetailsRole, "details"},
            {OriginRole, "origin"},
            {OtherAppRole, "otherApp"}};
}

QString ModelLibrary::modelsDirectory() const {
    return ModelLocator::modelsDirectory();
}

QString ModelLibrary::huggingFaceCache() const {
    return ModelScan::huggingFaceCacheDirectory();
}

QStringList ModelLibrary::otherAppFolders() const {
    QStringList folders;
    for (const ScanRoot& root : ModelScan::otherAppRoots()) {
        folders << QStringLiteral("%1: %2").arg(root.source, QDir::toNativeSeparators(root.path));
    }
    return folders;
}

QVariantList ModelLibrary::usableModels() const {
    QVariantList usable;
    for (int row = 0; row < rowCount(); ++row) {
        const QModelIndex at = index(row);
        if (data(at, ErrorRole).toString().isEmpty()) {
            usable.append(QVariantMap{{"path", data(at, PathRole)},
                                      {"name", data(at, NameRole)},
                                      {"origin", data(at, OriginRole)},
                                      {"details", data(at, DetailsRole)}});
        }
    }
    return usable;
}

int ModelLibrary::usableCount() const {
    return int(std::count_if(m_models.cbegin(), m_models.cend(),
                             [](const LocalModel& model) { return model.error.isEmpty(); }));
}

int ModelLibrary::otherAppCount() const {
    return int(std::count_if(m_models.cbegin(), m_models.cend(), [](const LocalModel& model) {
        return model.otherApp && model.error.isEmpty();
    }));
}

QString ModelLibrary::nameOf(const QString& path) const {
    for (const LocalModel& model : m_models) {
        if (model.path == path) {
            return model.name;
        }
    }
    return {};
}

int ModelLibrary::maxThreads() {
    return std::max(1, QThread::idealThreadCount());
}

bool ModelLibrary::usesGpu() const {
    // A Q8_0 cache runs on the CPU: "auto" picks it (hearth::choose_device) and "gpu" falls
    // back to it (the CUDA backend refuses the cache).
    return gpuAvailable() && m_device != QLatin1String("cpu") &&
           m_kvType == hearth::KvCacheType::f16;
}

QString ModelLibrary::kvType() const {
    return QString::fromUtf8(hearth::kv_cache_type_name(m_kvType));
}

QString ModelLibrary::kvTypeNote() const {
    if (m_kvType == hearth::KvCacheType::f16) {
        return {};
    }
    QString note = QStringLiteral("Q8_0 holds the KV cache in about half the memory of F16, "
                                  "with a small loss of precision.");
    if (gpuAvailable() && m_device != QLatin1String("cpu")) {
        note += QStringLiteral(" The model runs on the CPU: the GPU keeps an F16 cache only.");
    }
    return note;
}

void ModelLibrary::setKvType(const QString& kvType) {
    const auto parsed = hearth::parse_kv_cache_type(kvType.trimmed().toStdString());
    if (!parsed || *parsed == m_kvType) {
        return;
    }
    m_kvType = *parsed;
    saveSettings();
    refreshFits();
    emit settingsChanged();
}

QString ModelLibrary::effectiveDevice() const {
    return usesGpu() ? m_gpuName : QStringLiteral("CPU");
}

void ModelLibrary::setContextLength(int tokens) {
    tokens = std::clamp(tokens, 0, 1 << 20);
    if (tokens != m_contextLength) {
        m_contextLength = tokens;
        saveSettings();
        refreshFits();
        emit settingsChanged();
    }
}

void ModelLibrary::setThreads(int threads) {
    threads = std::clamp(threads, 0, maxThreads());
    if (threads != m_threads) {
        m_threads = threads;
        saveSettings();
        emit settingsChanged();
    }
}

void ModelLibrary::setDevice(const QString& device) {
    const bool known = device == QLatin1String("auto") || device == QLatin1String("cpu") ||
                       (device == QLatin1String("gpu") && gpuAvailable());
    if (!known || device == m_device) {
        return;
    }
    m_device = device;
    saveSettings();
    refreshFits();
    emit settingsChanged();
}

void ModelLibrary::setGpuLayers(const QString& gpuLayers) {
    const auto canonical = canonicalGpuLayers(gpuLayers);
    if (!canonical) {
        m_gpuLayersError = QString::fromStdString(canonical.error().message);
        emit settingsChanged(); // also puts the old value back into an edited field
        return;
    }
    if (*canonical == m_gpuLayers && m_gpuLayersError.isEmpty()) {
        return;
    }
    m_gpuLayers = *canonical;
    m_gpuLayersError.clear();
    saveSettings();
    refreshFits();
    emit settingsChanged();
}

int ModelLibrary::layerCount() const {
    uint32_t most = 0;
    for (const LocalModel& model : m_models) {
        if (!model.info) {
            continue;
        }
        if (!m_loadedPath.isEmpty() && model.path == m_loadedPath) {
            return int(model.info->n_layer);
        }
        most = std::max(most, model.info->n_layer);
    }
    return int(most);
}

QStringList ModelLibrary::gpuLayerChoices() const {
    QStringList choices{QStringLiteral("auto"), QStringLiteral("all")};
    for (int layers = 1; layers <= layerCount(); ++layers) {
        choices << QString::number(layers);
    }
    return choices;
}

void ModelLibrary::setLoadedPath(const QString& path) {
    if (path == m_loadedPath) {
        return;
    }
    m_loadedPath = path;
    emit loadedPathChanged();
    emit layerCountChanged();
    if (!m_models.isEmpty()) {
        emit dataChanged(index(0), index(int(m_models.size()) - 1), {LoadedRole});
    }
}

void ModelLibrary::saveSettings() {
    QSettings settings;
    settings.setValue(QLatin1String(kFoldersKey), m_folders);
    settings.setValue(QLatin1String(kContextKey), m_contextLength);
    settings.setValue(QLatin1String(kThreadsKey), m_threads);
    settings.setValue(QLatin1String(kDeviceKey), m_device);
    settings.setValue(QLatin1String(kGpuLayersKey), m_gpuLayers);
    settings.setValue(QLatin1String(kKvTypeKey), kvType());
}

QList<ScanRoot> ModelLibrary::roots() const {
    QList<ScanRoot> roots{{modelsDirectory(), QStringLiteral("Hearth")}};
    roots << ModelScan::otherAppRoots();
    for (const QString& folder : m_folders) {
        roots.append({folder, QStringLiteral("Folder")});
    }
    return roots;
}

void ModelLibrary::rescan() {
    const bool wasScanning = scanning();
    m_pendingScan += 1;
    m_wantedScan->store(m_pendingScan);
    if (!wasScanning) {
        emit scanningChanged();
    }
    emit scanRequested(m_pendingScan, roots());
}

void ModelLibrary::onScanned(quint64 generation, const ScanResult& result) {
    if (generation != m_pendingScan) {
        return; // a later scan is on its way
    }
    beginResetModel();
    m_models = result.models;
    m_skipped = result.skipped;
    m_fits.clear();
    for (const LocalModel& model : m_models) {
        m_fits.append(model.info ? assessFit(*model.info) : FitResult{});
    }
    endResetModel();
    m_appliedScan = generation;
    emit countChanged();
    emit layerCountChanged();
    emit scanningChanged();
    emit scanFinished();
}

bool ModelLibrary::addFolder(const QString& pathOrUrl) {
    const QUrl url(pathOrUrl);
    const QString path =
        QDir::cleanPath(url.isLocalFile() ? url.toLocalFile() : pathOrUrl.trimmed());
    if (path.isEmpty() || !QFileInfo(path).isDir()) {
        m_folderError = QStringLiteral("%1 is not a folder").arg(path);
        return false;
    }
    if (m_folders.contains(path)) {
        m_folderError = QStringLiteral("%1 is already listed").arg(path);
        return false;
    }
    m_folderError.clear();
    m_folders.append(path);
    saveSettings();
    emit foldersChanged();
    rescan();
    return true;
}

void ModelLibrary::removeFolder(const QString& path) {
    if (m_folders.removeAll(path) > 0) {
        saveSettings();
        emit foldersChanged();
        rescan();
    }
}

ModelLibrary::FitResult ModelLibrary::assessFit(const hearth::ModelInfo& info) const {
    FitTarget target;
    target.nCtx = uint32_t(m_contextLength);
    if (target.nCtx == 0) {
        target.nCtx = info.n_ctx_train > 0 ? std::min(info.n_ctx_train, kDefaultContextCap)
                                           : kDefaultContextCap;
    }
    target.kvType = m_kvType;
    target.gpu = usesGpu();
    target.gpuName = m_gpuName;
    target.gpuFreeBytes = m_gpuFreeBytes;
    target.gpuLayers =
        hearth::parse_gpu_layers(m_gpuLayers.toStdString()).value_or(hearth::kAutoGpuLayers);
    if (m_memoryBudget > 0) {
        target.hostAvailableBytes = uint64_t(m_memoryBudget);
        target.hostIsBudget = true;
    } else if (const auto host = hearth::read_host_memory()) {
        target.hostAvailableBytes = host->available_bytes;
    }
    return ::assessFit(info, target);
}

void ModelLibrary::setMemoryBudget(qint64 bytes) {
    bytes = std::max<qint64>(bytes, 0);
    if (bytes != m_memoryBudget) {
        m_memoryBudget = bytes;
        refreshFits();
    }
}

void ModelLibrary::refreshFits() {
    for (qsizetype row = 0; row < m_models.size(); ++row) {
        const LocalModel& model = m_models.at(row);
        m_fits[row] = model.info ? assessFit(*model.info) : FitResult{};
    }
    if (!m_models.isEmpty()) {
        emit dataChanged(index(0), index(int(m_models.size()) - 1), {FitRole, FitDetailRole});
    }
}
