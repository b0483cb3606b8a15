// The app's Local server (issue 19's switch), headless on the default model in the chat's
// controller: the server starts on a free port beside the chat, a real HTTP chat completion
// answers while a chat reply runs in the same batch, the chat's greedy reply is what it is
// alone (and what the server answers for the same message), and the figures count it; a port
// another program holds fails in words and turns the switch off; turning off ends an open
// stream and frees the port; the slots change while idle; memory that does not fit is refused
// with the arithmetic; an API key is asked for and never written to the settings; unloading
// stops the server and says so, and a model loaded with the switch on (or the app started
// again) serves again.
#include "chat_controller.h"
#include "engine_worker.h"
#include "isolated_profile.h"
#include "test_support.h"

#include <QEventLoop>
#include <QFile>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QNetworkAccessManager>
#include <QNetworkReply>
#include <QSettings>
#include <QTcpServer>
#include <QTemporaryDir>
#include <QtTest>
#include <memory>

namespace {

constexpr int kWait = 180000; // ms: progress bounds these waits, not speed
const QString kQuestion = QStringLiteral("What is the capital of France?");
constexpr int kMaxTokens = 40;

bool portFree(int port) {
    QTcpServer probe;
    return probe.listen(QHostAddress::LocalHost, quint16(port));
}

QNetworkRequest jsonRequest(const QString& url, const QString& key = {}) {
    QNetworkRequest request{QUrl(url)};
    request.setHeader(QNetworkRequest::ContentTypeHeader, QStringLiteral("application/json"));
    if (!key.isEmpty()) {
        request.setRawHeader("Authorization", "Bearer " + key.toUtf8());
    }
    return request;
}

int status(QNetworkReply* reply) {
    return reply->attribute(QNetworkRequest::HttpStatusCodeAttribute).toInt();
}

// Waits for `reply` to finish (its progress is the bound) and returns its body.
QByteArray finish(QNetworkReply* reply) {
    if (!reply->isFinished()) {
        QEventLoop loop;
        QObject::connect(reply, &QNetworkReply::finished, &loop, &QEventLoop::quit);
        loop.exec();
    }
    return reply->readAll();
}

QByteArray chatBody(const QString& text, int maxTokens, bool stream = false) {
    const QJsonObject body{{QStringLiteral("messages"),
                            QJsonArray{QJsonObject{{QStringLiteral("role"), QStringLiteral("user")},
                                                   {QStringLiteral("content"), text}}}},
                           {QStringLiteral("temperature"), 0},
                           {QStringLiteral("repeat_penalty"), 1},
                           {QStringLiteral("max_tokens"), maxTokens},
                           {QStringLiteral("stream"), stream}};
    return QJsonDocument(body).toJson(QJsonDocument::Compact);
}

// A raw completion that counts on and on: it stops at max_tokens, not at an end token.
QByteArray countingBody(int maxTokens) {
    const QJsonObject body{{QStringLiteral("prompt"), QStringLiteral("1, 2, 3, 4, 5, 6, 7,")},
                           {QStringLiteral("temperature"), 0},
                           {QStringLiteral("max_tokens"), maxTokens},
                           {QStringLiteral("stream"), true}};
    return QJsonDocument(body).toJson(QJsonDocument::Compact);
}

// Waits for a start (after a model's load, if need be) to end either way; says why it failed.
#define VERIFY_RUNNING(server)                                                                     \
    do {                                                                                           \
        QTRY_VERIFY_WITH_TIMEOUT((server).state() == LocalServer::State::Running ||                \
                                     (server).state() == LocalServer::State::Off,                  \
                                 kWait);                                                           \
        QVERIFY2((server).state() == LocalServer::State::Running,                                  \
                 qPrintable(QStringLiteral("state %1: %2 %3")                                      \
                                .arg(int((server).state()))                                        \
                                .arg((server).error(), (server).note())));                         \
    } while (false)

} // namespace

