// The Models panel's C++: scanning a temporary tree of real small GGUF files (Hearth's
// models folder, a Hugging Face cache with symlinked blobs, an added folder, a split model,
// a truncated file, a broken link), the Hugging Face cache location rule, and ModelLibrary
// under QAbstractItemModelTester (scan off the GUI thread, fit badges, settings, folders),
// and the GPU fit badge's arithmetic with partial offload on hand-made figures.
#include "device_probe.h"
#include "fit_badge.h"
#include "hearth/gpu_layers.h"
#include "model_library.h"
#include "model_scan.h"
#include "test_support.h"

#include <QAbstractItemModelTester>
#include <QDir>
#include <QFile>
#include <QSettings>
#include <QSignalSpy>
#include <QTemporaryDir>
#include <QtTest>

namespace {

QString archModel(const char* name) {
    return QString::fromStdString((hearth::test::data_dir() / "arch" / name).string());
}

void copyFile(const QString& from, const QString& to) {
    QDir().mkpath(QFileInfo(to).absolutePath());
    QFile::remove(to);
    QVERIFY2(QFile::copy(from, to), qPrintable(from + " -> " + to));
}

void writeTruncated(const QString& from, const QString& to, qint64 bytes) {
    QFile in(from);
    QVERIFY(in.open(QIODevice::ReadOnly));
    QFile out(to);
    QVERIFY(out.open(QIODevice::WriteOnly | QIODevice::Truncate));
    out.write(in.read(bytes));
}

qint64 fileSize(const QString& path) {
    return QFileInfo(path).size();
}

const LocalModel* findByName(const QList<LocalModel>& models, const QString& name) {
    for (const LocalModel& model : models) {
        if (model.name == name) {
            return &model;
        }
    }
    return nullptr;
}

} // namespace

class TestModelLibrary : public QObject {
    Q_OBJECT

private slots:
    void initTestCase();
    void splitPartNames();
    void huggingFaceCacheLocation();
    void scanTree();
    void libraryModel();
    void fitBadges();
    void gpuFitBadges();
    void foldersAndSettings();
    void gpuLayersSetting();

private:
    QTemporaryDir m_root;
    QString m_hearthDir;
    QString m_hubDir;
    QString m_folderDir;
};

void TestModelLibrary::initTestCase() {
    QVERIFY(m_root.isValid());
    // Keep away from the user's settings and models, and from other apps' (a home of its own,
    // no Ollama service folder).
    qputenv("HOME", (m_root.path() + QLatin1String("/home")).toUtf8());
    qputenv("XDG_CONFIG_HOME", (m_root.path() + QLatin1String("/config")).toUtf8());
    qputenv("XDG_DATA_HOME", (m_root.path() + QLatin1String("/data")).toUtf8());
    qputenv("OLLAMA_MODELS", (m_root.path() + QLatin1String("/ollama")).toUtf8());
    QCoreApplication::setOrganizationName(QStringLiteral("hearth-test"));
    QCoreApplication::setApplicationName(QStringLiteral("tst_model_library"));
    m_hearthDir = m_root.path() + QLatin1String("/models");
    m_hubDir = m_root.path() + QLatin1String("/hf/hub");
    m_folderDir = m_root.path() + QLatin1String("/mine");
    qputenv("HEARTH_MODELS_DIR", m_hearthDir.toUtf8());
    qputenv("HF_HUB_CACHE", m_hubDir.toUtf8());

    // Hearth's folder: two models (one in a subfolder), a truncated file.
    copyFile(archModel("llama.gguf"), m_hearthDir + QLatin1String("/llama.gguf"));
    copyFile(archModel("qwen2.gguf"), m_hearthDir + QLatin1String("/more/qwen2.gguf"));
    writeTruncated(archModel("llama_q8_0.gguf"), m_hearthDir + QLatin1String("/broken.gguf"), 5000);

    // The Hugging Face cache: one blob reached from two snapshots (listed once), a dangling
    // link, and a split model in two parts.
    const QString repo = m_hubDir + QLatin1String("/models--someone--Tiny-GGUF");
    copyFile(archModel("gemma3.gguf"), repo + QLatin1String("/blobs/aaaa"));
    copyFile(archModel("llama.gguf"), repo + QLatin1String("/blobs/bbbb"));
    copyFile(archModel("qwen3.gguf"), repo + QLatin1String("/blobs/cccc"));
    for (const char* revision : {"rev1", "rev2"}) {
        const QString snapshot = repo + QLatin1String("/snapshots/") + QLatin1String(revision);
        QDir().mkpath(snapshot);
        QVERIFY(QFile::link(QStringLiteral("../../blobs/aaaa"),
                            snapshot + QLatin1String("/tiny-gemma3.gguf")));
    }
    const QString rev1 = repo + QLatin1String("/snapshots/rev1");
    QVERIFY(QFile::link(QStringLiteral("../../blobs/gone"), rev1 + QLatin1String("/gone.gguf")));
    QVERIFY(QFile::link(QStringLiteral("../../blobs/bbbb"),
                        rev1 + QLatin1String("/big-00001-of-00002.gguf")));
    QVERIFY(QFile::link(QStringLiteral("../../blobs/cccc"),
                        rev1 + QLatin1String("/big-00002-of-00002.gguf")));

    // A folder the user adds: the tiny model and a split model with a part missing.
    copyFile(QString::fromStdString((hearth::test::data_dir() / "gguf" / "tiny.gguf").string()),
             m_folderDir + QLatin1String("/tiny.gguf"));
    copyFile(archModel("llama.gguf"), m_folderDir + QLatin1String("/lonely-00001-of-00003.gguf"));
}

