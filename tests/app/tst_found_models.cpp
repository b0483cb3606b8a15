// The GGUF files other apps downloaded, found in a fake home directory (HOME, XDG_* and each
// app's environment variables set by the test): LM Studio's two folders, GPT4All's, Ollama's
// blobs named from its manifests (a blob two tags share, a hf.co model, a manifest pointing
// at a missing blob, at a non-GGUF blob, with a path for a digest, not JSON, too large, too
// deep) and the Hugging Face cache; listed in place with their origin. Then the hostile
// trees: symlink loops, FIFOs (named *.gguf, linked, as a split part, as a manifest and as a
// blob) and a device, which must neither hang nor be opened; and the walk's limits (depth,
// entries, model files, a stop request). Last, ModelLibrary: the rows' origins, the usable
// and other-app counts the empty state shows, and the skipped entries in the log.
#include "model_library.h"
#include "model_scan.h"
#include "ollama_models.h"
#include "test_support.h"

#include <QCryptographicHash>
#include <QDir>
#include <QElapsedTimer>
#include <QFile>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QSignalSpy>
#include <QTemporaryDir>
#include <QtTest>
#include <fcntl.h>
#include <future>
#include <sys/stat.h>
#include <unistd.h>

namespace {

// How long a scan of these small trees may take before the test calls it a hang.
constexpr int kScanDeadlineMs = 20000;

QString dataFile(const char* relative) {
    return QString::fromStdString((hearth::test::data_dir() / relative).string());
}

QByteArray readAll(const QString& path) {
    QFile file(path);
    return file.open(QIODevice::ReadOnly) ? file.readAll() : QByteArray();
}

void writeFile(const QString& path, const QByteArray& bytes) {
    QDir().mkpath(QFileInfo(path).absolutePath());
    QFile file(path);
    QVERIFY2(file.open(QIODevice::WriteOnly | QIODevice::Truncate), qPrintable(path));
    QCOMPARE(file.write(bytes), bytes.size());
}

void copyFile(const QString& from, const QString& to) {
    writeFile(to, readAll(from));
}

void makeFifo(const QString& path) {
    QDir().mkpath(QFileInfo(path).absolutePath());
    QVERIFY2(::mkfifo(QFile::encodeName(path).constData(), 0600) == 0, qPrintable(path));
}

void link(const QString& target, const QString& path) {
    QDir().mkpath(QFileInfo(path).absolutePath());
    QVERIFY2(QFile::link(target, path), qPrintable(path + " -> " + target));
}

// An Ollama manifest as `ollama pull` writes it: a config, the model layer, a template.
QByteArray manifest(const QString& modelDigest) {
    const QString other = QStringLiteral("sha256:") + QString(64, QLatin1Char('e'));
    QJsonArray layers{QJsonObject{{"mediaType", "application/vnd.ollama.image.model"},
                                  {"digest", modelDigest},
                                  {"size", 1000}},
                      QJsonObject{{"mediaType", "application/vnd.ollama.image.template"},
                                  {"digest", other},
                                  {"size", 9}}};
    return QJsonDocument(
               QJsonObject{{"schemaVersion", 2},
                           {"mediaType", "application/vnd.docker.distribution.manifest.v2+json"},
                           {"config", QJsonObject{{"mediaType", "application/vnd.docker.container."
                                                                "image.v1+json"},
                                                  {"digest", other},
                                                  {"size", 9}}},
                           {"layers", layers}})
        .toJson();
}

// Stores `bytes` as a blob of the Ollama folder `models`; returns its digest ("sha256:HEX").
QString addBlob(const QString& models, const QByteArray& bytes) {
    const QByteArray hex = QCryptographicHash::hash(bytes, QCryptographicHash::Sha256).toHex();
    writeFile(models + QLatin1String("/blobs/sha256-") + QString::fromLatin1(hex), bytes);
    return QStringLiteral("sha256:") + QString::fromLatin1(hex);
}

const LocalModel* findByName(const QList<LocalModel>& models, const QString& name) {
    for (const LocalModel& model : models) {
        if (model.name == name) {
            return &model;
        }
    }
    return nullptr;
}

bool anyContains(const QStringList& lines, const QString& a, const QString& b) {
    for (const QString& line : lines) {
        if (line.contains(a) && line.contains(b)) {
            return true;
        }
    }
    return false;
}

// Runs the scan on another thread. A scan that blocks on a FIFO is released by opening the
// FIFOs for writing, so that a regression fails the test instead of hanging it.
ScanResult scanWithDeadline(const QList<ScanRoot>& roots, const QStringList& fifos, bool* timedOut,
                            const ScanLimits& limits = {}) {
    auto future =
        std::async(std::launch::async, [roots, limits] { return ModelScan::scan(roots, limits); });
    *timedOut =
        future.wait_for(std::chrono::milliseconds(kScanDeadlineMs)) != std::future_status::ready;
    while (future.wait_for(std::chrono::milliseconds(50)) != std::future_status::ready) {
        for (const QString& fifo : fifos) {
            const int fd = ::open(QFile::encodeName(fifo).constData(), O_WRONLY | O_NONBLOCK);
            if (fd >= 0) {
                ::close(fd);
            }
        }
    }
    return future.get();
}

} // namespace

