// The doctor in the app (issue 21): the Models panel's pre-flight card on the default model —
// it fits this machine; under a stated memory budget it does not, and a fix applied changes
// the setting and makes it fit — and the chat's diagnoses: a mismatched template (the default
// model prompted with llama-2's) is diagnosed under the reply and its fix applied; a healthy
// chat shows none.
#include "chat_controller.h"
#include "doctor_api.h"
#include "gauge.h"
#include "hearth/gguf.h"
#include "hearth/memory_plan.h"
#include "hearth/model_info.h"
#include "isolated_profile.h"
#include "preflight_card.h"
#include "test_support.h"

#include <QSettings>
#include <QSignalSpy>
#include <QTemporaryDir>
#include <QtTest>

namespace {

hearth::ModelInfo infoOf(const std::filesystem::path& path) {
    auto gguf = hearth::GgufFile::open(path);
    if (!gguf) {
        qFatal("%s", gguf.error().message.c_str());
    }
    auto info = hearth::read_model_info(gguf->header(), gguf->file_size());
    if (!info) {
        qFatal("%s", info.error().message.c_str());
    }
    return *info;
}

QVariantMap itemOf(const PreflightCard& card, const QString& id) {
    for (const QVariant& row : card.items()) {
        if (row.toMap().value(QStringLiteral("id")).toString() == id) {
            return row.toMap();
        }
    }
    return {};
}

int indexOf(const PreflightCard& card, const char* id) {
    const auto& items = card.checklist().items;
    for (size_t i = 0; i < items.size(); ++i) {
        if (items[i].id == id) {
            return int(i);
        }
    }
    return -1;
}

// Asks the card for `path` and waits for its answer.
bool inspect(PreflightCard& card, const QString& path) {
    QSignalSpy computed(&card, &PreflightCard::computed);
    card.inspect(path);
    return QTest::qWaitFor([&] { return !card.busy() && computed.count() > 0; }, 60000);
}

int noticeOf(const ChatController& controller, hearth::DiagnosisKind kind) {
    const auto& shown = controller.shownDiagnoses();
    for (size_t i = 0; i < shown.size(); ++i) {
        if (shown[i].kind == kind) {
            return int(i);
        }
    }
    return -1;
}

QString noticesText(const ChatController& controller) {
    QStringList lines;
    for (const hearth::Diagnosis& d : controller.shownDiagnoses()) {
        lines << QString::fromUtf8(hearth::diagnosis_kind_name(d.kind)) + QLatin1String(": ") +
                     QString::fromStdString(d.title);
    }
    return lines.join(QLatin1String("; "));
}

// Loads the default model on the CPU with greedy sampling and `maxTokens`.
bool loadGreedy(ChatController& controller, const std::filesystem::path& model, int maxTokens) {
    controller.library()->setDevice(QStringLiteral("cpu"));
    controller.library()->setContextLength(1024);
    controller.sampling()->setTemperature(0);
    controller.sampling()->setMaxTokens(maxTokens);
    controller.loadModel(QString::fromStdString(model.string()));
    return QTest::qWaitFor(
        [&] { return controller.modelState() == ChatController::ModelState::Ready; }, 120000);
}

// Sends `text` and waits for the reply's end.
bool ask(ChatController& controller, const QString& text) {
    QSignalSpy finished(&controller, &ChatController::replyFinished);
    if (!controller.send(text)) {
        return false;
    }
    return finished.wait(180000);
}

} // namespace

class TestDoctorApp : public QObject {
    Q_OBJECT

private slots:
    void initTestCase();
    void cardForDefaultModelFits();
    void cardUnderBudgetIsRedAndItsFixApplies();
    void cardOfHostileFileSaysWhy();
    void loadOverBudgetIsRefusedWithFixes();
    void mismatchedTemplateIsDiagnosedAndFixed();
    void healthyChatShowsNone();

private:
    QTemporaryDir m_root;
};

void TestDoctorApp::initTestCase() {
    QVERIFY(m_root.isValid());
    qputenv("HEARTH_TEST_MODEL",
            QFile::encodeName(QString::fromStdString(hearth::test::default_model_path().string())));
    useIsolatedProfile(m_root.path(), QStringLiteral("tst_doctor_app"));
}