void TestModelLibrary::splitPartNames() {
    const auto part = ModelScan::splitPart(QStringLiteral("Qwen2.5-7B-Q4_K_M-00002-of-00003.gguf"));
    QVERIFY(part.has_value());
    QCOMPARE(part->stem, QStringLiteral("Qwen2.5-7B-Q4_K_M"));
    QCOMPARE(part->index, 2);
    QCOMPARE(part->count, 3);
    QVERIFY(!ModelScan::splitPart(QStringLiteral("model.gguf")));
    QVERIFY(!ModelScan::splitPart(QStringLiteral("model-00004-of-00003.gguf")));
    QVERIFY(!ModelScan::splitPart(QStringLiteral("model-1-of-3.gguf")));
}

void TestModelLibrary::huggingFaceCacheLocation() {
    const QByteArray hubCache = qgetenv("HF_HUB_CACHE");
    qunsetenv("HF_HUB_CACHE");
    qputenv("HF_HOME", "/somewhere/hf");
    QCOMPARE(ModelScan::huggingFaceCacheDirectory(), QStringLiteral("/somewhere/hf/hub"));
    qunsetenv("HF_HOME");
    qputenv("XDG_CACHE_HOME", "/elsewhere/cache");
    QCOMPARE(ModelScan::huggingFaceCacheDirectory(),
             QStringLiteral("/elsewhere/cache/huggingface/hub"));
    qunsetenv("XDG_CACHE_HOME");
    QCOMPARE(ModelScan::huggingFaceCacheDirectory(),
             QDir::homePath() + QStringLiteral("/.cache/huggingface/hub"));
    qputenv("HF_HUB_CACHE", hubCache);
    QCOMPARE(ModelScan::huggingFaceCacheDirectory(), QString::fromUtf8(hubCache));
}

