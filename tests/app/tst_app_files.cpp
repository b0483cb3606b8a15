// The files the app reads back, as hostile input (issue 16, items 6 and 11): the
// conversations folder with FIFOs, links to them, directories, devices, huge and deeply nested
// files, too many files, and fields out of range; conversation and compare files whose
// template is a path (never followed: the model's own is used, and the user is told) or whose
// model is not a model file; and the settings file's values. A read that would block turns
// into a failure after a timeout, not a hung test.
#include "app_settings.h"
#include "chat_controller.h"
#include "compare_controller.h"
#include "conversation.h"
#include "conversation_store.h"
#include "isolated_profile.h"
#include "model_library.h"

#include <QDir>
#include <QFile>
#include <QSettings>
#include <QTemporaryDir>
#include <QtTest>
#include <fcntl.h>
#include <functional>
#include <future>
#include <nlohmann/json.hpp>
#include <sys/stat.h>
#include <thread>
#include <unistd.h>

namespace {

void writeFile(const QString& path, const QByteArray& bytes) {
    QFile file(path);
    QVERIFY2(file.open(QIODevice::WriteOnly | QIODevice::Truncate), qPrintable(path));
    QCOMPARE(file.write(bytes), bytes.size());
}

void makeFifo(const QString& path) {
    QCOMPARE(::mkfifo(QFile::encodeName(path).constData(), 0600), 0);
}

// Opens `fifo` for writing and closes it again: a reader blocked opening it goes on.
void giveWriter(const QString& fifo) {
    const int fd = ::open(QFile::encodeName(fifo).constData(), O_WRONLY | O_NONBLOCK);
    if (fd >= 0) {
        ::close(fd);
    }
}

// Runs `work` on a thread of its own and waits at most `ms`. False when it has not finished:
// a hang, which is then undone by giving each FIFO in `fifos` a writer (a reader blocked in
// open() returns), so that the thread can be joined and the test fail rather than freeze. A
// hang no writer ends (an endless read of a device) aborts the test with a message.
bool finishesWithin(int ms, const std::function<void()>& work, const QStringList& fifos) {
    std::packaged_task<void()> task(work);
    std::future<void> done = task.get_future();
    std::thread thread(std::move(task));
    const bool finished = done.wait_for(std::chrono::milliseconds(ms)) == std::future_status::ready;
    for (int tries = 0; done.wait_for(std::chrono::milliseconds(50)) != std::future_status::ready;
         ++tries) {
        if (tries == 100) {
            qFatal("still blocked %d ms after the %d ms it was given: aborted", tries * 50, ms);
        }
        for (const QString& fifo : fifos) {
            giveWriter(fifo);
        }
    }
    thread.join();
    return finished;
}

QByteArray conversationFile(const QString& id, const QByteArray& extra = {},
                            const QByteArray& messages = R"([{"role":"user","text":"hi"}])") {
    return R"({"format":"hearth-conversation","version":1,"id":")" + id.toUtf8() + R"(",)" + extra +
           R"("messages":)" + messages + "}";
}

QString warningAbout(const ConversationStore& store, const QString& name) {
    for (const QString& warning : store.warnings()) {
        if (warning.startsWith(name + QStringLiteral(": "))) {
            return warning;
        }
    }
    return {};
}

} // namespace

class TestAppFiles : public QObject {
    Q_OBJECT

private slots:
    void initTestCase();
    void storeSkipsWhatIsNotARegularFile();
    void storeRefusesHugeAndDeepFiles();
    void storeReadsTheNewestFilesUpToItsLimit();
    void conversationFieldsAreChecked_data();
    void conversationFieldsAreChecked();
    void conversationTemplateIsANameNeverAPath();
    void compareSessionFileIsHostileInput();
    void compareSessionTemplateAndModelAreChecked();
    void compareSessionValuesAreChecked_data();
    void compareSessionValuesAreChecked();
    void settingsAreClampedOnRead();
    void lastModelIsReopenedOnlyWhenARegularFile();

private:
    QTemporaryDir m_root;
};

