// A new user's first run, end to end in the real window (Main.qml, offscreen) with a fresh
// profile and a fake home: no model, so the empty state offers the catalog's recommended
// model and the model LM Studio already downloaded ("1 model found on this computer, 1 from
// other apps"; the Models panel's row says "from LM Studio"); Load uses that file where it
// is. Then, with no model again, one click on the recommended model's button: the Hub's
// listing and the file come from a local server on 127.0.0.1 standing in for Hugging Face
// (redirecting the download to a slow "CDN", as the Hub does), the progress bar moves, the
// downloader checks the SHA-256, and the model is loaded. "Browse the catalog" opens the Models
// panel's Download tab. Then what a failed download says: a checksum that does not match, a
// repository the Hub does not have.
#include "chat_controller.h"
#include "download_test_server.h"
#include "test_support.h"

#include <QCryptographicHash>
#include <QGuiApplication>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QQmlApplicationEngine>
#include <QQuickItem>
#include <QQuickStyle>
#include <QQuickWindow>
#include <QSettings>
#include <QTemporaryDir>
#include <QtQml/qqmlextensionplugin.h>
#include <QtTest>
#include <memory>

Q_IMPORT_QML_PLUGIN(HearthPlugin)

namespace {

// What the catalog recommends (resources/catalog.json): the repository and its first file.
const QString kRepo = QStringLiteral("bartowski/SmolLM2-135M-Instruct-GGUF");
const QString kFile = QStringLiteral("SmolLM2-135M-Instruct-Q4_K_M.gguf");
constexpr int kLoadMs = 120000;
constexpr int kDownloadMs = 60000;

QByteArray readAll(const QString& path) {
    QFile file(path);
    return file.open(QIODevice::ReadOnly) ? file.readAll() : QByteArray();
}

QString sha256Hex(const QByteArray& bytes) {
    return QString::fromLatin1(QCryptographicHash::hash(bytes, QCryptographicHash::Sha256).toHex());
}

// The Hub's tree listing of the recommended repository, as /api/models/.../tree/main gives it.
QByteArray listing(const QByteArray& file, const QString& sha256) {
    const QJsonArray tree{
        QJsonObject{{"type", "file"}, {"path", "README.md"}, {"size", 10}},
        QJsonObject{{"type", "file"},
                    {"path", kFile},
                    {"size", 135},
                    {"lfs", QJsonObject{{"oid", sha256}, {"size", file.size()}}}}};
    return QJsonDocument(tree).toJson();
}

QQuickItem* findItem(QQuickWindow* window, const char* name) {
    return window->findChild<QQuickItem*>(QLatin1String(name));
}

// A mouse click in the middle of `item`, as a user's. False when it is not there to click.
bool click(QQuickWindow* window, QQuickItem* item) {
    if (!item || !item->isVisible()) {
        qWarning("nothing visible to click: %s", item ? qPrintable(item->objectName()) : "null");
        return false;
    }
    const QPointF centre = item->mapToScene(QPointF(item->width() / 2, item->height() / 2));
    QTest::mouseClick(window, Qt::LeftButton, {}, centre.toPoint());
    return true;
}

// The first visible item called `name` below `parent` in the item tree (a Repeater's
// delegates are its parent item's children there, not QObject children).
QQuickItem* findVisible(QQuickItem* parent, const QString& name) {
    for (QQuickItem* child : parent->childItems()) {
        if (child->objectName() == name && child->isVisible()) {
            return child;
        }
        if (QQuickItem* found = findVisible(child, name)) {
            return found;
        }
    }
    return nullptr;
}

// The texts of the labels called `name` below `parent`, shown or not.
QStringList textsOf(QQuickItem* parent, const QString& name) {
    QStringList texts;
    for (QQuickItem* child : parent->childItems()) {
        if (child->objectName() == name) {
            texts << child->property("text").toString();
        }
        texts << textsOf(child, name);
    }
    return texts;
}

} // namespace