void TestModelLibrary::scanTree() {
    using Layout = ScanRoot::Layout;
    const QList<LocalModel> models =
        ModelScan::scan({{m_hearthDir, QStringLiteral("Hearth")},
                         {m_hubDir, QStringLiteral("Hugging Face"), Layout::HuggingFaceCache, true},
                         {m_folderDir, QStringLiteral("Folder")},
                         {m_root.path() + QLatin1String("/missing"), QStringLiteral("Folder")}})
            .models;
    QStringList names;
    for (const LocalModel& model : models) {
        names << model.name;
    }
    // Root order, then by path; the blob seen from two snapshots once; the split model once.
    QCOMPARE(names, (QStringList{"broken", "llama", "qwen2", "big", "gone", "tiny-gemma3", "lonely",
                                 "tiny"}));

    const LocalModel* llama = findByName(models, QStringLiteral("llama"));
    QVERIFY(llama && llama->error.isEmpty());
    QCOMPARE(llama->source, QStringLiteral("Hearth"));
    QCOMPARE(llama->origin, QStringLiteral("in Hearth's models folder"));
    QVERIFY(!llama->otherApp);
    QCOMPARE(llama->architecture, QStringLiteral("llama"));
    QCOMPARE(llama->fileSize, fileSize(archModel("llama.gguf")));
    QVERIFY(llama->parameters > 0);
    QVERIFY(llama->trainedContext > 0);
    QVERIFY(!llama->quantization.isEmpty());
    QVERIFY(llama->info.has_value());
    QCOMPARE(qint64(llama->info->n_params), llama->parameters);

    const LocalModel* qwen2 = findByName(models, QStringLiteral("qwen2"));
    QVERIFY(qwen2 && qwen2->error.isEmpty());
    QCOMPARE(qwen2->architecture, QStringLiteral("qwen2"));

    // A truncated file is listed, with what is wrong, and nothing to compute a fit from.
    const LocalModel* broken = findByName(models, QStringLiteral("broken"));
    QVERIFY(broken);
    QVERIFY2(!broken->error.isEmpty(), "a truncated file must carry an error");
    QVERIFY(!broken->info.has_value());

    const LocalModel* gemma = findByName(models, QStringLiteral("tiny-gemma3"));
    QVERIFY(gemma && gemma->error.isEmpty());
    QCOMPARE(gemma->source, QStringLiteral("Hugging Face"));
    QCOMPARE(gemma->repo, QStringLiteral("someone/Tiny-GGUF"));
    QCOMPARE(gemma->origin, QStringLiteral("from the Hugging Face cache: someone/Tiny-GGUF"));
    QVERIFY(gemma->otherApp);
    QCOMPARE(gemma->architecture, QStringLiteral("gemma3"));
    // The size is the blob's, not the link's.
    QCOMPARE(gemma->fileSize, fileSize(archModel("gemma3.gguf")));
    QVERIFY(gemma->path.contains(QLatin1String("/snapshots/rev1/")));

    const LocalModel* gone = findByName(models, QStringLiteral("gone"));
    QVERIFY(gone);
    QVERIFY(gone->error.contains(QLatin1String("broken link")));

    // Split: every part's size and weights count.
    const LocalModel* big = findByName(models, QStringLiteral("big"));
    QVERIFY(big);
    QVERIFY2(big->error.isEmpty(), qPrintable(big->error));
    QCOMPARE(big->parts, 2);
    QCOMPARE(big->fileSize, fileSize(archModel("llama.gguf")) + fileSize(archModel("qwen3.gguf")));
    QVERIFY(big->path.endsWith(QLatin1String("big-00001-of-00002.gguf")));
    QVERIFY(big->parameters > llama->parameters);

    const LocalModel* lonely = findByName(models, QStringLiteral("lonely"));
    QVERIFY(lonely);
    QCOMPARE(lonely->error, QStringLiteral("part 2 of 3 is missing (lonely-00002-of-00003.gguf)"));

    const LocalModel* tiny = findByName(models, QStringLiteral("tiny"));
    QVERIFY(tiny);
    QCOMPARE(tiny->source, QStringLiteral("Folder"));
    QCOMPARE(tiny->origin, QStringLiteral("in ") + m_folderDir);
    QCOMPARE(tiny->trainedContext, 256);
}