void TestDoctorApp::cardForDefaultModelFits() {
    HEARTH_REQUIRE_DEFAULT_MODEL(modelPath);
    ChatController controller;
    controller.library()->setDevice(QStringLiteral("cpu"));
    PreflightCard& card = *controller.preflight();
    QVERIFY(inspect(card, QString::fromStdString(modelPath.string())));
    QVERIFY2(card.error().isEmpty(), qPrintable(card.error()));
    QStringList ids;
    for (const QVariant& row : card.items()) {
        ids << row.toMap().value(QStringLiteral("id")).toString();
    }
    QCOMPARE(ids, (QStringList{"memory", "format", "runtime", "sampling"}));
    const QVariantMap memory = itemOf(card, QStringLiteral("memory"));
    QCOMPARE(memory.value("status").toString(), QStringLiteral("green"));
    QVERIFY(memory.value("summary").toString().startsWith(QStringLiteral("Fits")));
    QVERIFY(!memory.value("figures").toList().isEmpty());
    QVERIFY(memory.value("fixes").toList().isEmpty());
    // The chat-tuned default model with its own template: Format is green, with evidence.
    const QVariantMap format = itemOf(card, QStringLiteral("format"));
    QCOMPARE(format.value("status").toString(), QStringLiteral("green"));
    QVERIFY(!format.value("evidence").toList().isEmpty());
    QVERIFY(card.overall() != QLatin1String("red"));
    QSettings().remove("models/device");
}

void TestDoctorApp::cardUnderBudgetIsRedAndItsFixApplies() {
    HEARTH_REQUIRE_DEFAULT_MODEL(modelPath);
    const hearth::ModelInfo info = infoOf(modelPath);
    ChatController controller;
    controller.library()->setDevice(QStringLiteral("cpu"));
    controller.library()->setKvType(QStringLiteral("f16"));
    controller.library()->setContextLength(8192);
    PreflightCard& card = *controller.preflight();
    // A budget that holds the model at 1,024 tokens but not at 8,192.
    const uint64_t budget = hearth::plan_memory(info, {.n_ctx = 1024}).total_bytes;
    QVERIFY(budget < hearth::plan_memory(info, {.n_ctx = 8192}).total_bytes);
    card.setMemoryBudget(qint64(budget));
    QVERIFY(inspect(card, QString::fromStdString(modelPath.string())));
    QCOMPARE(card.overall(), QStringLiteral("red"));
    // The Models panel's fit badge gives the same verdict against the same budget.
    const FitBadge badge = controller.library()->assessFit(info);
    QCOMPARE(badge.fit, QStringLiteral("will not fit"));
    QVERIFY2(badge.detail.contains(QStringLiteral("memory budget")), qPrintable(badge.detail));
    const int memory = indexOf(card, "memory");
    QVERIFY(memory >= 0);
    const hearth::CheckItem& item = card.checklist().items[size_t(memory)];
    QCOMPARE(item.status, hearth::CheckStatus::red);
    QVERIFY(!item.fixes.empty());
    QCOMPARE(itemOf(card, QStringLiteral("memory")).value("fixes").toList().size(),
             qsizetype(item.fixes.size()));
    // The context fix: the largest context that fits, applied to the Models panel's setting.
    int contextFix = -1;
    for (size_t i = 0; i < item.fixes.size(); ++i) {
        if (item.fixes[i].change.context) {
            contextFix = int(i);
        }
    }
    QVERIFY2(contextFix >= 0, "no context fix offered");
    const uint32_t fixed = *item.fixes[size_t(contextFix)].change.context;
    QVERIFY(fixed >= 1024 && fixed < 8192);
    QSignalSpy computed(&card, &PreflightCard::computed);
    QVERIFY(card.applyFix(memory, contextFix));
    QCOMPARE(controller.library()->contextLength(), int(fixed));
    QVERIFY(controller.statusText().contains(QStringLiteral("context")));
    QTRY_VERIFY_WITH_TIMEOUT(!card.busy() && computed.count() > 0, 60000);
    QVERIFY2(itemOf(card, QStringLiteral("memory")).value("status").toString() !=
                 QLatin1String("red"),
             qPrintable(itemOf(card, QStringLiteral("memory")).value("summary").toString()));
    // The Q8_0 KV cache fix at the original context, applied: the setting changes.
    controller.library()->setContextLength(8192);
    QTRY_VERIFY_WITH_TIMEOUT(!card.busy() && card.overall() == QLatin1String("red"), 60000);
    const hearth::CheckItem& again = card.checklist().items[size_t(indexOf(card, "memory"))];
    for (size_t i = 0; i < again.fixes.size(); ++i) {
        if (again.fixes[i].change.kv_type == hearth::KvCacheType::q8_0) {
            QVERIFY(card.applyFix(indexOf(card, "memory"), int(i)));
            QCOMPARE(controller.library()->kvType(), QStringLiteral("q8_0"));
        }
    }
    QVERIFY(!card.applyFix(memory, 99));
    QVERIFY(!card.applyFix(-1, 0));
    QSettings().remove("models");
}

