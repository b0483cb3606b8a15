// The Models panel's list: the local GGUF models (ModelScan: Hearth's folder, the folders
// the user adds, and what other apps downloaded) with what each one is, where it came from,
// and whether it fits this machine at the chosen context and device (the engine's
// MemoryPlan), and the load settings the worker uses: device, GPU layers, context length,
// threads. The folders the user adds and the load settings persist in QSettings (models/*).
//
// GUI thread only. Scanning runs on the library's own thread: rescan() posts the roots
// there and the result comes back by a queued signal; only this thread touches the rows. A
// newer rescan, or the library's end, stops a scan under way between two folder entries.
#pragma once

#include "fit_badge.h"
#include "hearth/memory_plan.h"
#include "model_scan.h"

#include <QAbstractListModel>
#include <QStringList>
#include <QThread>
#include <QtQml/qqmlregistration.h>
#include <atomic>
#include <cstdint>
#include <memory>

class ModelScanner;

class ModelLibrary : public QAbstractListModel {
    Q_OBJECT
    QML_ELEMENT
    QML_UNCREATABLE("ModelLibrary belongs to ChatController")
    Q_PROPERTY(int count READ rowCount NOTIFY countChanged)
    Q_PROPERTY(bool scanning READ scanning NOTIFY scanningChanged)
    Q_PROPERTY(QStringList folders READ folders NOTIFY foldersChanged)
    Q_PROPERTY(QString modelsDirectory READ modelsDirectory CONSTANT)
    Q_PROPERTY(QString huggingFaceCache READ huggingFaceCache CONSTANT)
    // The other apps' folders searched: "LM Studio: /home/me/.lmstudio/models", ...
    Q_PROPERTY(QStringList otherAppFolders READ otherAppFolders CONSTANT)
    // The rows that can be loaded (no error), as {path, name, origin, details} maps for the
    // empty state, and how many of them other apps downloaded.
    Q_PROPERTY(QVariantList usableModels READ usableModels NOTIFY countChanged)
    Q_PROPERTY(int usableCount READ usableCount NOTIFY countChanged)
    Q_PROPERTY(int otherAppCount READ otherAppCount NOTIFY countChanged)
    // 0: the model's trained context, capped at 4096 (the session's default).
    Q_PROPERTY(int contextLength READ contextLength WRITE setContextLength NOTIFY settingsChanged)
    // 0: the machine's physical cores.
    Q_PROPERTY(int threads READ threads WRITE setThreads NOTIFY settingsChanged)
    Q_PROPERTY(int maxThreads READ maxThreads CONSTANT)
    // "auto", "cpu" or "gpu".
    Q_PROPERTY(QString device READ device WRITE setDevice NOTIFY settingsChanged)
    // How many layers run on the GPU (hearth/gpu_layers.h): "auto" (all when they fit, else
    // the most that fit), "all" or a count. A value parse_gpu_layers refuses is not taken:
    // the old one stays and gpuLayersError says why.
    Q_PROPERTY(QString gpuLayers READ gpuLayers WRITE setGpuLayers NOTIFY settingsChanged)
    Q_PROPERTY(QString gpuLayersError READ gpuLayersError NOTIFY settingsChanged)
    // The KV cache's type (hearth::parse_kv_cache_type): "f16", or "q8_0" (about half the
    // memory, on the CPU only: the CUDA backend keeps an F16 cache). kvTypeNote says what the
    // choice means here ("" when nothing needs saying).
    Q_PROPERTY(QString kvType READ kvType WRITE setKvType NOTIFY settingsChanged)
    Q_PROPERTY(QString kvTypeNote READ kvTypeNote NOTIFY settingsChanged)
    // The loaded model's layers, else the most any listed model has; 0 when none is known.
    Q_PROPERTY(int layerCount READ layerCount NOTIFY layerCountChanged)
    // What the GPU layers choice lists: "auto", "all", then "1" to layerCount.
    Q_PROPERTY(QStringList gpuLayerChoices READ gpuLayerChoices NOTIFY layerCountChanged)
    // Known once DeviceProbe has answered, shortly after start.
    Q_PROPERTY(bool gpuAvailable READ gpuAvailable NOTIFY settingsChanged)
    // The GPU's name, or why there is none ("built without CUDA", "no CUDA device: ...").
    Q_PROPERTY(QString gpuStatus READ gpuStatus NOTIFY settingsChanged)
    // What "auto" and the fit badges resolve to: "CPU" or the GPU's name.
    Q_PROPERTY(QString effectiveDevice READ effectiveDevice NOTIFY settingsChanged)
    Q_PROPERTY(QString loadedPath READ loadedPath WRITE setLoadedPath NOTIFY loadedPathChanged)

public:
    enum Role {
        PathRole = Qt::UserRole + 1,
        NameRole,
        SourceRole,
        RepoRole,
        ArchitectureRole,
        QuantizationRole,
        ParametersRole, // "135M"
        FileSizeRole,   // "86.0 MiB"
        TrainedContextRole,
        PartsRole,
        ErrorRole,
        FitRole,       // "fits", "tight", "partial", "will not fit"; "" when unknown
        FitDetailRole, // "needs 120 MiB of 12.1 GiB available"
        LoadedRole,
        DetailsRole, // "llama · Q4_1 · 135M · 86.0 MiB · context 8192 · 2 parts"
        OriginRole,  // "from LM Studio", "from Ollama: llama3.2:3b"
        OtherAppRole
    };
    Q_ENUM(Role)