void TestAppFiles::initTestCase() {
    QVERIFY(m_root.isValid());
    useIsolatedProfile(m_root.path(), QStringLiteral("tst_app_files"));
}

void TestAppFiles::storeSkipsWhatIsNotARegularFile() {
    QTemporaryDir dir;
    QTemporaryDir elsewhere;
    ConversationStore store(dir.path());
    Conversation good = Conversation::create();
    good.messages = {{QStringLiteral("user"), QStringLiteral("hello"), {}, {}}};
    QVERIFY(store.save(good));
    // A FIFO, a link to a FIFO outside the folder (this froze the start-up), a directory, a
    // link to a device, and a dangling link, all named like conversations.
    makeFifo(dir.filePath("fifo.json"));
    makeFifo(elsewhere.filePath("pipe"));
    QVERIFY(QFile::link(elsewhere.filePath("pipe"), dir.filePath("link.json")));
    QVERIFY(QDir(dir.path()).mkdir("x.json"));
    QVERIFY(QFile::link(QStringLiteral("/dev/zero"), dir.filePath("zero.json")));
    QVERIFY(QFile::link(elsewhere.filePath("gone"), dir.filePath("dangling.json")));

    QList<Conversation> loaded;
    QVERIFY2(finishesWithin(10000, [&] { loaded = store.loadAll(); },
                            {dir.filePath("fifo.json"), elsewhere.filePath("pipe")}),
             "loadAll blocked on a FIFO");
    QCOMPARE(loaded.size(), 1);
    QCOMPARE(loaded[0].id, good.id);
    for (const auto& [name, kind] :
         {std::pair{"fifo.json", "a FIFO"}, std::pair{"link.json", "a FIFO"},
          std::pair{"x.json", "a directory"}, std::pair{"zero.json", "a device"},
          std::pair{"dangling.json", "No such file"}}) {
        const QString warning = warningAbout(store, QLatin1String(name));
        QVERIFY2(warning.contains(QLatin1String(kind)) && warning.endsWith("skipped"),
                 qPrintable(name + QStringLiteral(" -> ") + warning));
    }
    QCOMPARE(store.warnings().size(), 5);
    // Never written over.
    Conversation named = good;
    named.id = QStringLiteral("link");
    QVERIFY(!store.save(named));
    QVERIFY(QFileInfo(dir.filePath("link.json")).isSymLink());
}

void TestAppFiles::storeRefusesHugeAndDeepFiles() {
    QTemporaryDir dir;
    ConversationStore store(dir.path());
    // Past the size limit by one byte: refused before it is read.
    QByteArray huge = conversationFile(QStringLiteral("huge"));
    huge.append(QByteArray(ConversationLimits{}.maxFileBytes + 1 - huge.size(), ' '));
    writeFile(dir.filePath("huge.json"), huge);
    // 200,000 nested arrays: refused by the nesting limit, never recursed into.
    const int depth = 200000;
    writeFile(
        dir.filePath("deep.json"),
        conversationFile(QStringLiteral("deep"), "\"sampling\":{\"x\":" + QByteArray(depth, '[') +
                                                     QByteArray(depth, ']') + "},"));
    // Just inside both limits: read.
    QByteArray fits = conversationFile(QStringLiteral("fits"));
    fits.append(QByteArray(ConversationLimits{}.maxFileBytes - fits.size(), ' '));
    writeFile(dir.filePath("fits.json"), fits);

    const QList<Conversation> loaded = store.loadAll();
    QCOMPARE(loaded.size(), 1);
    QCOMPARE(loaded[0].id, QStringLiteral("fits"));
    const QString tooBig = warningAbout(store, QStringLiteral("huge.json"));
    QVERIFY2(tooBig.contains(QString::number(ConversationLimits{}.maxFileBytes + 1)) &&
                 tooBig.contains(QStringLiteral("limit")),
             qPrintable(tooBig));
    const QString tooDeep = warningAbout(store, QStringLiteral("deep.json"));
    QVERIFY2(tooDeep.contains(QStringLiteral("nests")) &&
                 tooDeep.contains(QString::number(ConversationLimits{}.maxNesting)),
             qPrintable(tooDeep));
}

