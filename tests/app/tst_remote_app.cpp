// Remote servers as models in the app (issue 20), end to end against Hearth's own OpenAI
// server started in-process on 127.0.0.1 with the default model: a "Remote server" entry
// (connection test, the model from /v1/models, the key never in the settings file), a chat
// streamed from it (greedy: the same text as `hearth-cli run` on the same model), Stop closing
// the stream, a refused connection and a 401 as errors in the chat with the conversation
// intact and Regenerate succeeding once the server is back or the key fixed, and the endpoint
// and model recorded per reply in the saved conversation.
#include "chat_controller.h"
#include "compare_controller.h"
#include "conversation.h"
#include "hearth/model.h"
#include "hearth/scheduler.h"
#include "hearth/server/server.h"
#include "remote_servers.h"
#include "test_support.h"

#include <QDir>
#include <QDirIterator>
#include <QFile>
#include <QGuiApplication>
#include <QSettings>
#include <QSignalSpy>
#include <QTemporaryDir>
#include <QtTest>
#include <memory>
#include <nlohmann/json.hpp>

namespace {

const QString kModelId = QStringLiteral("smollm2");
const QString kPrompt = QStringLiteral("What is the capital of France?");
constexpr int kGreedyTokens = 24;

// Everything under `dir`, concatenated: what a settings or conversation file may contain.
QByteArray allFiles(const QString& dir) {
    QByteArray all;
    QDirIterator it(dir, QDir::Files, QDirIterator::Subdirectories);
    while (it.hasNext()) {
        QFile file(it.next());
        if (file.open(QIODevice::ReadOnly)) {
            all += file.readAll();
        }
    }
    return all;
}

} // namespace

class TestRemoteApp : public QObject {
    Q_OBJECT

private slots:
    void initTestCase();
    void cleanupTestCase();
    void conversationRecordsEndpoint();
    void connectionTestAndEntry();
    void chatStreamsFromServer();
    void stopClosesStream();
    void refusedConnectionIsAnErrorThenRetry();
    void unauthorizedIsAnErrorThenNewKey();
    void compareRemoteColumnBesideLocal();

private:
    bool startServer(const std::string& apiKey);
    void stopServer() { m_server.reset(); }
    QString connectChat(ChatController& chat, const QString& apiKey = {});
    bool sendAndWait(ChatController& chat, const QString& text, QString* stopReason);

    std::shared_ptr<const hearth::Model> m_model;
    std::unique_ptr<hearth::Scheduler> m_scheduler;
    std::unique_ptr<hearth::server::OpenAiServer> m_server;
    int m_port = 0;
    QString m_url;
    bool m_haveModel = false;
};

bool TestRemoteApp::startServer(const std::string& apiKey) {
    m_server.reset();
    hearth::server::ServerOptions options;
    options.port = m_port; // 0 the first time; then the same port, as a server restarted
    options.model_id = kModelId.toStdString();
    options.api_key = apiKey;
    auto server = hearth::server::OpenAiServer::start(m_model, *m_scheduler, options);
    if (!server) {
        qWarning("server: %s", server.error().message.c_str());
        return false;
    }
    m_server = std::move(*server);
    m_port = m_server->port();
    m_url = QString::fromStdString(m_server->url());
    return true;
}

void TestRemoteApp::initTestCase() {
    const std::filesystem::path path = hearth::test::default_model_path();
    if (!std::filesystem::exists(path)) {
        return; // each test skips (or fails with HEARTH_REQUIRE_MODEL)
    }
    auto model = hearth::Model::load(path);
    QVERIFY2(model, model ? "" : model.error().message.c_str());
    m_model = *model;
    hearth::SchedulerOptions options;
    options.n_slots = 1;
    options.session.n_ctx = 2048;
    auto scheduler = hearth::Scheduler::create(m_model, options);
    QVERIFY2(scheduler, scheduler ? "" : scheduler.error().message.c_str());
    m_scheduler = std::move(*scheduler);
    QVERIFY(startServer(""));
    m_haveModel = true;
}

void TestRemoteApp::cleanupTestCase() {
    m_server.reset();
    m_scheduler.reset();
}