class TestFoundModels : public QObject {
    Q_OBJECT

private slots:
    void initTestCase();
    void rootsFollowTheEnvironment();
    void lmStudioAndGpt4All();
    void ollamaManifests();
    void ollamaNames();
    void hostileTrees();
    void limits();
    void stopRequest();
    void library();

private:
    QTemporaryDir m_root;
    QString m_home;
    QString m_ollama;
    QString m_llamaDigest;
    QStringList m_fifos;
};

void TestFoundModels::initTestCase() {
    QVERIFY(m_root.isValid());
    m_home = m_root.path() + QLatin1String("/home");
    m_ollama = m_home + QLatin1String("/.ollama/models");
    // A home of its own; each app's folders where it puts them by default.
    qputenv("HOME", m_home.toUtf8());
    qputenv("XDG_DATA_HOME", (m_home + QLatin1String("/.local/share")).toUtf8());
    qputenv("XDG_CONFIG_HOME", (m_home + QLatin1String("/.config")).toUtf8());
    qputenv("XDG_CACHE_HOME", (m_home + QLatin1String("/.cache")).toUtf8());
    qputenv("HEARTH_MODELS_DIR", (m_root.path() + QLatin1String("/hearth-models")).toUtf8());
    for (const char* name : {"HF_HUB_CACHE", "HF_HOME"}) {
        qunsetenv(name);
    }
    // The Ollama service's folder is outside this home: pointing OLLAMA_MODELS at the
    // default keeps the scan inside it.
    qputenv("OLLAMA_MODELS", m_ollama.toUtf8());
    QCoreApplication::setOrganizationName(QStringLiteral("hearth-test"));
    QCoreApplication::setApplicationName(QStringLiteral("tst_found_models"));

    // LM Studio, new and old folders: OWNER/REPO/FILE, and a vision projector beside a model.
    const QString lmStudio = m_home + QLatin1String("/.lmstudio/models");
    copyFile(dataFile("arch/qwen2.gguf"),
             lmStudio + QLatin1String("/lmstudio-community/Qwen-GGUF/qwen2-tiny.gguf"));
    copyFile(dataFile("arch/gemma3.gguf"),
             lmStudio + QLatin1String("/lmstudio-community/Qwen-GGUF/mmproj-qwen2-f16.gguf"));
    copyFile(dataFile("arch/llama_q8_0.gguf"),
             m_home + QLatin1String("/.cache/lm-studio/models/TheBloke/Old-GGUF/old-q8.gguf"));
    // GPT4All: a flat folder.
    copyFile(dataFile("gguf/tiny.gguf"),
             m_home + QLatin1String("/.local/share/nomic.ai/GPT4All/tiny-gpt4all.gguf"));
    // The Hugging Face cache ($XDG_CACHE_HOME/huggingface/hub): a snapshot linking a blob.
    const QString repo = m_home + QLatin1String("/.cache/huggingface/hub/models--org--Hub-GGUF");
    copyFile(dataFile("arch/qwen3.gguf"), repo + QLatin1String("/blobs/1234"));
    link(QStringLiteral("../../blobs/1234"), repo + QLatin1String("/snapshots/abc/hub-qwen3.gguf"));

    // Ollama: one blob that two tags name, a hf.co model, a user's model; then the manifests
    // that lead nowhere.
    m_llamaDigest = addBlob(m_ollama, readAll(dataFile("arch/llama.gguf")));
    const QString gemmaDigest = addBlob(m_ollama, readAll(dataFile("arch/gemma3.gguf")));
    const QString licenseDigest = addBlob(m_ollama, "MIT License\n\nPermission is hereby granted");
    const QString manifests = m_ollama + QLatin1String("/manifests/");
    writeFile(manifests + QLatin1String("registry.ollama.ai/library/llama3.2/3b"),
              manifest(m_llamaDigest));
    writeFile(manifests + QLatin1String("registry.ollama.ai/library/llama3.2/latest"),
              manifest(m_llamaDigest));
    writeFile(manifests + QLatin1String("hf.co/bartowski/Gemma-GGUF/Q4_K_M"),
              manifest(gemmaDigest));
    writeFile(manifests + QLatin1String("registry.ollama.ai/library/missing/latest"),
              manifest(QStringLiteral("sha256:") + QString(64, QLatin1Char('0'))));
    writeFile(manifests + QLatin1String("registry.ollama.ai/library/license/latest"),
              manifest(licenseDigest));
    writeFile(manifests + QLatin1String("registry.ollama.ai/library/escape/latest"),
              manifest(QStringLiteral("sha256:../../../../.lmstudio/models/x.gguf")));
    writeFile(manifests + QLatin1String("registry.ollama.ai/library/notjson/latest"),
              "{\"layers\": [");
    writeFile(manifests + QLatin1String("registry.ollama.ai/library/deep/latest"),
              QByteArray(100000, '[') + QByteArray(100000, ']'));
    writeFile(manifests + QLatin1String("registry.ollama.ai/library/huge/latest"),
              QByteArray(3 << 20, ' ') + manifest(m_llamaDigest));
    writeFile(manifests + QLatin1String("registry.ollama.ai/library/nolayer/latest"),
              "{\"layers\": [{\"mediaType\": \"application/vnd.ollama.image.license\"}]}");
}