class TestFirstRun : public QObject {
    Q_OBJECT

private slots:
    void initTestCase();
    void emptyStateDownloadsAndLoads();
    void checksumMismatchSaysSo();
    void unknownRepositorySaysSo();

private:
    std::unique_ptr<hearth::test::DownloadTestServer> m_server;
    QByteArray m_model; // the recommended file's bytes (a tiny real llama model)
};

void TestFirstRun::initTestCase() {
    m_server = std::make_unique<hearth::test::DownloadTestServer>();
    QVERIFY(m_server->listen());
    qputenv("HEARTH_HF_ENDPOINT", m_server->url(QString()).toString().toUtf8());
    m_model =
        readAll(QString::fromStdString((hearth::test::data_dir() / "arch/llama.gguf").string()));
    QVERIFY(m_model.size() > 100000);
    m_server->addFile(kFile, m_model);
    // The Hub answers the download with a redirect to its CDN; here a slow one, so that the
    // progress shows.
    m_server->setSlowInterval(40);
    m_server->setRedirect(QStringLiteral("/%1/resolve/main/%2").arg(kRepo, kFile),
                          QStringLiteral("/slow/") + kFile);
}

void TestFirstRun::emptyStateDownloadsAndLoads() {
    const QString sha = sha256Hex(m_model);
    m_server->setListing(kRepo, listing(m_model, sha));
    const QString modelsDir = qEnvironmentVariable("HEARTH_MODELS_DIR");
    // LM Studio's download, in the fake home.
    const QString lmStudioModel =
        QDir::homePath() + QStringLiteral("/.lmstudio/models/someone/Tiny-GGUF/tiny-qwen2.gguf");
    QDir().mkpath(QFileInfo(lmStudioModel).absolutePath());
    QVERIFY(
        QFile::copy(QString::fromStdString((hearth::test::data_dir() / "arch/qwen2.gguf").string()),
                    lmStudioModel));

    QQmlApplicationEngine engine;
    engine.load(QUrl(QStringLiteral("qrc:/qt/qml/Hearth/Main.qml")));
    QCOMPARE(engine.rootObjects().size(), 1);
    auto* window = qobject_cast<QQuickWindow*>(engine.rootObjects().first());
    QVERIFY(window);
    auto* chat = window->property("controller").value<ChatController*>();
    QVERIFY(chat);
    QVERIFY(QTest::qWaitForWindowExposed(window));
    QCOMPARE(chat->modelState(), ChatController::ModelState::NoModel);

    // 1. The empty state: the recommended model, and what is already on this computer.
    QQuickItem* firstRun = findItem(window, "firstRun");
    QVERIFY(firstRun && firstRun->isVisible());
    QQuickItem* name = findItem(window, "recommendedName");
    QVERIFY(name);
    QCOMPARE(name->property("text").toString(), QStringLiteral("Start with SmolLM2 135M Instruct"));
    QTRY_VERIFY_WITH_TIMEOUT(!chat->library()->scanning() && chat->library()->usableCount() == 1,
                             20000);
    QQuickItem* count = findItem(window, "foundCount");
    QVERIFY(count && count->isVisible());
    QCOMPARE(count->property("text").toString(),
             QStringLiteral("1 model found on this computer, 1 from other apps. They load from "
                            "where they are; nothing is copied."));
    // The Models panel's row says where it came from.
    QCOMPARE(textsOf(window->contentItem(), QStringLiteral("modelOrigin")),
             QStringList{QStringLiteral("from LM Studio")});

    // 2. Load what LM Studio downloaded, where it is.
    QVERIFY(click(window, findVisible(firstRun, QStringLiteral("loadFound"))));
    QTRY_COMPARE_WITH_TIMEOUT(chat->modelState(), ChatController::ModelState::Ready, kLoadMs);
    QCOMPARE(chat->modelPath(), lmStudioModel);
    QCOMPARE(chat->modelName(), QStringLiteral("tiny-qwen2"));
    QVERIFY(!firstRun->isVisible());
    QVERIFY(QDir(modelsDir).entryList(QDir::Files).isEmpty()); // nothing copied
    chat->unloadModel();
    QVERIFY(firstRun->isVisible());

    // 3. "Browse the catalog…": the Models panel, on its Download tab.
    QVERIFY(click(window, findItem(window, "browseCatalog")));
    QTRY_COMPARE(QSettings().value(QStringLiteral("panels/right")).toString(),
                 QStringLiteral("models"));
    QQuickItem* downloadPage = findItem(window, "downloadPage");
    QVERIFY(downloadPage);
    QTRY_VERIFY(downloadPage->isVisible());

    // 4. One click: listing, download (watched on the progress bar), check, load.
    RecommendedModel* recommended = chat->recommended();
    QQuickItem* progress = findItem(window, "recommendedProgress");
    QVERIFY(progress);
    QList<RecommendedModel::State> states;
    QList<double> shownProgress;
    connect(recommended, &RecommendedModel::changed, this, [&] {
        if (states.isEmpty() || states.last() != recommended->state()) {
            states << recommended->state();
        }
        if (progress->isVisible()) {
            shownProgress << progress->property("value").toDouble();
        }
    });
    QVERIFY(click(window, findItem(window, "downloadRecommended")));
    QCOMPARE(recommended->state(), RecommendedModel::State::Preparing);
    QTRY_COMPARE_WITH_TIMEOUT(recommended->state(), RecommendedModel::State::Downloading,
                              kDownloadMs);
    QTRY_VERIFY_WITH_TIMEOUT(!recommended->progressText().isEmpty(), kDownloadMs);
    QTRY_COMPARE_WITH_TIMEOUT(chat->modelState(), ChatController::ModelState::Ready, kLoadMs);

    const QString downloaded = modelsDir + QLatin1Char('/') + kFile;
    QCOMPARE(chat->modelPath(), downloaded);
    QCOMPARE(recommended->state(), RecommendedModel::State::Downloaded);
    QCOMPARE(recommended->path(), downloaded);
    QCOMPARE(sha256Hex(readAll(downloaded)), sha);
    QCOMPARE(QDir(modelsDir).entryList(QDir::Files), QStringList{kFile}); // no .part left
    using State = RecommendedModel::State;
    QVERIFY(states.size() >= 3);
    QCOMPARE(states[0], State::Preparing);
    QCOMPARE(states[1], State::Downloading);
    QCOMPARE(states.last(), State::Downloaded);
    QVERIFY(!states.contains(State::Failed));
    // The bar moved through the transfer, not just from empty to full.
    const bool between = std::any_of(shownProgress.cbegin(), shownProgress.cend(),
                                     [](double value) { return value > 0 && value < 1; });
    QVERIFY2(between, "the progress bar showed no partial progress");
    // The file came through the Hub's URL, redirected, its header read first (a bounded Range).
    QCOMPARE(m_server->requestsFor(QStringLiteral("/api/models/") + kRepo).size(), 1);
    QCOMPARE(m_server->requestsFor(QStringLiteral("/%1/resolve/main/").arg(kRepo)).size(), 2);
    QCOMPARE(m_server->downloadsOf(QStringLiteral("/%1/resolve/main/").arg(kRepo)).size(), 1);
    QVERIFY(m_server->requestsFor(QStringLiteral("/slow/") + kFile).size() >= 1);

    // The chat is ready; the model is in the Models panel's list.
    QVERIFY(!firstRun->isVisible());
    QTRY_COMPARE_WITH_TIMEOUT(chat->library()->nameOf(downloaded),
                              QStringLiteral("SmolLM2-135M-Instruct-Q4_K_M"), 20000);
    chat->unloadModel();
}