void TestDoctorApp::cardOfHostileFileSaysWhy() {
    ChatController controller;
    PreflightCard& card = *controller.preflight();
    const QString junk = m_root.path() + QLatin1String("/junk.gguf");
    QFile file(junk);
    QVERIFY(file.open(QIODevice::WriteOnly));
    // GGUF version 3, then text where the tensor and key counts should be.
    file.write(QByteArray("GGUF\x03\x00\x00\x00", 8) + QByteArray("this is not a model"));
    file.close();
    QVERIFY(inspect(card, junk));
    QVERIFY(!card.error().isEmpty());
    QVERIFY(card.items().isEmpty());
    QCOMPARE(card.overall(), QString());
}

void TestDoctorApp::loadOverBudgetIsRefusedWithFixes() {
    HEARTH_REQUIRE_DEFAULT_MODEL(modelPath);
    const hearth::ModelInfo info = infoOf(modelPath);
    ChatController controller;
    controller.library()->setDevice(QStringLiteral("cpu"));
    controller.library()->setKvType(QStringLiteral("f16"));
    controller.library()->setContextLength(8192);
    // A budget that holds the model at 1,024 tokens but not at 8,192: the load is refused.
    const uint64_t budget = hearth::plan_memory(info, {.n_ctx = 1024}).total_bytes;
    controller.preflight()->setMemoryBudget(qint64(budget));
    controller.loadModel(QString::fromStdString(modelPath.string()));
    QTRY_VERIFY_WITH_TIMEOUT(controller.modelState() == ChatController::ModelState::Failed, 120000);
    QVERIFY2(controller.modelError().contains(QStringLiteral("memory budget")),
             qPrintable(controller.modelError()));
    const int oom = noticeOf(controller, hearth::DiagnosisKind::out_of_memory);
    QVERIFY2(oom >= 0, qPrintable(noticesText(controller)));
    const hearth::Diagnosis& shown = controller.shownDiagnoses()[size_t(oom)];
    QCOMPARE(shown.severity, hearth::Severity::error);
    QVERIFY(!shown.evidence.empty());
    int contextFix = -1;
    for (size_t i = 0; i < shown.fixes.size(); ++i) {
        if (shown.fixes[i].change.context && !shown.fixes[i].change.kv_type) {
            contextFix = int(i);
        }
    }
    QVERIFY2(contextFix >= 0, "no context fix offered");
    const uint32_t fixed = *shown.fixes[size_t(contextFix)].change.context;
    QVERIFY(fixed >= 1024 && fixed < 8192);
    // Its fix applied: the setting changes and the model loads with it.
    QVERIFY(controller.applyDiagnosisFix(oom, contextFix));
    QCOMPARE(controller.library()->contextLength(), int(fixed));
    QCOMPARE(noticeOf(controller, hearth::DiagnosisKind::out_of_memory), -1);
    QTRY_VERIFY_WITH_TIMEOUT(controller.modelState() == ChatController::ModelState::Ready, 120000);
    QCOMPARE(controller.gauge()->kvCapacity(), int(fixed));
    controller.preflight()->setMemoryBudget(0);
    QSettings().remove("models");
}