// Adds the server as a Remote server entry and loads it; the entry's path.
QString TestRemoteApp::connectChat(ChatController& chat, const QString& apiKey) {
    const QString path =
        chat.remoteServers()->add(QStringLiteral("Test server"), m_url, apiKey, kModelId);
    if (path.isEmpty()) {
        return {};
    }
    chat.loadModel(path);
    (void)QTest::qWaitFor([&] { return chat.modelState() != ChatController::ModelState::Loading; },
                          60000);
    return path;
}

bool TestRemoteApp::sendAndWait(ChatController& chat, const QString& text, QString* stopReason) {
    QSignalSpy finished(&chat, &ChatController::replyFinished);
    if (!chat.send(text) || !finished.wait(300000)) {
        return false;
    }
    *stopReason = finished.at(0).at(0).toString();
    return true;
}

void TestRemoteApp::conversationRecordsEndpoint() {
    Conversation conversation = Conversation::create();
    Message reply{QStringLiteral("assistant"), QStringLiteral("Par"), {}, {}};
    reply.stats.generatedTokens = 2;
    reply.stats.stopReason = QStringLiteral("error");
    reply.stats.endpoint = QStringLiteral("http://gpu-box:8000/v1");
    reply.stats.model = QStringLiteral("llama-70b");
    reply.stats.error = QStringLiteral("the stream stopped");
    conversation.messages = {{QStringLiteral("user"), kPrompt, {}, {}}, reply};
    const auto json = conversationToJson(conversation);
    QCOMPARE(json["messages"][1]["stats"]["endpoint"].get<std::string>(),
             std::string("http://gpu-box:8000/v1"));
    QVERIFY(!json["messages"][0].contains("stats"));
    Conversation back;
    QString error;
    QVERIFY2(conversationFromJson(json, &back, &error), qPrintable(error));
    QCOMPARE(back.messages.at(1).stats.model, QStringLiteral("llama-70b"));
    QCOMPARE(back.messages.at(1).stats.error, QStringLiteral("the stream stopped"));
    QCOMPARE(back.messages.at(1).stats.answeredBy(),
             QStringLiteral("llama-70b · http://gpu-box:8000/v1"));
    // A hostile value is refused by name.
    auto bad = json;
    bad["messages"][1]["stats"]["endpoint"] = 42;
    QVERIFY(!conversationFromJson(bad, &back, &error));
    QVERIFY2(error.contains(QStringLiteral("endpoint")), qPrintable(error));
}

void TestRemoteApp::connectionTestAndEntry() {
    HEARTH_REQUIRE_DEFAULT_MODEL(modelPath);
    RemoteServers servers;
    QSignalSpy tested(&servers, &RemoteServers::testFinished);
    servers.testConnection(m_url, QString());
    QVERIFY(tested.wait(60000));
    QVariantMap result = servers.testResult();
    QVERIFY2(result.value("ok").toBool(), qPrintable(result.value("error").toString()));
    QVERIFY2(result.value("server").toString().contains(QStringLiteral("Hearth")),
             qPrintable(result.value("server").toString()));
    QVERIFY(result.value("models").toStringList().contains(kModelId));
    QVERIFY(result.value("completions").toBool()); // Hearth serves /v1/completions

    // Nothing listens there: the test says so rather than hanging or passing.
    servers.testConnection(QStringLiteral("http://127.0.0.1:1/v1"), QString());
    QVERIFY(tested.wait(60000));
    result = servers.testResult();
    QVERIFY(!result.value("ok").toBool());
    QVERIFY(!result.value("error").toString().isEmpty());

    // A URL that does not parse is refused with a reason; a key in the URL too.
    QVERIFY(servers.add(QString(), QStringLiteral("ftp://host"), QString(), kModelId).isEmpty());
    QVERIFY(!servers.lastError().isEmpty());
    QVERIFY(servers.add(QString(), QStringLiteral("http://u:p@host/v1"), {}, kModelId).isEmpty());

    // The key is never written to the settings file, and the entry survives a restart.
    const QString secret = QStringLiteral("sk-not-in-the-settings-7781");
    const QString path = servers.add(QString(), m_url, secret, kModelId);
    QVERIFY(!path.isEmpty());
    QSettings().sync();
    const QString config = QString::fromLocal8Bit(qgetenv("XDG_CONFIG_HOME"));
    QVERIFY(allFiles(config).contains(kModelId.toUtf8())); // the entry is saved...
    QVERIFY(!allFiles(config).contains(secret.toUtf8()));  // ...its key is not
    RemoteServers reopened;
    QCOMPARE(reopened.nameOf(path), servers.nameOf(path));
    // No secret service here: the panel says the key lasts this session only.
    QVERIFY(!reopened.keysPersistent());
    QVERIFY(reopened.keyStorage().contains(QStringLiteral("session")));
    servers.remove(path);
}