void TestModelLibrary::libraryModel() {
    ModelLibrary library;
    QAbstractItemModelTester tester(&library,
                                    QAbstractItemModelTester::FailureReportingMode::QtTest);
    QSignalSpy finished(&library, &ModelLibrary::scanFinished);
    QCOMPARE(library.rowCount(), 0);
    QVERIFY(!library.scanning());
    library.rescan();
    QVERIFY(library.scanning());
    // A second request while the first runs: only the last one's result is applied.
    library.rescan();
    QVERIFY(finished.wait(20000));
    QCOMPARE(finished.count(), 1);
    QVERIFY(!library.scanning());
    // Hearth's folder (3) and the Hugging Face cache (3); no folder added yet.
    QCOMPARE(library.rowCount(), 6);

    int llamaRow = -1;
    int brokenRow = -1;
    for (int row = 0; row < library.rowCount(); ++row) {
        const QString name = library.data(library.index(row), ModelLibrary::NameRole).toString();
        if (name == QLatin1String("llama")) {
            llamaRow = row;
        } else if (name == QLatin1String("broken")) {
            brokenRow = row;
        }
    }
    QVERIFY(llamaRow >= 0 && brokenRow >= 0);
    const QModelIndex llama = library.index(llamaRow);
    QCOMPARE(library.data(llama, ModelLibrary::ArchitectureRole).toString(),
             QStringLiteral("llama"));
    QVERIFY(
        library.data(llama, ModelLibrary::FileSizeRole).toString().endsWith(QLatin1String("KiB")));
    QVERIFY(!library.data(llama, ModelLibrary::ParametersRole).toString().isEmpty());
    // A tiny model fits any machine this test runs on.
    QCOMPARE(library.data(llama, ModelLibrary::FitRole).toString(), QStringLiteral("fits"));
    QVERIFY(library.data(llama, ModelLibrary::FitDetailRole)
                .toString()
                .startsWith(QLatin1String("needs ")));
    QVERIFY(!library.data(llama, ModelLibrary::LoadedRole).toBool());
    QVERIFY2(library.data(llama, ModelLibrary::DetailsRole)
                 .toString()
                 .startsWith(QStringLiteral("llama · ")),
             qPrintable(library.data(llama, ModelLibrary::DetailsRole).toString()));

    const QModelIndex broken = library.index(brokenRow);
    QVERIFY(!library.data(broken, ModelLibrary::ErrorRole).toString().isEmpty());
    QCOMPARE(library.data(broken, ModelLibrary::FitRole).toString(), QString());

    QSignalSpy changed(&library, &QAbstractItemModel::dataChanged);
    library.setLoadedPath(library.data(llama, ModelLibrary::PathRole).toString());
    QCOMPARE(changed.count(), 1);
    QVERIFY(library.data(llama, ModelLibrary::LoadedRole).toBool());
    QVERIFY(!library.data(broken, ModelLibrary::LoadedRole).toBool());

    // The chosen context is what the badge is computed at.
    library.setContextLength(2048);
    QVERIFY(library.data(llama, ModelLibrary::FitDetailRole)
                .toString()
                .contains(QLatin1String("at 2048 tokens")));
    library.setContextLength(0);
    // Unset: the trained context, capped at the session's 4096.
    const QString detail = library.data(llama, ModelLibrary::FitDetailRole).toString();
    QVERIFY2(detail.contains(QStringLiteral("at %1 tokens")
                                 .arg(std::min(4096, library.models()[llamaRow].trainedContext))),
             qPrintable(detail));
}

void TestModelLibrary::fitBadges() {
    ModelLibrary library;
    hearth::ModelInfo info;
    info.architecture = "llama";
    info.n_layer = 2;
    info.n_embd = 64;
    info.n_head = 4;
    info.n_head_kv = 4;
    info.head_dim_k = info.head_dim_v = 16;
    info.n_vocab = 256;
    info.n_ctx_train = 512;
    info.weights_bytes = 1 << 20;
    info.n_params = 1 << 19;
    QCOMPARE(library.assessFit(info).fit, QStringLiteral("fits"));
    // No machine has an exabyte.
    info.weights_bytes = uint64_t(1) << 60;
    const ModelLibrary::FitResult tooBig = library.assessFit(info);
    QCOMPARE(tooBig.fit, QStringLiteral("will not fit"));
    QVERIFY(tooBig.detail.contains(QLatin1String("RAM available")));
}