void TestFoundModels::rootsFollowTheEnvironment() {
    for (const ScanRoot& root : ModelScan::otherAppRoots()) {
        QVERIFY2(root.otherApp, qPrintable(root.source));
    }
    auto pathsOf = [](const QString& source) {
        QStringList paths;
        for (const ScanRoot& root : ModelScan::otherAppRoots()) {
            if (root.source == source) {
                paths << root.path;
            }
        }
        return paths;
    };
    QCOMPARE(pathsOf(QStringLiteral("LM Studio")),
             (QStringList{m_home + QLatin1String("/.lmstudio/models"),
                          m_home + QLatin1String("/.cache/lm-studio/models")}));
    QCOMPARE(pathsOf(QStringLiteral("GPT4All")),
             QStringList{m_home + QLatin1String("/.local/share/nomic.ai/GPT4All")});
    QCOMPARE(pathsOf(QStringLiteral("Hugging Face")),
             QStringList{m_home + QLatin1String("/.cache/huggingface/hub")});
    // OLLAMA_MODELS replaces both of Ollama's defaults, as in Ollama.
    QCOMPARE(pathsOf(QStringLiteral("Ollama")), QStringList{m_ollama});
    qunsetenv("OLLAMA_MODELS");
    QCOMPARE(pathsOf(QStringLiteral("Ollama")),
             (QStringList{m_ollama, QLatin1String(OllamaModels::kServiceModelsDirectory)}));
    qputenv("OLLAMA_MODELS", "/srv/ollama");
    QCOMPARE(pathsOf(QStringLiteral("Ollama")), QStringList{QStringLiteral("/srv/ollama")});
    qputenv("OLLAMA_MODELS", m_ollama.toUtf8());
    // HF_HUB_CACHE, then HF_HOME, as huggingface_hub reads them.
    qputenv("HF_HOME", "/srv/hf");
    QCOMPARE(pathsOf(QStringLiteral("Hugging Face")), QStringList{QStringLiteral("/srv/hf/hub")});
    qputenv("HF_HUB_CACHE", "/srv/hub");
    QCOMPARE(pathsOf(QStringLiteral("Hugging Face")), QStringList{QStringLiteral("/srv/hub")});
    qunsetenv("HF_HUB_CACHE");
    qunsetenv("HF_HOME");
    qputenv("XDG_DATA_HOME", "/srv/data");
    QCOMPARE(pathsOf(QStringLiteral("GPT4All")),
             QStringList{QStringLiteral("/srv/data/nomic.ai/GPT4All")});
    qputenv("XDG_DATA_HOME", (m_home + QLatin1String("/.local/share")).toUtf8());
}