class TestLocalServer : public QObject {
    Q_OBJECT

private slots:
    void initTestCase() {
        QVERIFY(m_root.isValid());
        useIsolatedProfile(m_root.path(), QStringLiteral("tst_local_server"));
        HEARTH_REQUIRE_DEFAULT_MODEL(path);
        m_model = QString::fromStdString(path.string());
    }

    void cleanup() { m_chat.reset(); }

    void servesBesideTheChat() {
        ChatController& chat = open();
        LocalServer& server = *chat.server();
        QCOMPARE(server.state(), LocalServer::State::Off);
        QCOMPARE(server.port(), LocalServer::kDefaultPort); // the default, before any change

        // The chat's reply alone, the server off.
        const QString alone = reply(chat, kQuestion);
        qInfo("the chat's reply alone: %s", qPrintable(alone));
        QVERIFY(!alone.trimmed().isEmpty());

        const int port = hearth::test::free_port();
        QVERIFY(port > 0);
        server.setPort(port);
        server.setServerSlots(2);
        QVERIFY2(server.memoryText().startsWith(QStringLiteral("2 slots × ")),
                 qPrintable(server.memoryText())); // shown before it is spent
        server.setEnabled(true);
        VERIFY_RUNNING(server);
        qInfo("serving at %s", qPrintable(server.url()));
        const QString base = QStringLiteral("http://127.0.0.1:%1/v1").arg(port);
        QCOMPARE(server.url(), base);
        QCOMPARE(QSettings().value("server/port").toInt(), port);
        QCOMPARE(QSettings().value("server/slots").toInt(), 2);
        QCOMPARE(QSettings().value("server/enabled").toBool(), true);
        QTRY_COMPARE_WITH_TIMEOUT(server.slotCount(), 3, kWait); // the chat's and the server's

        // A long streamed completion runs; the chat's reply starts beside it and ends first.
        QNetworkAccessManager http;
        std::unique_ptr<QNetworkReply> counting(
            http.post(jsonRequest(base + QStringLiteral("/completions")), countingBody(240)));
        QTRY_VERIFY_WITH_TIMEOUT(counting->bytesAvailable() > 0 || counting->isFinished(), kWait);
        QVERIFY2(!counting->isFinished(), counting->readAll().constData());
        QTRY_VERIFY_WITH_TIMEOUT(server.requestsInFlight() == 1, kWait);
        chat.newConversation();
        const QString together = reply(chat, kQuestion);
        QVERIFY2(!counting->isFinished(), "the server's request did not run beside the chat's");
        QCOMPARE(together, alone); // greedy: the batch changes nothing
        QVERIFY(server.serverSlotsBusy() <= 2);

        // The same question through the server: the chat's very reply.
        std::unique_ptr<QNetworkReply> asked(
            http.post(jsonRequest(base + QStringLiteral("/chat/completions")),
                      chatBody(kQuestion, kMaxTokens)));
        const QByteArray answer = finish(asked.get());
        QCOMPARE(status(asked.get()), 200);
        const QJsonObject completion = QJsonDocument::fromJson(answer).object();
        const QString content = completion["choices"][0]["message"]["content"].toString();
        QCOMPARE(content, alone);
        const QByteArray streamed = finish(counting.get());
        QCOMPARE(status(counting.get()), 200);
        QVERIFY(streamed.endsWith("data: [DONE]\n\n"));
        const int completionTokens = completion["usage"]["completion_tokens"].toInt();
        QVERIFY(completionTokens > 0);
        QTRY_COMPARE_WITH_TIMEOUT(server.requestsServed(), 2, kWait);
        QCOMPARE(server.requestsRefused(), 0);
        QCOMPARE(server.requestsInFlight(), 0);
        QTRY_COMPARE_WITH_TIMEOUT(server.tokensServed(), 240 + completionTokens, kWait);

        // "Copy as…" targets the running server.
        QVERIFY(chat.requestAs(0).contains(base + QStringLiteral("/chat/completions")));

        // Off with a stream open: it ends, its request is cancelled, the port is free and
        // the chat is back to its one slot.
        std::unique_ptr<QNetworkReply> open(
            http.post(jsonRequest(base + QStringLiteral("/completions")), countingBody(4000)));
        QTRY_VERIFY_WITH_TIMEOUT(open->bytesAvailable() > 0, kWait);
        server.setEnabled(false);
        QCOMPARE(server.state(), LocalServer::State::Off);
        QVERIFY(!QSettings().value("server/enabled").toBool());
        finish(open.get());
        QTRY_VERIFY_WITH_TIMEOUT(portFree(port), kWait);
        EngineWorker* worker = qobject_cast<EngineWorker*>(chat.engineWorker());
        QTRY_COMPARE_WITH_TIMEOUT(worker->serverSnapshot().slotCount, 1, kWait);
        QCOMPARE(worker->serverSnapshot().slotsBusy, 0); // the open stream's was cancelled
        QCOMPARE(worker->serverSnapshot().serving, false);
        // The chat still answers as before.
        chat.newConversation();
        QCOMPARE(reply(chat, kQuestion), alone);
    }