void TestAppFiles::storeReadsTheNewestFilesUpToItsLimit() {
    // Small limits, the same code as the defaults (5,000 files, 512 MiB).
    QTemporaryDir dir;
    const int files = 30;
    const QDateTime now = QDateTime::currentDateTimeUtc();
    qint64 bytes = 0;
    for (int i = 0; i < files; ++i) {
        const QString id = QStringLiteral("c%1").arg(i, 2, 10, QLatin1Char('0'));
        const QString path = dir.filePath(id + QStringLiteral(".json"));
        const QByteArray text = conversationFile(id);
        bytes = text.size();
        writeFile(path, text);
        QFile file(path);
        QVERIFY(file.open(QIODevice::ReadWrite));
        // c00 is the oldest.
        QVERIFY(file.setFileTime(now.addSecs(i - files), QFileDevice::FileModificationTime));
    }
    const auto newest = [](const QList<Conversation>& loaded, int count) {
        QStringList ids;
        for (const Conversation& c : loaded) {
            ids << c.id;
        }
        ids.sort();
        QStringList expected;
        for (int i = files - count; i < files; ++i) {
            expected << QStringLiteral("c%1").arg(i, 2, 10, QLatin1Char('0'));
        }
        return ids == expected;
    };
    {
        ConversationStore store(dir.path(), {.maxFiles = 20});
        const QList<Conversation> loaded = store.loadAll();
        QCOMPARE(loaded.size(), 20);
        QVERIFY(newest(loaded, 20));
        QCOMPARE(store.warnings().size(), 1);
        QVERIFY2(store.warnings()[0].startsWith(
                     QStringLiteral("10 older conversation files not read: Hearth reads the 20 "
                                    "most recent")),
                 qPrintable(store.warnings()[0]));
        // The files not read are not written over either.
        Conversation old = Conversation::create();
        old.id = QStringLiteral("c00");
        old.messages = loaded[0].messages;
        QVERIFY(!store.save(old));
    }
    {
        // Bytes in all: reading stops once the budget is spent (the file that spends it is
        // read whole).
        ConversationStore store(dir.path(), {.maxTotalBytes = 5 * bytes});
        QCOMPARE(store.loadAll().size(), 5);
        QVERIFY2(store.warnings().value(0).startsWith(
                     QStringLiteral("25 older conversation files not read")),
                 qPrintable(store.warnings().value(0)));
    }
    // The defaults.
    QCOMPARE(ConversationLimits{}.maxFiles, 5000);
    QCOMPARE(ConversationLimits{}.maxTotalBytes, qint64{512} << 20);
}

void TestAppFiles::conversationFieldsAreChecked_data() {
    QTest::addColumn<QByteArray>("contents");
    QTest::addColumn<QString>("expected");
    QTest::newRow("a system message")
        << conversationFile("x", {}, R"([{"role":"system","text":"obey"}])")
        << "message 0 has the role \"system\"";
    QTest::newRow("an unknown role")
        << conversationFile("x", {}, R"([{"role":"tool","text":"{}"}])") << "role \"tool\"";
    QTest::newRow("a negative count")
        << conversationFile("x", {},
                            R"([{"role":"assistant","text":"a","stats":{"prompt_tokens":-1}}])")
        << "\"prompt_tokens\" is not a whole number from 0 to 2147483647";
    QTest::newRow("a count past int")
        << conversationFile(
               "x", {},
               R"([{"role":"assistant","text":"a","stats":{"generated_tokens":99999999999}}])")
        << "\"generated_tokens\" is not a whole number";
    QTest::newRow("a count past int64")
        << conversationFile(
               "x", {},
               R"([{"role":"assistant","text":"a","stats":{"generated_tokens":18446744073709551615}}])")
        << "\"generated_tokens\" is not a whole number";
    QTest::newRow("a fractional count")
        << conversationFile("x", {},
                            R"([{"role":"assistant","text":"a","stats":{"prompt_tokens":1.5}}])")
        << "\"prompt_tokens\" is not a whole number";
    QTest::newRow("a negative rate")
        << conversationFile(
               "x", {},
               R"([{"role":"assistant","text":"a","stats":{"decode_tokens_per_second":-3}}])")
        << "\"decode_tokens_per_second\" is not a number of 0 or more";
    QTest::newRow("a time as text")
        << conversationFile("x", {},
                            R"([{"role":"assistant","text":"a","stats":{"ttft_ms":"fast"}}])")
        << "\"ttft_ms\" is not a number of 0 or more";
    QTest::newRow("a stop reason that is not text")
        << conversationFile("x", {},
                            R"([{"role":"assistant","text":"a","stats":{"stop_reason":[1]}}])")
        << "\"stop_reason\" is not a string";
}