void TestFoundModels::lmStudioAndGpt4All() {
    const ScanResult result = ModelScan::scan(ModelScan::otherAppRoots());
    const LocalModel* qwen = findByName(result.models, QStringLiteral("qwen2-tiny"));
    QVERIFY(qwen);
    QVERIFY2(qwen->error.isEmpty(), qPrintable(qwen->error));
    QCOMPARE(qwen->source, QStringLiteral("LM Studio"));
    QCOMPARE(qwen->origin, QStringLiteral("from LM Studio"));
    QVERIFY(qwen->otherApp);
    QCOMPARE(qwen->architecture, QStringLiteral("qwen2"));
    // Listed where it is: nothing is copied.
    QCOMPARE(qwen->path,
             m_home +
                 QLatin1String("/.lmstudio/models/lmstudio-community/Qwen-GGUF/qwen2-tiny.gguf"));
    QVERIFY(!QDir(qEnvironmentVariable("HEARTH_MODELS_DIR")).exists());

    const LocalModel* old = findByName(result.models, QStringLiteral("old-q8"));
    QVERIFY(old && old->error.isEmpty());
    QCOMPARE(old->origin, QStringLiteral("from LM Studio"));

    // The projector is a GGUF file but no chat model: left out, with a note.
    QVERIFY(!findByName(result.models, QStringLiteral("mmproj-qwen2-f16")));
    QVERIFY(anyContains(result.skipped, QStringLiteral("mmproj-qwen2-f16.gguf"),
                        QStringLiteral("vision projector")));

    const LocalModel* tiny = findByName(result.models, QStringLiteral("tiny-gpt4all"));
    QVERIFY(tiny && tiny->error.isEmpty());
    QCOMPARE(tiny->origin, QStringLiteral("from GPT4All"));
    QCOMPARE(tiny->trainedContext, 256);

    const LocalModel* hub = findByName(result.models, QStringLiteral("hub-qwen3"));
    QVERIFY(hub && hub->error.isEmpty());
    QCOMPARE(hub->origin, QStringLiteral("from the Hugging Face cache: org/Hub-GGUF"));
}

