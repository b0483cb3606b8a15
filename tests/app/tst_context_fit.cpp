// The chat and Compare on the one context-overflow policy (hearth::fit_prompt): a conversation
// longer than the context leaves out its oldest messages in both, by the same count for the
// same conversation, and a message longer than the context fails with the arithmetic.
#include "compare_test_support.h"
#include "engine_worker.h"
#include "test_support.h"

#include <QSignalSpy>
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

} // namespace

class TestContextFit : public QObject {
    Q_OBJECT

private slots:
    void initTestCase() {
        HEARTH_REQUIRE_DEFAULT_MODEL(path);
        const QString model = QString::fromStdString(path.string());
        QSignalSpy loaded(m_engine.worker(), &EngineWorker::modelLoaded);
        EngineWorker* worker = m_engine.worker();
        m_engine.post([worker, model] { worker->loadModel(model, kContext, 2); });
        QVERIFY(loaded.wait(120000));
    }

    void chatAndCompareLeaveOutTheSameOldestMessages() {
        EngineWorker* worker = m_engine.worker();
        QSignalSpy finished(worker, &EngineWorker::generationFinished);
        GenerationRequest request;
        request.id = 1;
        request.messages = longConversation();
        request.sampling.temperature = 0;
        request.maxTokens = kMaxTokens;
        m_engine.post([worker, request] { worker->generate(request); });
        QVERIFY(finished.wait(120000));
        const auto chat = finished[0][1].value<GenerationResult>();
        QVERIFY(chat.droppedTurns > 0);
        QCOMPARE(chat.droppedTurns % 2, 0); // whole exchanges
        QVERIFY(chat.droppedTurns < 12);    // the last question and some history stay
        QVERIFY2(chat.promptTokens + kMaxTokens <= kContext,
                 qPrintable(QString::number(chat.promptTokens)));
        QVERIFY(chat.generatedTokens > 0);

        QSignalSpy started(worker, &EngineWorker::compareStarted);
        QSignalSpy compared(worker, &EngineWorker::compareFinished);
        CompareRequest compare;
        compare.id = 1;
        for (const QList<ChatTurn>& turns :
             {longConversation(), QList<ChatTurn>{longConversation().last()}}) {
            CompareColumnRequest column;
            column.sampling.temperature = 0;
            column.maxTokens = kMaxTokens;
            for (const ChatTurn& turn : turns) {
                column.messages << CompareTurn{turn.role, turn.text};
            }
            compare.columns << column;
        }
        m_engine.post([worker, compare] { worker->generateCompare(compare); });
        QVERIFY(compared.wait(120000));
        const auto results = compared[0][1].value<QList<CompareColumnResult>>();
        QCOMPARE(results.size(), 2);
        QCOMPARE(results[0].droppedTurns, chat.droppedTurns);
        QCOMPARE(results[1].droppedTurns, 0);
        QCOMPARE(results[0].promptTokens, chat.promptTokens);
        const auto prompts = started[0][1].value<QList<ComparePrompt>>();
        QCOMPARE(prompts[0].tokenCount, chat.promptTokens);
        QVERIFY(prompts[0].text.contains(QStringLiteral("You answer briefly.")));
        QVERIFY(!prompts[0].text.contains(QStringLiteral("the number 1,")));
        QVERIFY(results[0].generatedTokens > 0 && results[1].generatedTokens > 0);
    }

    void aMessageLongerThanTheContextFails() {
        EngineWorker* worker = m_engine.worker();
        QSignalSpy failed(worker, &EngineWorker::generationFailed);
        GenerationRequest request;
        request.id = 2;
        request.messages = {{QStringLiteral("user"), QStringLiteral("word ").repeated(400)}};
        request.maxTokens = kMaxTokens;
        m_engine.post([worker, request] { worker->generate(request); });
        QVERIFY(failed.wait(60000));
        const QString message = failed[0][1].toString();
        QVERIFY2(message.contains(QStringLiteral("but the context holds %1").arg(kContext)),
                 qPrintable(message));

        QSignalSpy compareFailed(worker, &EngineWorker::compareFailed);
        CompareRequest compare;
        compare.id = 2;
        CompareColumnRequest column;
        column.maxTokens = kMaxTokens;
        column.messages << CompareTurn{QStringLiteral("user"),
                                       QStringLiteral("word ").repeated(400)};
        compare.columns << column;
        m_engine.post([worker, compare] { worker->generateCompare(compare); });
        QVERIFY(compareFailed.wait(60000));
        QVERIFY2(
            compareFailed[0][1].toString().startsWith(QStringLiteral("column 1: the prompt has")),
            qPrintable(compareFailed[0][1].toString()));
    }

private:
    EngineThread m_engine;
};

QTEST_MAIN(TestContextFit)
#include "tst_context_fit.moc"