void TestRemoteApp::chatStreamsFromServer() {
    HEARTH_REQUIRE_DEFAULT_MODEL(modelPath);
    ChatController chat;
    const QString path = connectChat(chat);
    QCOMPARE(chat.modelState(), ChatController::ModelState::Ready);
    QVERIFY(chat.remoteModel());
    QCOMPARE(chat.serverFamily(), QStringLiteral("Hearth"));
    QVERIFY(chat.gauge()->remote());
    QVERIFY(chat.gauge()->serverMemory().contains(QStringLiteral("server")));

    chat.sampling()->applyPreset(QStringLiteral("Greedy"));
    chat.sampling()->setMaxTokens(kGreedyTokens);
    QSignalSpy updates(chat.messages(), &QAbstractItemModel::dataChanged);
    QString stop;
    QVERIFY(sendAndWait(chat, kPrompt, &stop));
    QVERIFY2(stop == QStringLiteral("end of generation") || stop == QStringLiteral("max tokens"),
             qPrintable(stop));
    QVERIFY2(updates.count() >= 2, "the reply did not stream");
    const Message reply = chat.messages()->messages().at(1);
    QVERIFY(reply.stats.error.isEmpty());
    QCOMPARE(reply.stats.endpoint, m_url);
    QCOMPARE(reply.stats.model, kModelId);
    QVERIFY(reply.stats.generatedTokens > 0 && reply.stats.generatedTokens <= kGreedyTokens);
    QVERIFY(reply.stats.promptTokens > 0); // the server's usage
    QVERIFY(reply.stats.ttftMs > 0);       // measured here
    QVERIFY(chat.gauge()->ttftMs() > 0);

    // Greedy: the server's reply is the engine's, as hearth-cli run gives it.
    const hearth::test::CliResult cli = hearth::test::run_cli(
        {QStringLiteral("run"), QString::fromStdString(modelPath.string()), QStringLiteral("-p"),
         kPrompt, QStringLiteral("-n"), QString::number(kGreedyTokens), QStringLiteral("--temp"),
         QStringLiteral("0"), QStringLiteral("--repeat-penalty"), QStringLiteral("1")});
    QVERIFY2(cli.exit_code == 0, cli.err.constData());
    QCOMPARE(reply.text, QString::fromUtf8(cli.out));

    // The saved conversation names the endpoint and model that answered.
    const QString data = QString::fromLocal8Bit(qgetenv("XDG_DATA_HOME"));
    QFile saved(data + QStringLiteral("/hearth/conversations/") + chat.currentConversationId() +
                QStringLiteral(".json"));
    QVERIFY2(saved.open(QIODevice::ReadOnly), qPrintable(saved.fileName()));
    const auto json = nlohmann::ordered_json::parse(saved.readAll().toStdString());
    QCOMPARE(QString::fromStdString(json["messages"][1]["stats"]["endpoint"].get<std::string>()),
             m_url);
    QCOMPARE(QString::fromStdString(json["messages"][1]["stats"]["model"].get<std::string>()),
             kModelId);
    chat.remoteServers()->remove(path);
}