void TestFoundModels::ollamaManifests() {
    const ScanResult result =
        ModelScan::scan({{m_ollama, QStringLiteral("Ollama"), ScanRoot::Layout::Ollama, true}});
    QStringList names;
    for (const LocalModel& model : result.models) {
        names << model.name;
    }
    // One row per blob, named by its first tag; the others in the origin.
    QCOMPARE(names, (QStringList{"hf.co/bartowski/Gemma-GGUF:Q4_K_M", "llama3.2:3b"}));
    const LocalModel* llama = findByName(result.models, QStringLiteral("llama3.2:3b"));
    QVERIFY(llama);
    QVERIFY2(llama->error.isEmpty(), qPrintable(llama->error));
    QCOMPARE(llama->origin, QStringLiteral("from Ollama: llama3.2:3b, llama3.2:latest"));
    QCOMPARE(llama->source, QStringLiteral("Ollama"));
    QVERIFY(llama->otherApp);
    QCOMPARE(llama->architecture, QStringLiteral("llama"));
    // The blob itself, loaded in place.
    QCOMPARE(llama->path, m_ollama + QLatin1String("/blobs/sha256-") + m_llamaDigest.mid(7));
    QCOMPARE(llama->fileSize, QFileInfo(dataFile("arch/llama.gguf")).size());
    const LocalModel* gemma =
        findByName(result.models, QStringLiteral("hf.co/bartowski/Gemma-GGUF:Q4_K_M"));
    QVERIFY(gemma);
    QCOMPARE(gemma->architecture, QStringLiteral("gemma3"));

    // Every broken manifest is skipped, saying why.
    const QStringList& skipped = result.skipped;
    QVERIFY2(anyContains(skipped, QStringLiteral("library/missing/latest"),
                         QStringLiteral("is missing")),
             qPrintable(skipped.join('\n')));
    QVERIFY(anyContains(skipped, QStringLiteral("library/license/latest"),
                        QStringLiteral("not a GGUF file")));
    QVERIFY(anyContains(skipped, QStringLiteral("library/escape/latest"),
                        QStringLiteral("not sha256:<64 hex digits>")));
    QVERIFY(anyContains(skipped, QStringLiteral("library/notjson/latest"),
                        QStringLiteral("Ollama manifest skipped")));
    QVERIFY(anyContains(skipped, QStringLiteral("library/deep/latest"), QStringLiteral("512")));
    QVERIFY(anyContains(skipped, QStringLiteral("library/huge/latest"),
                        QStringLiteral("larger than 1048576 bytes")));
    QVERIFY(anyContains(skipped, QStringLiteral("library/nolayer/latest"),
                        QStringLiteral("no layer of type application/vnd.ollama.image.model")));
}

void TestFoundModels::ollamaNames() {
    QCOMPARE(OllamaModels::modelName({"registry.ollama.ai", "library", "qwen2.5", "7b"}),
             QStringLiteral("qwen2.5:7b"));
    QCOMPARE(OllamaModels::modelName({"registry.ollama.ai", "someone", "tiny", "latest"}),
             QStringLiteral("someone/tiny:latest"));
    QCOMPARE(OllamaModels::modelName({"hf.co", "bartowski", "X-GGUF", "Q8_0"}),
             QStringLiteral("hf.co/bartowski/X-GGUF:Q8_0"));
}