// A model of four 1 GiB layers and 0.5 GiB of other weights, with tiny widths so that its KV
// cache and scratch are a few MiB: 2.5 GiB free past the headroom hold two layers, not three.
void TestModelLibrary::gpuFitBadges() {
    constexpr uint64_t kGiB = uint64_t(1) << 30;
    hearth::ModelInfo info;
    info.architecture = "llama";
    info.n_layer = 4;
    info.n_embd = 64;
    info.n_ff = 128;
    info.n_head = 4;
    info.n_head_kv = 4;
    info.head_dim_k = info.head_dim_v = 16;
    info.n_vocab = 256;
    info.n_ctx_train = 512;
    info.layer_weight_bytes.assign(4, kGiB);
    info.non_layer_weight_bytes = kGiB / 2;
    info.weights_bytes = 4 * kGiB + kGiB / 2;
    info.n_params = 1 << 19;

    FitTarget target;
    target.nCtx = 512;
    target.gpu = true;
    target.gpuName = QStringLiteral("Test GPU");
    target.gpuFreeBytes = hearth::kOffloadGpuHeadroom + 5 * kGiB / 2;
    target.hostAvailableBytes = 64 * kGiB;

    // The most layers that fit, said in the badge and its line ("auto" and "gpu" devices
    // split alike).
    FitBadge badge = assessFit(info, target);
    QCOMPARE(badge.fit, QStringLiteral("partial"));
    QVERIFY2(badge.detail.startsWith(QStringLiteral("partial: 2 of 4 layers on the GPU (")) &&
                 badge.detail.contains(QStringLiteral("2 on the CPU")) &&
                 badge.detail.contains(QStringLiteral("at 512 tokens")) &&
                 badge.detail.contains(QStringLiteral("free on Test GPU")),
             qPrintable(badge.detail));

    // "all", or a count of at least the model's layers: the whole model, which does not fit.
    for (int32_t layers : {hearth::kAllGpuLayers, 4, 40}) {
        target.gpuLayers = layers;
        badge = assessFit(info, target);
        QCOMPARE(badge.fit, QStringLiteral("will not fit"));
        QVERIFY2(badge.detail.startsWith(QStringLiteral("needs ")) &&
                     !badge.detail.contains(QStringLiteral("layers")),
                 qPrintable(badge.detail));
    }

    // A count that does not fit: the engine's arithmetic, naming the most that would.
    target.gpuLayers = 3;
    badge = assessFit(info, target);
    QCOMPARE(badge.fit, QStringLiteral("will not fit"));
    QVERIFY2(badge.detail.startsWith(QStringLiteral("3 layers on the GPU need ")) &&
                 badge.detail.contains(QStringLiteral("at most 2 layers fit")),
             qPrintable(badge.detail));

    // A count below what fits splits even a model the GPU could hold whole.
    target.gpuLayers = 1;
    target.gpuFreeBytes = 64 * kGiB;
    badge = assessFit(info, target);
    QCOMPARE(badge.fit, QStringLiteral("partial"));
    QVERIFY2(badge.detail.startsWith(QStringLiteral("partial: 1 of 4 layers on the GPU")),
             qPrintable(badge.detail));
    target.gpuLayers = hearth::kAutoGpuLayers;
    QCOMPARE(assessFit(info, target).fit, QStringLiteral("fits"));

    // Not one layer fits: the whole model's badge, saying so.
    target.gpuFreeBytes = hearth::kOffloadGpuHeadroom + kGiB / 2;
    badge = assessFit(info, target);
    QCOMPARE(badge.fit, QStringLiteral("will not fit"));
    QVERIFY2(badge.detail.endsWith(QStringLiteral(" · not one layer fits the GPU")),
             qPrintable(badge.detail));

    // The CPU's part must fit the RAM: two layers stay there with the other weights (2.5 GiB).
    target.gpuFreeBytes = hearth::kOffloadGpuHeadroom + 5 * kGiB / 2;
    target.hostAvailableBytes = 2 * kGiB;
    badge = assessFit(info, target);
    QCOMPARE(badge.fit, QStringLiteral("will not fit"));
    QVERIFY2(badge.detail.contains(QStringLiteral("the CPU part needs")), qPrintable(badge.detail));

    // On the CPU the GPU layers do not matter.
    target.gpu = false;
    target.gpuLayers = 1;
    target.hostAvailableBytes = 64 * kGiB;
    badge = assessFit(info, target);
    QCOMPARE(badge.fit, QStringLiteral("fits"));
    QVERIFY2(badge.detail.endsWith(QStringLiteral("RAM available")), qPrintable(badge.detail));
}