void TestFirstRun::checksumMismatchSaysSo() {
    const QString modelsDir = qEnvironmentVariable("HEARTH_MODELS_DIR");
    QFile::remove(modelsDir + QLatin1Char('/') + kFile);
    m_server->setListing(kRepo, listing(m_model, QString(64, QLatin1Char('0'))));
    ChatController chat;
    RecommendedModel* recommended = chat.recommended();
    QCOMPARE(recommended->state(), RecommendedModel::State::Idle);
    recommended->download();
    QTRY_COMPARE_WITH_TIMEOUT(recommended->state(), RecommendedModel::State::Failed, kDownloadMs);
    QVERIFY2(recommended->error().contains(QStringLiteral("SHA-256 mismatch")),
             qPrintable(recommended->error()));
    QCOMPARE(chat.modelState(), ChatController::ModelState::NoModel);
    QVERIFY(!QFileInfo::exists(modelsDir + QLatin1Char('/') + kFile));

    // Fixed on the Hub: "Try again" fetches it afresh.
    m_server->setListing(kRepo, listing(m_model, sha256Hex(m_model)));
    recommended->download();
    QCOMPARE(recommended->state(), RecommendedModel::State::Preparing);
    QTRY_COMPARE_WITH_TIMEOUT(chat.modelState(), ChatController::ModelState::Ready, kLoadMs);
    QCOMPARE(recommended->state(), RecommendedModel::State::Downloaded);
}