void TestFoundModels::hostileTrees() {
    const QString tree = m_root.path() + QLatin1String("/hostile");
    copyFile(dataFile("arch/llama.gguf"), tree + QLatin1String("/a/real.gguf"));
    // Loops: a folder linking to its parent, two folders linking to each other.
    link(tree + QLatin1String("/a"), tree + QLatin1String("/a/loop"));
    link(tree + QLatin1String("/b2"), tree + QLatin1String("/b1"));
    link(tree + QLatin1String("/b1"), tree + QLatin1String("/b2"));
    // FIFOs: named *.gguf, linked as *.gguf, and as the second part of a split model.
    makeFifo(tree + QLatin1String("/pipe.gguf"));
    makeFifo(tree + QLatin1String("/hidden-pipe"));
    link(tree + QLatin1String("/hidden-pipe"), tree + QLatin1String("/linked-pipe.gguf"));
    copyFile(dataFile("arch/llama.gguf"), tree + QLatin1String("/split-00001-of-00002.gguf"));
    makeFifo(tree + QLatin1String("/split-00002-of-00002.gguf"));
    link(QStringLiteral("/dev/zero"), tree + QLatin1String("/device.gguf"));
    // Ollama: a FIFO as a manifest, and a manifest naming a FIFO blob.
    const QString ollama = m_root.path() + QLatin1String("/hostile-ollama");
    makeFifo(ollama + QLatin1String("/manifests/registry.ollama.ai/library/pipe/latest"));
    const QString fifoHex(64, QLatin1Char('f'));
    makeFifo(ollama + QLatin1String("/blobs/sha256-") + fifoHex);
    writeFile(ollama + QLatin1String("/manifests/registry.ollama.ai/library/pipeblob/latest"),
              manifest(QStringLiteral("sha256:") + fifoHex));
    m_fifos = {tree + QLatin1String("/pipe.gguf"), tree + QLatin1String("/hidden-pipe"),
               tree + QLatin1String("/split-00002-of-00002.gguf"),
               ollama + QLatin1String("/manifests/registry.ollama.ai/library/pipe/latest"),
               ollama + QLatin1String("/blobs/sha256-") + fifoHex};

    bool timedOut = false;
    QElapsedTimer clock;
    clock.start();
    const ScanResult result =
        scanWithDeadline({{tree, QStringLiteral("Folder")},
                          {ollama, QStringLiteral("Ollama"), ScanRoot::Layout::Ollama, true}},
                         m_fifos, &timedOut);
    QVERIFY2(!timedOut, "the scan blocked (a FIFO opened, or a symlink loop followed)");
    qInfo("hostile tree scanned in %lld ms", clock.elapsed());

    QStringList names;
    for (const LocalModel& model : result.models) {
        names << model.name;
    }
    // The real model once, whichever loop reaches it; the split model with what is wrong.
    QCOMPARE(names, (QStringList{"real", "split"}));
    const LocalModel* split = findByName(result.models, QStringLiteral("split"));
    QVERIFY(split);
    QCOMPARE(
        split->error,
        QStringLiteral("part 2 of 2 (split-00002-of-00002.gguf): not a regular file (a FIFO)"));
    const QStringList& skipped = result.skipped;
    QVERIFY2(anyContains(skipped, QStringLiteral("/pipe.gguf"), QStringLiteral("a FIFO")),
             qPrintable(skipped.join('\n')));
    QVERIFY(anyContains(skipped, QStringLiteral("/linked-pipe.gguf"), QStringLiteral("a FIFO")));
    QVERIFY(anyContains(skipped, QStringLiteral("/device.gguf"), QStringLiteral("a device")));
    QVERIFY(anyContains(skipped, QStringLiteral("library/pipe/latest"), QStringLiteral("a FIFO")));
    QVERIFY(anyContains(skipped, QStringLiteral("library/pipeblob/latest"),
                        QStringLiteral("not a regular file (a FIFO)")));
}

void TestFoundModels::limits() {
    const QString tree = m_root.path() + QLatin1String("/limits");
    // A model 10 folders down.
    QString deep = tree + QLatin1String("/deep");
    for (int level = 0; level < 10; ++level) {
        deep += QStringLiteral("/%1").arg(level);
    }
    copyFile(dataFile("gguf/tiny.gguf"), deep + QLatin1String("/deep.gguf"));
    // Three models and many other files in one folder.
    for (const char* name : {"m1", "m2", "m3"}) {
        copyFile(dataFile("gguf/tiny.gguf"), tree + QStringLiteral("/flat/%1.gguf").arg(name));
    }
    for (int i = 0; i < 40; ++i) {
        writeFile(tree + QStringLiteral("/flat/notes-%1.txt").arg(i), "x");
    }
    const QList<ScanRoot> roots{{tree + QLatin1String("/deep"), QStringLiteral("Folder")},
                                {tree + QLatin1String("/flat"), QStringLiteral("Folder")}};

    ScanResult result = ModelScan::scan(roots);
    QCOMPARE(result.models.size(), 3); // the default depth (8) does not reach deep.gguf
    QVERIFY2(anyContains(result.skipped, QStringLiteral("/deep/0/1/2/3/4/5/6/7/8"),
                         QStringLiteral("deeper than 8 folders")),
             qPrintable(result.skipped.join('\n')));

    ScanLimits limits;
    limits.maxDepth = 12;
    result = ModelScan::scan(roots, limits);
    QCOMPARE(result.models.size(), 4);
    QCOMPARE(result.models.first().name, QStringLiteral("deep"));

    // The entry budget is per root: the deep chain (11 entries) fits 20, the flat folder's 43
    // do not.
    limits.maxEntries = 20;
    result = ModelScan::scan(roots, limits);
    QVERIFY(anyContains(result.skipped, tree + QLatin1String("/flat"),
                        QStringLiteral("stopped after 20 entries")));
    QVERIFY(findByName(result.models, QStringLiteral("deep")));

    limits.maxEntries = 1000;
    limits.maxModels = 2;
    result = ModelScan::scan(roots, limits);
    QCOMPARE(result.models.size(), 2);
    QVERIFY(anyContains(result.skipped, QStringLiteral("m2.gguf"),
                        QStringLiteral("the scan stops after 2 model files")));

    limits.maxModels = 1000;
    limits.maxNotes = 1;
    limits.maxDepth = 0;
    result = ModelScan::scan({{tree, QStringLiteral("Folder")}}, limits);
    QCOMPARE(result.skipped.size(), 2);
    QCOMPARE(result.skipped.last(), QStringLiteral("(1 more skipped entries not listed)"));
}