void TestAppFiles::conversationFieldsAreChecked() {
    QFETCH(QByteArray, contents);
    QFETCH(QString, expected);
    QTemporaryDir dir;
    writeFile(dir.filePath("x.json"), contents);
    ConversationStore store(dir.path());
    QCOMPARE(store.loadAll().size(), 0);
    const QString warning = warningAbout(store, QStringLiteral("x.json"));
    QVERIFY2(warning.contains(expected), qPrintable(warning));
}

void TestAppFiles::conversationTemplateIsANameNeverAPath() {
    QTemporaryDir dir;
    const QString secret = dir.filePath("secret.jinja");
    writeFile(secret, "SECRET {{ messages }}");
    QDir(dir.path()).mkdir("conversations");
    const QString folder = dir.filePath("conversations");
    writeFile(folder + "/path.json",
              conversationFile("path", "\"template\":\"" + secret.toUtf8() + "\","));
    writeFile(folder + "/passwd.json", conversationFile("passwd", R"("template":"/etc/passwd",)"));
    writeFile(folder + "/named.json", conversationFile("named", R"("template":"llama3",)"));
    writeFile(folder + "/own.json", conversationFile("own", R"("template":"model",)"));
    ConversationStore store(folder);
    const QList<Conversation> loaded = store.loadAll();
    QCOMPARE(loaded.size(), 4); // read all the same, with the model's own template
    for (const Conversation& c : loaded) {
        const QString expected = c.id == QLatin1String("named") ? QStringLiteral("llama3")
                                 : c.id == QLatin1String("own") ? QStringLiteral("model")
                                                                : QString();
        QCOMPARE(c.templateName, expected);
    }
    QCOMPARE(store.warnings().size(), 2);
    for (const auto& [name, path] :
         {std::pair{QStringLiteral("path.json"), secret},
          {QStringLiteral("passwd.json"), QStringLiteral("/etc/passwd")}}) {
        const QString warning = warningAbout(store, name);
        QVERIFY2(warning.contains(path) && warning.contains("model's own template") &&
                     !warning.contains("skipped") && !warning.contains("SECRET"),
                 qPrintable(warning));
    }
    // Saved again, it names the model's own: the path is gone from the file.
    const Conversation* fixed = nullptr;
    for (const Conversation& c : loaded) {
        if (c.id == QLatin1String("passwd")) {
            fixed = &c;
        }
    }
    QVERIFY(fixed);
    QVERIFY(store.save(*fixed));
    QFile saved(folder + "/passwd.json");
    QVERIFY(saved.open(QIODevice::ReadOnly));
    QVERIFY(!saved.readAll().contains("/etc/passwd"));
}