void TestFirstRun::unknownRepositorySaysSo() {
    // A hub that has no such repository.
    hearth::test::DownloadTestServer empty;
    QVERIFY(empty.listen());
    qputenv("HEARTH_HF_ENDPOINT", empty.url(QString()).toString().toUtf8());
    ChatController chat;
    chat.recommended()->download();
    QTRY_COMPARE_WITH_TIMEOUT(chat.recommended()->state(), RecommendedModel::State::Failed,
                              kDownloadMs);
    QVERIFY2(chat.recommended()->error().contains(QStringLiteral("not found")),
             qPrintable(chat.recommended()->error()));
    QCOMPARE(chat.modelState(), ChatController::ModelState::NoModel);
    qputenv("HEARTH_HF_ENDPOINT", m_server->url(QString()).toString().toUtf8());
}

int main(int argc, char* argv[]) {
    // A fresh profile and an empty home: settings, conversations, models and other apps'
    // folders all in a temporary directory.
    QTemporaryDir profile;
    const QString home = profile.filePath(QStringLiteral("home"));
    QDir().mkpath(home);
    qputenv("HOME", home.toUtf8());
    qputenv("XDG_DATA_HOME", (home + QLatin1String("/.local/share")).toUtf8());
    qputenv("XDG_CONFIG_HOME", (home + QLatin1String("/.config")).toUtf8());
    qputenv("XDG_CACHE_HOME", (home + QLatin1String("/.cache")).toUtf8());
    qputenv("HEARTH_MODELS_DIR", profile.filePath(QStringLiteral("models")).toUtf8());
    qputenv("OLLAMA_MODELS", (home + QLatin1String("/.ollama/models")).toUtf8());
    for (const char* name :
         {"HF_HUB_CACHE", "HF_HOME", "HF_TOKEN", "HUGGING_FACE_HUB_TOKEN", "HF_ENDPOINT"}) {
        qunsetenv(name);
    }
    if (qEnvironmentVariableIsEmpty("QT_QPA_PLATFORM")) {
        qputenv("QT_QPA_PLATFORM", "offscreen");
    }
    QGuiApplication app(argc, argv);
    QCoreApplication::setApplicationName(QStringLiteral("hearth"));
    QCoreApplication::setOrganizationName(QStringLiteral("hearth"));
    QQuickStyle::setStyle(QStringLiteral("Basic"));
    TestFirstRun test;
    return QTest::qExec(&test, argc, argv);
}

#include "tst_first_run.moc"