void TestFoundModels::stopRequest() {
    int asked = 0;
    const ScanResult result = ModelScan::scan(ModelScan::otherAppRoots(), {}, [&asked] {
        ++asked;
        return true;
    });
    QVERIFY(asked > 0);
    QVERIFY(result.models.isEmpty());
}

void TestFoundModels::library() {
    ModelLibrary library;
    QSignalSpy finished(&library, &ModelLibrary::scanFinished);
    QTest::ignoreMessage(QtInfoMsg,
                         QRegularExpression(QStringLiteral("library/missing/latest: .*missing")));
    QTest::failOnWarning(QRegularExpression(QStringLiteral(".")));
    library.rescan();
    QVERIFY(finished.wait(kScanDeadlineMs));

    // LM Studio 2, GPT4All 1, Hugging Face 1, Ollama 2; nothing in Hearth's folder.
    QCOMPARE(library.rowCount(), 6);
    QCOMPARE(library.usableCount(), 6);
    QCOMPARE(library.otherAppCount(), 6);
    QCOMPARE(library.usableModels().size(), 6);
    const QString blob = m_ollama + QLatin1String("/blobs/sha256-") + m_llamaDigest.mid(7);
    bool offered = false;
    for (const QVariant& value : library.usableModels()) {
        const QVariantMap model = value.toMap();
        if (model.value("path").toString() == blob) {
            offered = true;
            QCOMPARE(model.value("name").toString(), QStringLiteral("llama3.2:3b"));
            QCOMPARE(model.value("origin").toString(),
                     QStringLiteral("from Ollama: llama3.2:3b, llama3.2:latest"));
            QVERIFY(model.value("details").toString().startsWith(QStringLiteral("llama · ")));
        }
    }
    QVERIFY(offered);
    QVERIFY(anyContains(library.skipped(), QStringLiteral("library/license/latest"),
                        QStringLiteral("not a GGUF file")));
    QStringList origins;
    for (int row = 0; row < library.rowCount(); ++row) {
        const QModelIndex index = library.index(row);
        QVERIFY(library.data(index, ModelLibrary::OtherAppRole).toBool());
        origins << library.data(index, ModelLibrary::OriginRole).toString();
    }
    QVERIFY2(origins.contains(QStringLiteral("from Ollama: llama3.2:3b, llama3.2:latest")) &&
                 origins.contains(QStringLiteral("from LM Studio")) &&
                 origins.contains(QStringLiteral("from GPT4All")),
             qPrintable(origins.join('\n')));
    QCOMPARE(library.nameOf(blob), QStringLiteral("llama3.2:3b"));
    QCOMPARE(library.nameOf(QStringLiteral("/nowhere.gguf")), QString());
    QVERIFY(library.otherAppFolders().contains(QStringLiteral("Ollama: ") + m_ollama));

    // A model that cannot be read is listed, but not among the usable ones.
    writeFile(m_home + QLatin1String("/.local/share/nomic.ai/GPT4All/broken.gguf"), "GGUFxx");
    library.rescan();
    QVERIFY(finished.wait(kScanDeadlineMs));
    QCOMPARE(library.rowCount(), 7);
    QCOMPARE(library.usableCount(), 6);
    QCOMPARE(library.usableModels().size(), 6);
    QFile::remove(m_home + QLatin1String("/.local/share/nomic.ai/GPT4All/broken.gguf"));
}

QTEST_GUILESS_MAIN(TestFoundModels)
#include "tst_found_models.moc"