    void portInUseTurnsTheSwitchOff() {
        ChatController& chat = open();
        LocalServer& server = *chat.server();
        QTcpServer other;
        QVERIFY(other.listen(QHostAddress::LocalHost, 0));
        const int port = other.serverPort();
        server.setPort(port);
        server.setEnabled(true);
        QTRY_COMPARE_WITH_TIMEOUT(server.state(), LocalServer::State::Off, kWait);
        QVERIFY(!server.enabled());
        QVERIFY2(
            server.error().contains(QStringLiteral("port %1 is in use — choose another").arg(port)),
            qPrintable(server.error()));
        QVERIFY(!QSettings().value("server/enabled").toBool());
        // The chat lost nothing: its one slot, and it answers.
        EngineWorker* worker = qobject_cast<EngineWorker*>(chat.engineWorker());
        QTRY_COMPARE_WITH_TIMEOUT(worker->serverSnapshot().slotCount, 1, kWait);
        QVERIFY(!reply(chat, kQuestion).isEmpty());
    }

    void slotsChangeWhileIdleAndMemoryIsChecked() {
        ChatController& chat = open();
        LocalServer& server = *chat.server();
        EngineWorker* worker = qobject_cast<EngineWorker*>(chat.engineWorker());
        const int port = hearth::test::free_port();
        server.setPort(port);
        server.setServerSlots(1);
        server.setEnabled(true);
        VERIFY_RUNNING(server);
        QTRY_COMPARE_WITH_TIMEOUT(worker->serverSnapshot().slotCount, 2, kWait);
        server.setServerSlots(3);
        VERIFY_RUNNING(server);
        QTRY_COMPARE_WITH_TIMEOUT(worker->serverSnapshot().slotCount, 4, kWait);
        QNetworkAccessManager http;
        std::unique_ptr<QNetworkReply> health(http.get(
            QNetworkRequest(QUrl(QStringLiteral("http://127.0.0.1:%1/health").arg(port)))));
        const QJsonObject body = QJsonDocument::fromJson(finish(health.get())).object();
        QCOMPARE(body["slots_idle"].toInt(), 4);

        // More slots than the memory there is: refused with the arithmetic, nothing spent.
        worker->setServerAvailableMemory(1024);
        server.setServerSlots(8);
        QTRY_COMPARE_WITH_TIMEOUT(server.state(), LocalServer::State::Off, kWait);
        // 3 slots are held already: 5 more.
        QVERIFY2(server.error().contains(QStringLiteral("need 5 slots × ")) &&
                     server.error().contains(QStringLiteral("1.00 KiB of RAM is free")),
                 qPrintable(server.error()));
        QTRY_COMPARE_WITH_TIMEOUT(worker->serverSnapshot().slotCount, 1, kWait);
        QTRY_VERIFY_WITH_TIMEOUT(portFree(port), kWait);
        worker->setServerAvailableMemory(0);
    }