void TestRemoteApp::stopClosesStream() {
    HEARTH_REQUIRE_DEFAULT_MODEL(modelPath);
    ChatController chat;
    const QString path = connectChat(chat);
    QCOMPARE(chat.modelState(), ChatController::ModelState::Ready);
    chat.sampling()->setMaxTokens(1000);
    QSignalSpy finished(&chat, &ChatController::replyFinished);
    QVERIFY(chat.send(QStringLiteral("Write a long story about a dragon who learns to bake.")));
    QTRY_VERIFY_WITH_TIMEOUT(chat.messages()->messages().at(1).text.size() > 20, 120000);
    const uint64_t disconnectedBefore = m_server->stats().clients_disconnected;
    chat.stop();
    QVERIFY(finished.wait(60000));
    QCOMPARE(finished.at(0).at(0).toString(), QStringLiteral("cancelled"));
    const Message stopped = chat.messages()->messages().at(1);
    QVERIFY(stopped.text.size() > 20); // what arrived is kept
    QVERIFY(stopped.stats.generatedTokens < 1000);
    // The server saw the client go and freed its slot.
    QTRY_VERIFY_WITH_TIMEOUT(m_server->stats().clients_disconnected > disconnectedBefore, 60000);
    QTRY_COMPARE_WITH_TIMEOUT(m_server->stats().requests_in_flight, uint64_t(0), 60000);
    chat.remoteServers()->remove(path);
}

void TestRemoteApp::refusedConnectionIsAnErrorThenRetry() {
    HEARTH_REQUIRE_DEFAULT_MODEL(modelPath);
    ChatController chat;
    const QString path = connectChat(chat);
    QCOMPARE(chat.modelState(), ChatController::ModelState::Ready);
    chat.sampling()->applyPreset(QStringLiteral("Greedy"));
    chat.sampling()->setMaxTokens(8);

    stopServer(); // the server goes away while the chat is open
    QString stop;
    QVERIFY(sendAndWait(chat, kPrompt, &stop));
    QCOMPARE(stop, QStringLiteral("error"));
    QList<Message> messages = chat.messages()->messages();
    QCOMPARE(messages.size(), 2);
    QCOMPARE(messages.at(0).text, kPrompt); // the user's message is intact
    QVERIFY2(!messages.at(1).stats.error.isEmpty(), "the failed reply carries no error");
    QVERIFY2(chat.statusText().contains(QStringLiteral("Could not generate")),
             qPrintable(chat.statusText()));
    QVERIFY(!chat.busy());

    QVERIFY(startServer("")); // back, on the same port
    QSignalSpy finished(&chat, &ChatController::replyFinished);
    QVERIFY(chat.regenerate());
    QVERIFY(finished.wait(300000));
    messages = chat.messages()->messages();
    QCOMPARE(messages.size(), 2); // the failed reply replaced, not added to
    QVERIFY(messages.at(1).stats.error.isEmpty());
    QVERIFY(!messages.at(1).text.isEmpty());
    chat.remoteServers()->remove(path);
}

void TestRemoteApp::unauthorizedIsAnErrorThenNewKey() {
    HEARTH_REQUIRE_DEFAULT_MODEL(modelPath);
    ChatController chat;
    const QString path = connectChat(chat, QStringLiteral("old-key"));
    QCOMPARE(chat.modelState(), ChatController::ModelState::Ready);
    chat.sampling()->applyPreset(QStringLiteral("Greedy"));
    chat.sampling()->setMaxTokens(8);

    QVERIFY(startServer("new-key")); // the key was rotated on the server
    QString stop;
    QVERIFY(sendAndWait(chat, kPrompt, &stop));
    QCOMPARE(stop, QStringLiteral("error"));
    const Message failed = chat.messages()->messages().at(1);
    QVERIFY2(failed.stats.error.contains(QStringLiteral("401")) ||
                 failed.stats.error.contains(QStringLiteral("key"), Qt::CaseInsensitive),
             qPrintable(failed.stats.error));
    QVERIFY(!failed.stats.error.contains(QStringLiteral("old-key"))); // never the key itself

    chat.remoteServers()->setKey(path, QStringLiteral("new-key"));
    QSignalSpy finished(&chat, &ChatController::replyFinished);
    QVERIFY(chat.regenerate());
    QVERIFY(finished.wait(300000));
    const Message retried = chat.messages()->messages().at(1);
    QVERIFY2(retried.stats.error.isEmpty(), qPrintable(retried.stats.error));
    QVERIFY(!retried.text.isEmpty());
    QVERIFY(startServer("")); // as the other tests expect it
    chat.remoteServers()->remove(path);
}

