// The chat and Compare on the one context-overflow policy (hearth::fit_prompt): a conversation
// longer than the context leaves out its oldest messages in both, by the same count for the
// same conversation, and a message longer than the context fails with the arithmetic.
#include "compare_test_support.h"
#include "engine_worker.h"
#include "test_support.h"

#include <QtTest>

namespace {

constexpr int kContext = 256;
constexpr int kMaxTokens = 16;

// A system prompt, six long exchanges and a last question: far past kContext tokens.
QList<ChatTurn> longConversation() {
    QList<ChatTurn> turns{{QStringLiteral("system"), QStringLiteral("You answer briefly.")}};
    for (int i = 1; i <= 6; ++i) {
        turns << ChatTurn{QStringLiteral("user"),
                          QStringLiteral("Tell me something about the number %1, please, in a "
                                         "few words, as a friend would.")
                              .arg(i)};
        turns << ChatTurn{QStringLiteral("assistant"),
                          QStringLiteral("The number %1 is a whole number that comes after %2 "
                                         "and before %3; people have counted with it for ages.")
                              .arg(i)
                              .arg(i - 1)
                              .arg(i + 1)};
    }
    turns << ChatTurn{QStringLiteral("user"), QStringLiteral("And what is 2 + 2?")};
    return turns;
}

// What the worker sent, delivered on the test's thread (queued), kept in order.
struct Heard {
    QList<GenerationResult> finished;
    QStringList failed;
    QList<QList<ComparePrompt>> started;
    QList<QList<GenerationResult>> compared;
    QStringList compareFailed;
    QObject context;

    explicit Heard(EngineWorker* worker) {
        const auto queued = Qt::QueuedConnection;
        QObject::connect(
            worker, &EngineWorker::generationFinished, &context,
            [this](quint64, const GenerationResult& r) { finished << r; }, queued);
        QObject::connect(
            worker, &EngineWorker::generationFailed, &context,
            [this](quint64, const QString& m) { failed << m; }, queued);
        QObject::connect(
            worker, &EngineWorker::compareStarted, &context,
            [this](quint64, const QList<ComparePrompt>& p) { started << p; }, queued);
        QObject::connect(
            worker, &EngineWorker::compareFinished, &context,
            [this](quint64, const QList<GenerationResult>& r) { compared << r; }, queued);
        QObject::connect(
            worker, &EngineWorker::compareFailed, &context,
            [this](quint64, const QString& m) { compareFailed << m; }, queued);
    }
};

} // namespace

class TestContextFit : public QObject {
    Q_OBJECT

private slots:
    void initTestCase() {
        HEARTH_REQUIRE_DEFAULT_MODEL(path);
        const QString model = QString::fromStdString(path.string());
        EngineWorker* worker = m_engine.worker();
        bool loaded = false;
        QObject context;
        connect(
            worker, &EngineWorker::modelLoaded, &context, [&] { loaded = true; },
            Qt::QueuedConnection);
        m_engine.post([worker, model] { worker->loadModel(model, kContext, 2); });
        QTRY_VERIFY_WITH_TIMEOUT(loaded, 120000);
    }

    void chatAndCompareLeaveOutTheSameOldestMessages() {
        EngineWorker* worker = m_engine.worker();
        Heard heard(worker);
        GenerationRequest request;
        request.id = 1;
        request.messages = longConversation();
        request.sampling.temperature = 0;
        request.maxTokens = kMaxTokens;
        m_engine.post([worker, request] { worker->generate(request); });
        QTRY_VERIFY_WITH_TIMEOUT(!heard.finished.isEmpty(), 120000);
        const GenerationResult chat = heard.finished[0];
        QVERIFY(chat.droppedTurns > 0);
        QCOMPARE(chat.droppedTurns % 2, 0); // whole exchanges
        QVERIFY(chat.droppedTurns < 12);    // the last question and some history stay
        QVERIFY2(chat.promptTokens + kMaxTokens <= kContext,
                 qPrintable(QString::number(chat.promptTokens)));
        QVERIFY(chat.generatedTokens > 0);

        CompareRequest compare;
        compare.id = 1;
        for (const QList<ChatTurn>& turns :
             {longConversation(), QList<ChatTurn>{longConversation().last()}}) {
            CompareColumnRequest column;
            column.sampling.temperature = 0;
            column.maxTokens = kMaxTokens;
            column.messages = turns;
            compare.columns << column;
        }
        m_engine.post([worker, compare] { worker->generateCompare(compare); });
        QTRY_VERIFY_WITH_TIMEOUT(!heard.compared.isEmpty(), 120000);
        const QList<GenerationResult> results = heard.compared[0];
        QCOMPARE(results.size(), 2);
        QCOMPARE(results[0].droppedTurns, chat.droppedTurns);
        QCOMPARE(results[1].droppedTurns, 0);
        QCOMPARE(results[0].promptTokens, chat.promptTokens);
        QCOMPARE(heard.started.size(), 1);
        const QList<ComparePrompt> prompts = heard.started[0];
        QCOMPARE(prompts[0].tokenCount, chat.promptTokens);
        QVERIFY(prompts[0].text.contains(QStringLiteral("You answer briefly.")));
        QVERIFY(!prompts[0].text.contains(QStringLiteral("the number 1,")));
        QVERIFY(results[0].generatedTokens > 0 && results[1].generatedTokens > 0);
    }

    void aMessageLongerThanTheContextFails() {
        EngineWorker* worker = m_engine.worker();
        Heard heard(worker);
        GenerationRequest request;
        request.id = 2;
        request.messages = {{QStringLiteral("user"), QStringLiteral("word ").repeated(400)}};
        request.maxTokens = kMaxTokens;
        m_engine.post([worker, request] { worker->generate(request); });
        QTRY_VERIFY_WITH_TIMEOUT(!heard.failed.isEmpty(), 60000);
        const QString message = heard.failed[0];
        QVERIFY2(message.contains(QStringLiteral("but the context holds %1").arg(kContext)),
                 qPrintable(message));

        CompareRequest compare;
        compare.id = 2;
        CompareColumnRequest column;
        column.maxTokens = kMaxTokens;
        column.messages << ChatTurn{QStringLiteral("user"), QStringLiteral("word ").repeated(400)};
        compare.columns << column;
        m_engine.post([worker, compare] { worker->generateCompare(compare); });
        QTRY_VERIFY_WITH_TIMEOUT(!heard.compareFailed.isEmpty(), 60000);
        QVERIFY2(heard.compareFailed[0].startsWith(QStringLiteral("column 1: the prompt has")),
                 qPrintable(heard.compareFailed[0]));
    }

private:
    EngineThread m_engine;
};

QTEST_MAIN(TestContextFit)
#include "tst_context_fit.moc"