void TestModelLibrary::foldersAndSettings() {
    {
        ModelLibrary library;
        QSignalSpy finished(&library, &ModelLibrary::scanFinished);
        QVERIFY(!library.addFolder(m_root.path() + QLatin1String("/nowhere")));
        QVERIFY(library.folderError().contains(QLatin1String("is not a folder")));
        QVERIFY(library.addFolder(QUrl::fromLocalFile(m_folderDir).toString()));
        QCOMPARE(library.folders(), QStringList{m_folderDir});
        QVERIFY(!library.addFolder(m_folderDir));
        QVERIFY(library.folderError().contains(QLatin1String("already listed")));
        QVERIFY(finished.wait(20000));
        QCOMPARE(library.rowCount(), 8); // the added folder's two files too

        library.setThreads(1);
        library.setContextLength(1024);
        // Without a GPU, "gpu" is refused and the status says why (once DeviceProbe, off the
        // GUI thread, has answered).
        QTRY_VERIFY_WITH_TIMEOUT(DeviceProbe::instance()->ready(), 60000);
        if (!library.gpuAvailable()) {
            library.setDevice(QStringLiteral("gpu"));
            QCOMPARE(library.device(), QStringLiteral("auto"));
            QVERIFY(!library.gpuStatus().isEmpty());
            QCOMPARE(library.effectiveDevice(), QStringLiteral("CPU"));
        }
        library.setDevice(QStringLiteral("cpu"));
        library.setThreads(100000); // clamped to the machine
        QCOMPARE(library.threads(), ModelLibrary::maxThreads());
        library.setThreads(1);
    }
    {
        // A new library (the next run) reads them back.
        ModelLibrary library;
        QCOMPARE(library.folders(), QStringList{m_folderDir});
        QCOMPARE(library.threads(), 1);
        QCOMPARE(library.contextLength(), 1024);
        QCOMPARE(library.device(), QStringLiteral("cpu"));
        QSignalSpy finished(&library, &ModelLibrary::scanFinished);
        library.removeFolder(m_folderDir);
        QVERIFY(library.folders().isEmpty());
        QVERIFY(finished.wait(20000));
        QCOMPARE(library.rowCount(), 6);
    }
}

void TestModelLibrary::gpuLayersSetting() {
    {
        ModelLibrary library;
        QCOMPARE(library.gpuLayers(), QStringLiteral("auto"));
        QSignalSpy changed(&library, &ModelLibrary::settingsChanged);
        library.setGpuLayers(QStringLiteral(" 18 "));
        QCOMPARE(library.gpuLayers(), QStringLiteral("18"));
        QVERIFY(library.gpuLayersError().isEmpty());
        QCOMPARE(changed.count(), 1);
        // Refused: the old value stays, the error says what is accepted.
        for (const QString& bad : {QStringLiteral("lots"), QStringLiteral("0"),
                                   QStringLiteral("-3"), QStringLiteral("12abc"), QString()}) {
            library.setGpuLayers(bad);
            QCOMPARE(library.gpuLayers(), QStringLiteral("18"));
            QVERIFY2(library.gpuLayersError().contains(QStringLiteral("use all, auto or a number")),
                     qPrintable(library.gpuLayersError()));
        }
        library.setGpuLayers(QStringLiteral("all"));
        QCOMPARE(library.gpuLayers(), QStringLiteral("all"));
        QVERIFY(library.gpuLayersError().isEmpty());
        library.setGpuLayers(QStringLiteral("12"));
    }
    {
        ModelLibrary library; // the next run
        QCOMPARE(library.gpuLayers(), QStringLiteral("12"));

        // The layer choices: the most any listed model has, else the loaded model's.
        QSignalSpy finished(&library, &ModelLibrary::scanFinished);
        QSignalSpy layers(&library, &ModelLibrary::layerCountChanged);
        library.rescan();
        QVERIFY(finished.wait(20000));
        QVERIFY(layers.count() >= 1);
        uint32_t most = 0;
        const LocalModel* fewest = nullptr;
        for (const LocalModel& model : library.models()) {
            if (model.info) {
                most = std::max(most, model.info->n_layer);
                if (!fewest || model.info->n_layer < fewest->info->n_layer) {
                    fewest = &model;
                }
            }
        }
        QVERIFY(fewest && most > 0);
        QCOMPARE(library.layerCount(), int(most));
        QCOMPARE(library.gpuLayerChoices().size(), 2 + int(most));
        QCOMPARE(library.gpuLayerChoices().mid(0, 3),
                 (QStringList{QStringLiteral("auto"), QStringLiteral("all"), QStringLiteral("1")}));
        QCOMPARE(library.gpuLayerChoices().last(), QString::number(most));
        library.setLoadedPath(fewest->path);
        QCOMPARE(library.layerCount(), int(fewest->info->n_layer));
        library.setLoadedPath(QString());
        QCOMPARE(library.layerCount(), int(most));
    }
    // A saved value the engine refuses (edited by hand) is read as "auto".
    QSettings().setValue(QStringLiteral("models/gpuLayers"), QStringLiteral("many"));
    QCOMPARE(ModelLibrary().gpuLayers(), QStringLiteral("auto"));
}

QTEST_GUILESS_MAIN(TestModelLibrary)
#include "tst_model_library.moc"