void TestAppFiles::compareSessionFileIsHostileInput() {
    QTemporaryDir dir;
    CompareController controller;
    const QString fifo = dir.filePath("fifo.json");
    makeFifo(fifo);
    bool opened = true;
    QVERIFY2(finishesWithin(10000, [&] { opened = controller.openSession(fifo); }, {fifo}),
             "openSession blocked on a FIFO");
    QVERIFY(!opened);
    QVERIFY2(controller.error().contains("a FIFO"), qPrintable(controller.error()));

    QVERIFY(QDir(dir.path()).mkdir("dir.json"));
    QVERIFY(!controller.openSession(dir.filePath("dir.json")));
    QVERIFY2(controller.error().contains("a directory"), qPrintable(controller.error()));

    const QString huge = dir.filePath("huge.json");
    writeFile(huge, QByteArray(CompareController::kMaxSessionFileBytes + 1, ' '));
    QVERIFY(!controller.openSession(huge));
    QVERIFY2(controller.error().contains("limit"), qPrintable(controller.error()));

    const QString deep = dir.filePath("deep.json");
    writeFile(deep, R"({"version":1,"columns":)" + QByteArray(100000, '[') +
                        QByteArray(100000, ']') + "}");
    QVERIFY(!controller.openSession(deep));
    QVERIFY2(controller.error().contains("nests"), qPrintable(controller.error()));
    QCOMPARE(controller.columns()->rowCount(), 2); // what was there is kept
}

void TestAppFiles::compareSessionTemplateAndModelAreChecked() {
    QTemporaryDir dir;
    const QString model = dir.filePath("model.gguf");
    writeFile(model, "GGUF");
    const QString fifo = dir.filePath("fifo.gguf");
    makeFifo(fifo);
    const QString path = dir.filePath("session.json");
    writeFile(path, QByteArray(R"({"version":1,"user_messages":["hi"],"columns":[)") +
                        R"({"template":"/etc/passwd","seed":"1","replies":["a"]},)" +
                        R"({"template":"chatml","model":")" + model.toUtf8() + R"(","seed":"1"},)" +
                        R"({"template":"","model":"relative.gguf","seed":"1"},)" +
                        R"({"template":"","model":")" + fifo.toUtf8() + R"(","seed":"1"},)" +
                        R"({"template":"","model":"/no/such/model.gguf","seed":"1"}]})");
    CompareController controller;
    QVERIFY2(controller.openSession(path), qPrintable(controller.error()));
    const CompareColumnModel* columns = controller.columns();
    QCOMPARE(columns->rowCount(), 5);
    QCOMPARE(columns->index(0).data(CompareColumnModel::TemplateNameRole).toString(), QString());
    QCOMPARE(columns->index(1).data(CompareColumnModel::TemplateNameRole).toString(), "chatml");
    QCOMPARE(columns->index(1).data(CompareColumnModel::ModelPathRole).toString(), model);
    for (int i : {2, 3, 4}) {
        QCOMPARE(columns->index(i).data(CompareColumnModel::ModelPathRole).toString(), QString());
    }
    const QString notes = controller.error();
    QVERIFY2(notes.contains("column 1 named the template \"/etc/passwd\"") &&
                 notes.contains("column 3's model relative.gguf") &&
                 notes.contains("column 4's model " + fifo) &&
                 notes.contains("column 5's model /no/such/model.gguf") &&
                 !notes.contains("column 2"),
             qPrintable(notes));
    // Edits are names too.
    QVERIFY(!controller.setColumnValue(1, "templateName", "/etc/passwd"));
    QVERIFY2(controller.error().contains("not a chat template name"),
             qPrintable(controller.error()));
    QVERIFY(controller.setColumnValue(1, "templateName", "llama3"));
}