// Compare: remote columns beside local ones on the same model, greedy, give the same replies:
// through the server's own template (chat), and with a template rendered here and sent raw to
// /v1/completions (the shoot-out against a server).
void TestRemoteApp::compareRemoteColumnBesideLocal() {
    HEARTH_REQUIRE_DEFAULT_MODEL(modelPath);
    ChatController chat;
    chat.loadModel(QString::fromStdString(modelPath.string()));
    QTRY_VERIFY_WITH_TIMEOUT(chat.modelState() != ChatController::ModelState::Loading, 120000);
    QCOMPARE(chat.modelState(), ChatController::ModelState::Ready);
    const QString path =
        chat.remoteServers()->add(QStringLiteral("Test server"), m_url, QString(), kModelId);
    QVERIFY(!path.isEmpty());

    CompareController compare;
    compare.setEngine(chat.engineWorker());
    compare.setRemoteServers(chat.remoteServers());
    while (compare.columns()->rowCount() < 4) {
        QVERIFY(compare.addColumn());
    }
    const QStringList templates{QString(), QString(), QStringLiteral("chatml"),
                                QStringLiteral("chatml")};
    for (int i = 0; i < 4; ++i) {
        QVERIFY2(compare.setColumnValue(i, "modelPath", i % 2 == 1 ? path : QString()),
                 qPrintable(compare.error()));
        QVERIFY(compare.setColumnValue(i, "templateName", templates[i]));
        QVERIFY(compare.setColumnValue(i, "temperature", 0.0));
        QVERIFY(compare.setColumnValue(i, "maxTokens", kGreedyTokens));
    }
    QCOMPARE(compare.modelLabel(path), QStringLiteral("Test server"));
    QVERIFY(compare.modelChoices().contains(path));
    QSignalSpy finished(&compare, &CompareController::finished);
    const uint64_t servedBefore = m_server->stats().requests_served;
    QVERIFY2(compare.send(kPrompt), qPrintable(compare.error()));
    QVERIFY(finished.wait(600000));
    QVERIFY2(compare.error().isEmpty(), qPrintable(compare.error()));
    auto column = [&](int i, int role) { return compare.columns()->index(i).data(role); };
    for (int i = 0; i < 4; ++i) {
        QVERIFY2(column(i, CompareColumnModel::ColumnErrorRole).toString().isEmpty(),
                 qPrintable(column(i, CompareColumnModel::ColumnErrorRole).toString()));
        QVERIFY(!column(i, CompareColumnModel::ReplyRole).toString().isEmpty());
    }
    QCOMPARE(column(1, CompareColumnModel::ReplyRole).toString(),
             column(0, CompareColumnModel::ReplyRole).toString());
    QCOMPARE(column(1, CompareColumnModel::ResolvedTemplateRole).toString(),
             QStringLiteral("server's own"));
    QCOMPARE(column(3, CompareColumnModel::ReplyRole).toString(),
             column(2, CompareColumnModel::ReplyRole).toString());
    // The two remote columns were the server's: a chat and a raw completion (after the probe).
    QVERIFY(m_server->stats().requests_served >= servedBefore + 2);
    chat.remoteServers()->remove(path);
}

int main(int argc, char* argv[]) {
    QTemporaryDir profile;
    // The default model is found where the user's profile keeps it, before XDG_DATA_HOME moves.
    if (qEnvironmentVariableIsEmpty("HEARTH_TEST_MODEL")) {
        qputenv("HEARTH_TEST_MODEL",
                QByteArray::fromStdString(hearth::test::default_model_path().string()));
    }
    qputenv("XDG_DATA_HOME", profile.filePath(QStringLiteral("data")).toUtf8());
    qputenv("XDG_CONFIG_HOME", profile.filePath(QStringLiteral("config")).toUtf8());
    qputenv("HF_HUB_CACHE", profile.filePath(QStringLiteral("hf-hub")).toUtf8());
    // No desktop secret store in a test: keys are kept for the session (and the UI says so).
    qunsetenv("DBUS_SESSION_BUS_ADDRESS");
    if (qEnvironmentVariableIsEmpty("QT_QPA_PLATFORM")) {
        qputenv("QT_QPA_PLATFORM", "offscreen");
    }
    QGuiApplication app(argc, argv);
    QCoreApplication::setApplicationName(QStringLiteral("hearth"));
    QCoreApplication::setOrganizationName(QStringLiteral("hearth"));
    TestRemoteApp test;
    return QTest::qExec(&test, argc, argv);
}

#include "tst_remote_app.moc"