    void apiKeyAskedForAndNeverStored() {
        ChatController& chat = open();
        LocalServer& server = *chat.server();
        const int port = hearth::test::free_port();
        server.setPort(port);
        server.setServerSlots(1);
        const QString key = server.generateApiKey();
        QVERIFY(key.size() >= 40);
        QVERIFY(server.hasApiKey());
        server.setEnabled(true);
        VERIFY_RUNNING(server);
        const QString models = QStringLiteral("http://127.0.0.1:%1/v1/models").arg(port);
        QNetworkAccessManager http;
        std::unique_ptr<QNetworkReply> without(http.get(jsonRequest(models)));
        finish(without.get());
        QCOMPARE(status(without.get()), 401);
        std::unique_ptr<QNetworkReply> with(http.get(jsonRequest(models, key)));
        finish(with.get());
        QCOMPARE(status(with.get()), 200);
        QTRY_COMPARE_WITH_TIMEOUT(server.requestsRefused(), 1, kWait);
        // "Copy as…" names the key's variable, never the key.
        const QString command = chat.requestAs(0);
        QVERIFY(command.contains(QStringLiteral("$HEARTH_API_KEY")));
        QVERIFY(!command.contains(key));
        QSettings().sync();
        QFile file(QSettings().fileName());
        QVERIFY(file.open(QIODevice::ReadOnly));
        QVERIFY(!file.readAll().contains(key.toUtf8()));
        server.setEnabled(false);
    }

    void unloadStopsAndALoadStartsAgain() {
        const int port = hearth::test::free_port();
        {
            ChatController& chat = open();
            LocalServer& server = *chat.server();
            server.setPort(port);
            server.setServerSlots(1);
            server.setEnabled(true);
            VERIFY_RUNNING(server);
            chat.unloadModel();
            QTRY_COMPARE_WITH_TIMEOUT(server.state(), LocalServer::State::Waiting, kWait);
            QTRY_VERIFY_WITH_TIMEOUT(
                server.note().contains(QStringLiteral("the model was unloaded")), kWait);
            QVERIFY(server.enabled()); // the switch stays on
            QTRY_VERIFY_WITH_TIMEOUT(portFree(port), kWait);
            chat.loadModel(m_model);
            VERIFY_RUNNING(server);
            QVERIFY(!portFree(port));
        }
        // The app started again: the switch's state, port and slots persist.
        m_chat.reset();
        QVERIFY(portFree(port));
        ChatController& again = open();
        QVERIFY(again.server()->enabled());
        QCOMPARE(again.server()->port(), port);
        VERIFY_RUNNING(*again.server());
        QVERIFY(!portFree(port));
        again.server()->setEnabled(false);
    }

private:
    ChatController& open() {
        m_chat = std::make_unique<ChatController>();
        m_chat->library()->setContextLength(1024);
        m_chat->start(m_model);
        if (!QTest::qWaitFor(
                [&] { return m_chat->modelState() == ChatController::ModelState::Ready; }, kWait)) {
            qFatal("the default model did not load: %s", qPrintable(m_chat->modelError()));
        }
        m_chat->sampling()->applyPreset(QStringLiteral("Greedy"));
        m_chat->sampling()->setMaxTokens(kMaxTokens);
        return *m_chat;
    }

    // Sends `text` in the current conversation and returns the reply once it ends.
    static QString reply(ChatController& chat, const QString& text) {
        QSignalSpy finished(&chat, &ChatController::replyFinished);
        if (!chat.send(text)) {
            return {};
        }
        if (!QTest::qWaitFor([&] { return finished.count() > 0; }, kWait)) {
            return {};
        }
        const QList<Message> messages = chat.messages()->messages();
        return messages.isEmpty() ? QString() : messages.last().text;
    }

    QTemporaryDir m_root;
    QString m_model;
    std::unique_ptr<ChatController> m_chat;
};

QTEST_MAIN(TestLocalServer)
#include "tst_local_server.moc"