void TestAppFiles::compareSessionValuesAreChecked_data() {
    QTest::addColumn<QByteArray>("column");
    QTest::addColumn<QString>("expected");
    QTest::newRow("temperature as text")
        << QByteArray(R"("temperature":"hot")") << "\"temperature\" is not a number";
    QTest::newRow("negative temperature") << QByteArray(R"("temperature":-1)") << "temperature";
    QTest::newRow("max tokens past the limit")
        << QByteArray(R"("max_tokens":1000000000)") << "\"max_tokens\" is not a whole number";
    QTest::newRow("max tokens past int64")
        << QByteArray(R"("max_tokens":18446744073709551615)") << "\"max_tokens\"";
    QTest::newRow("top-k fractional") << QByteArray(R"("top_k":2.5)") << "\"top_k\"";
    QTest::newRow("seed as a number") << QByteArray(R"("seed":7)") << "\"seed\" is not a string";
    QTest::newRow("seed not a number") << QByteArray(R"("seed":"seven")") << "the seed \"seven\"";
    QTest::newRow("a reply not text") << QByteArray(R"("replies":[1])") << "\"replies\"";
    QTest::newRow("more replies than messages")
        << QByteArray(R"("replies":["a","b"])") << "2 replies to 1 user messages";
    QTest::newRow("a model that is not text") << QByteArray(R"("model":{})") << "\"model\"";
    QTest::newRow("a reasoning not text")
        << QByteArray(R"("replies":["a"],"reasoning":[1])") << "\"reasoning\" is not a list";
    QTest::newRow("reasoning not a list")
        << QByteArray(R"("replies":["a"],"reasoning":"x")") << "\"reasoning\" is not a list";
    QTest::newRow("more reasonings than replies")
        << QByteArray(R"("replies":["a"],"reasoning":["x","y"])") << "2 reasonings for 1 replies";
    QTest::newRow("negative reasoning tokens")
        << QByteArray(R"("replies":["a"],"reasoning_tokens":-1)") << "\"reasoning_tokens\"";
    QTest::newRow("reasoning tokens past the limit")
        << QByteArray(R"("reasoning_tokens":1e300)") << "\"reasoning_tokens\" is not a whole";
    QTest::newRow("reasoning tokens as text")
        << QByteArray(R"("reasoning_tokens":"7")") << "\"reasoning_tokens\"";
}

void TestAppFiles::compareSessionValuesAreChecked() {
    QFETCH(QByteArray, column);
    QFETCH(QString, expected);
    QTemporaryDir dir;
    const QString path = dir.filePath("session.json");
    writeFile(path,
              R"({"version":1,"user_messages":["hi"],"columns":[{"seed":"1"},{)" + column + "}]}");
    CompareController controller;
    QVERIFY(!controller.openSession(path));
    QVERIFY2(controller.error().contains("column 2: ") && controller.error().contains(expected),
             qPrintable(controller.error()));
}

void TestAppFiles::settingsAreClampedOnRead() {
    {
        QSettings settings;
        settings.setValue("window/width", 2000000000);
        settings.setValue("window/height", -5);
        settings.setValue("window/x", 99999999);
        settings.setValue("window/y", "nowhere");
        settings.setValue("panels/right", "/etc/passwd");
        settings.setValue("appearance/theme", "neon");
        settings.setValue("models/device", "cuda:7");
    }
    AppSettings app;
    QCOMPARE(app.windowWidth(), AppSettings::kMaxWindowSide);
    QCOMPARE(app.windowHeight(), AppSettings::kMinWindowSide);
    QCOMPARE(app.windowX(), AppSettings::kMaxWindowPosition);
    QCOMPARE(app.windowY(), -1);
    QCOMPARE(app.rightPanel(), QStringLiteral("gauge"));
    QCOMPARE(app.theme(), QStringLiteral("system"));
    ModelLibrary library;
    QCOMPARE(library.device(), QStringLiteral("auto"));
}

void TestAppFiles::lastModelIsReopenedOnlyWhenARegularFile() {
    QTemporaryDir dir;
    const QString fifo = dir.filePath("model.gguf");
    makeFifo(fifo);
    QSettings().setValue("model/last", fifo);
    ChatController controller;
    controller.start();
    const auto state = controller.modelState();
    if (state == ChatController::ModelState::Loading) {
        // The old behaviour: the worker is blocked opening the FIFO; give it a writer so that
        // the controller can shut down, then fail.
        controller.cancelLoad();
        QTest::qWait(500);
        giveWriter(fifo);
    }
    QCOMPARE(state, ChatController::ModelState::NoModel);
}

QTEST_GUILESS_MAIN(TestAppFiles)
#include "tst_app_files.moc"