void TestDoctorApp::mismatchedTemplateIsDiagnosedAndFixed() {
    HEARTH_REQUIRE_DEFAULT_MODEL(modelPath);
    ChatController controller;
    // As tst_doctor's templateMismatchOnRealReply: greedy, llama-2's [INST] markup on this
    // ChatML model ends its turn at once (or runs past kRunawayReplyTokens).
    QVERIFY(loadGreedy(controller, modelPath, hearth::kRunawayReplyTokens));
    controller.templatePreview()->setTemplateName(QStringLiteral("llama2"));
    QSignalSpy changed(&controller, &ChatController::diagnosesChanged);
    QVERIFY(ask(controller, QStringLiteral("What is the capital of France?")));
    const int mismatch = noticeOf(controller, hearth::DiagnosisKind::template_mismatch);
    QVERIFY2(mismatch >= 0, qPrintable(noticesText(controller)));
    QVERIFY(changed.count() > 0);
    const QVariantMap notice = controller.diagnoses().at(mismatch).toMap();
    QVERIFY(notice.value("evidence").toStringList().join(' ').contains(QStringLiteral("llama2")));
    QCOMPARE(notice.value("severity").toString(), QStringLiteral("error"));
    QVERIFY(!notice.value("fixes").toList().isEmpty());
    const std::vector<std::string> firstEvidence =
        controller.shownDiagnoses()[size_t(mismatch)].evidence;

    // Asked again in the same conversation: shown again only if its evidence changed.
    QVERIFY(ask(controller, QStringLiteral("What is the capital of France?")));
    if (const int again = noticeOf(controller, hearth::DiagnosisKind::template_mismatch);
        again >= 0) {
        QVERIFY(controller.shownDiagnoses()[size_t(again)].evidence != firstEvidence);
    }

    // In a new conversation it is; its fix switches to the model's own template.
    controller.newConversation();
    QVERIFY(ask(controller, QStringLiteral("What is the capital of France?")));
    const int shownAgain = noticeOf(controller, hearth::DiagnosisKind::template_mismatch);
    QVERIFY2(shownAgain >= 0, qPrintable(noticesText(controller)));
    QVERIFY(controller.applyDiagnosisFix(shownAgain, 0));
    QCOMPARE(controller.templatePreview()->templateName(), QString());
    QCOMPARE(noticeOf(controller, hearth::DiagnosisKind::template_mismatch), -1);
    QVERIFY(!controller.applyDiagnosisFix(99, 0));

    // A temperature too high is diagnosed before anything is read of the reply; its fix
    // brings it back to 0.7; dismissing hides a notice.
    controller.sampling()->setTemperature(1.9);
    controller.sampling()->setMaxTokens(8);
    QVERIFY(ask(controller, QStringLiteral("Tell me a story.")));
    const int hot = noticeOf(controller, hearth::DiagnosisKind::temperature_too_high);
    QVERIFY2(hot >= 0, qPrintable(noticesText(controller)));
    const qsizetype before = controller.diagnoses().size();
    QVERIFY(controller.applyDiagnosisFix(hot, 0));
    QCOMPARE(controller.sampling()->temperature(), 0.7);
    QCOMPARE(controller.diagnoses().size(), before - 1);
    if (!controller.diagnoses().isEmpty()) {
        controller.dismissDiagnosis(0);
        QCOMPARE(controller.diagnoses().size(), before - 2);
    }
    QSettings().remove("models");
}

void TestDoctorApp::healthyChatShowsNone() {
    HEARTH_REQUIRE_DEFAULT_MODEL(modelPath);
    ChatController controller;
    QVERIFY(loadGreedy(controller, modelPath, 48));
    // The usual starting point (temperature 0.7, top-p 0.9, ...), seeded: a healthy chat.
    controller.sampling()->applyPreset(QStringLiteral("Balanced"));
    controller.sampling()->setRandomSeed(false);
    controller.sampling()->setSeed(7);
    controller.sampling()->setMaxTokens(48);
    QCOMPARE(controller.sampling()->temperature(), 0.7);
    controller.templatePreview()->setTemplateName(QString());
    controller.newConversation();
    QVERIFY(ask(controller, QStringLiteral("What is the capital of France?")));
    QVERIFY(!controller.messages()->messages().isEmpty());
    // "slow" says how loaded this shared machine is, not how healthy the chat is.
    for (const hearth::Diagnosis& d : controller.shownDiagnoses()) {
        QVERIFY2(d.kind == hearth::DiagnosisKind::slow, qPrintable(noticesText(controller)));
    }

    // The Gauge: the context's cost at 2K to 128K tokens is the engine's, the memory truth is
    // measured, and each reply adds a point to the speed as the context fills.
    const Gauge& gauge = *controller.gauge();
    const auto expected = hearth::context_cost(infoOf(modelPath), hearth::KvCacheType::f16);
    const QVariantList cost = gauge.contextCost();
    QCOMPARE(cost.size(), qsizetype(expected.size()));
    for (qsizetype i = 0; i < cost.size(); ++i) {
        QCOMPARE(cost[i].toMap().value("tokens").toInt(), int(expected[size_t(i)].n_ctx));
        QCOMPARE(cost[i].toMap().value("kvBytes").toDouble(), double(expected[size_t(i)].kv_bytes));
    }
    QCOMPARE(cost.first().toMap().value("tokens").toInt(), 2048);
    QCOMPARE(cost.last().toMap().value("tokens").toInt(), 131072);
    QVERIFY(gauge.measuredBytes() > 0);
    QVERIFY(!gauge.memoryTruth().isEmpty());
    QCOMPARE(gauge.speedByPosition().size(), 1);
    QVERIFY(ask(controller, QStringLiteral("And of Germany?")));
    const QVariantList points = gauge.speedByPosition();
    QCOMPARE(points.size(), 2);
    QVERIFY(points[0].toMap().value("position").toInt() <
            points[1].toMap().value("position").toInt());
    QCOMPARE(gauge.decodeByPosition().size(), 2);
    QSettings().remove("models");
}

QTEST_MAIN(TestDoctorApp)
#include "tst_doctor_app.moc"
