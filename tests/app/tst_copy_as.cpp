// The chat's "Copy as…": for a saved conversation with hostile text, reopened by the app, the
// controller's request in each format (and what it puts on the clipboard) is exactly what
// hearth::server::export_request makes of the same conversation and settings.
#include "chat_controller.h"
#include "conversation.h"
#include "isolated_profile.h"

#include <QClipboard>
#include <QDir>
#include <QFile>
#include <QGuiApplication>
#include <QSettings>
#include <QTemporaryDir>
#include <QtTest>
#include <nlohmann/json.hpp>

using namespace hearth::server;

namespace {

const QString kHostile = QStringLiteral("it's \"quoted\" $HOME `id` $(true)\nnext line ünï 🔥");

} // namespace

class TestCopyAs : public QObject {
    Q_OBJECT

private slots:
    void initTestCase() {
        QVERIFY(m_root.isValid());
        useIsolatedProfile(m_root.path(), QStringLiteral("tst_copy_as"));
    }

    void controllerTextEqualsTheGenerators() {
        Conversation saved = Conversation::create();
        saved.systemPrompt = QStringLiteral("Be brief. ") + kHostile;
        saved.messages.append({QStringLiteral("user"), QStringLiteral("Q1 ") + kHostile, {}, {}});
        Message reply{QStringLiteral("assistant"), QStringLiteral("A1 ") + kHostile, {}, {}};
        reply.reasoning = QStringLiteral("thinking ") + kHostile;
        saved.messages.append(reply);
        saved.messages.append({QStringLiteral("user"), QStringLiteral("Q2 ") + kHostile, {}, {}});
        const QString folder = m_root.path() + QLatin1String("/data/hearth/conversations");
        QVERIFY(QDir().mkpath(folder));
        QFile file(folder + QLatin1Char('/') + saved.id + QLatin1String(".json"));
        QVERIFY(file.open(QIODevice::WriteOnly));
        file.write(QByteArray::fromStdString(conversationToJson(saved).dump()));
        file.close();
        QSettings().setValue(QStringLiteral("conversations/last"), saved.id);

        ChatController controller;
        controller.start();
        QCOMPARE(controller.currentConversationId(), saved.id);
        QCOMPARE(controller.modelState(), ChatController::ModelState::NoModel);
        SamplingSettings& s = *controller.sampling();
        s.setTemperature(0.3);
        s.setTopK(12);
        s.setTopP(0.8);
        s.setMinP(0.1);
        s.setRepeatPenalty(1.2);
        s.setRepeatLastN(256);
        s.setPresencePenalty(0.5);
        s.setFrequencyPenalty(0.25);
        s.setMaxTokens(300);
        s.setRandomSeed(false);
        s.setSeed(4242);

        // What the generator makes of the same conversation and settings, built here.
        RequestExportInput expected;
        expected.model = "model"; // no model loaded
        expected.system_prompt = saved.systemPrompt.toStdString();
        for (const Message& m : saved.messages) {
            expected.messages.push_back(
                {m.role.toStdString(), m.text.toStdString(), m.reasoning.toStdString()});
        }
        expected.sampling.temperature = 0.3f;
        expected.sampling.top_k = 12;
        expected.sampling.top_p = 0.8f;
        expected.sampling.min_p = 0.1f;
        expected.sampling.repeat_penalty = 1.2f;
        expected.sampling.repeat_last_n = 256;
        expected.sampling.presence_penalty = 0.5f;
        expected.sampling.frequency_penalty = 0.25f;
        expected.sampling.seed = 4242;
        expected.max_tokens = 300;

        const QVariantList formats = controller.requestExports();
        QCOMPARE(formats.size(), qsizetype(std::size(kRequestTargets)));
        for (int i = 0; i < int(formats.size()); ++i) {
            const ExportedRequest want = export_request(expected, kRequestTargets[i]);
            const QVariantMap got = formats[i].toMap();
            QCOMPARE(got[QStringLiteral("name")].toString().toStdString(), want.name);
            QCOMPARE(got[QStringLiteral("command")].toString().toStdString(), want.command);
            QCOMPARE(got[QStringLiteral("notes")].toStringList().size(),
                     qsizetype(want.notes.size()));
            QCOMPARE(controller.requestAs(i).toStdString(), want.command);
            QVERIFY(controller.copyRequestAs(i));
            QCOMPARE(QGuiApplication::clipboard()->text().toStdString(), want.command);
        }
        QCOMPARE(controller.requestAs(-1), QString());
        QVERIFY(!controller.copyRequestAs(int(std::size(kRequestTargets))));

        // A random seed per reply: no seed in the request.
        s.setRandomSeed(true);
        QVERIFY(!controller.requestAs(0).contains(QStringLiteral("\"seed\"")));
    }

private:
    QTemporaryDir m_root;
};

QTEST_MAIN(TestCopyAs)
#include "tst_copy_as.moc"