    explicit ModelLibrary(QObject* parent = nullptr);
    ~ModelLibrary() override;

    int rowCount(const QModelIndex& parent = {}) const override;
    QVariant data(const QModelIndex& index, int role) const override;
    QHash<int, QByteArray> roleNames() const override;

    const QList<LocalModel>& models() const { return m_models; }
    bool scanning() const { return m_pendingScan != m_appliedScan; }
    QStringList folders() const { return m_folders; }
    QString modelsDirectory() const;
    QString huggingFaceCache() const;
    QStringList otherAppFolders() const;
    QVariantList usableModels() const;
    int usableCount() const;
    int otherAppCount() const;
    // What the last scan skipped, and why ("PATH: reason"); also in the log.
    QStringList skipped() const { return m_skipped; }
    // The listed name of the model at `path` ("llama3.2:3b" for an Ollama blob); empty when
    // it is not listed.
    QString nameOf(const QString& path) const;
    int contextLength() const { return m_contextLength; }
    int threads() const { return m_threads; }
    static int maxThreads();
    QString device() const { return m_device; }
    QString gpuLayers() const { return m_gpuLayers; }
    QString gpuLayersError() const { return m_gpuLayersError; }
    QString kvType() const;
    hearth::KvCacheType kvCacheType() const { return m_kvType; }
    QString kvTypeNote() const;
    int layerCount() const;
    QStringList gpuLayerChoices() const;
    bool gpuAvailable() const { return m_gpuTotalBytes > 0; }
    QString gpuStatus() const { return m_gpuStatus; }
    QString effectiveDevice() const;
    bool usesGpu() const;
    QString loadedPath() const { return m_loadedPath; }

    void setContextLength(int tokens);
    void setThreads(int threads);
    void setDevice(const QString& device);
    void setGpuLayers(const QString& gpuLayers);
    void setKvType(const QString& kvType); // an unknown name is ignored
    void setLoadedPath(const QString& path);
    // The memory budget the pre-flight checklist fits in (PreflightCard::memoryBudget), the
    // badges' RAM when positive: the list and the card give one verdict. 0: free RAM.
    void setMemoryBudget(qint64 bytes);

    // The roots a scan walks: the models directory, the other apps' folders
    // (ModelScan::otherAppRoots), the folders the user added.
    QList<ScanRoot> roots() const;

    Q_INVOKABLE void rescan();
    // A path or a file:// URL. False (and nothing changes) for a folder that does not exist
    // or is already listed; `folderError` says which.
    Q_INVOKABLE bool addFolder(const QString& pathOrUrl);
    Q_INVOKABLE void removeFolder(const QString& path);
    Q_INVOKABLE QString folderError() const { return m_folderError; }

    // The badge for `info` at the chosen context, device and GPU layers, and its explanation.
    using FitResult = FitBadge;
    FitResult assessFit(const hearth::ModelInfo& info) const;

signals:
    void countChanged();
    void scanningChanged();
    void foldersChanged();
    void settingsChanged();
    void loadedPathChanged();
    void layerCountChanged();
    void scanFinished(); // for tests
    void scanRequested(quint64 generation, const QList<ScanRoot>& roots);

private:
    void onScanned(quint64 generation, const ScanResult& result);
    void refreshFits();
    void saveSettings();

    QList<LocalModel> m_models;
    QList<FitResult> m_fits; // one per row
    QStringList m_skipped;
    QStringList m_folders;
    QString m_folderError;
    int m_contextLength = 0;
    int m_threads = 0;
    QString m_device = QStringLiteral("auto");
    QString m_gpuLayers = QStringLiteral("auto");
    QString m_gpuLayersError;
    hearth::KvCacheType m_kvType = hearth::KvCacheType::f16;
    qint64 m_memoryBudget = 0;
    QString m_gpuName;
    QString m_gpuStatus;
    uint64_t m_gpuTotalBytes = 0;
    uint64_t m_gpuFreeBytes = 0;
    QString m_loadedPath;

    quint64 m_pendingScan = 0;
    quint64 m_appliedScan = 0;
    // The scan wanted now, read by the scanning thread: an older one stops early. Shared so
    // that the scanner can outlive the library while its thread winds down.
    std::shared_ptr<std::atomic<quint64>> m_wantedScan;
    QThread m_thread;
    ModelScanner* m_scanner = nullptr;
};

// Lives on ModelLibrary's thread.
class ModelScanner : public QObject {
    Q_OBJECT
public:
    explicit ModelScanner(std::shared_ptr<std::atomic<quint64>> wanted)
        : m_wanted(std::move(wanted)) {}
    void scan(quint64 generation, const QList<ScanRoot>& roots);
signals:
    void scanned(quint64 generation, const ScanResult& result);

private:
    std::shared_ptr<std::atomic<quint64>> m_wanted;
};
