// read_file_input: whole regular files, bounded, never blocking on a FIFO (issue 16, item 6:
// opening a FIFO before checking its kind froze the reader).
#include "hearth/file_input.h"

#include <QDir>
#include <QElapsedTimer>
#include <QFile>
#include <QTemporaryDir>
#include <QtTest>
#include <sys/stat.h>

using namespace hearth;

namespace {

std::filesystem::path local(const QString& path) {
    return std::filesystem::path(QFile::encodeName(path).toStdString());
}

void write(const QString& path, const QByteArray& bytes) {
    QFile file(path);
    QVERIFY(file.open(QIODevice::WriteOnly | QIODevice::Truncate));
    QCOMPARE(file.write(bytes), bytes.size());
}

} // namespace

class TestFileInput : public QObject {
    Q_OBJECT

private slots:
    void readsRegularFilesAndLinksToThem() {
        QTemporaryDir dir;
        write(dir.filePath("a.txt"), "hello");
        auto text = read_file_input(local(dir.filePath("a.txt")), "the test file", 5);
        QVERIFY2(text, text ? "" : text.error().message.c_str());
        QCOMPARE(QString::fromStdString(*text), QStringLiteral("hello"));
        QVERIFY(QFile::link(dir.filePath("a.txt"), dir.filePath("link.txt")));
        QCOMPARE(QString::fromStdString(*read_file_input(local(dir.filePath("link.txt")), "x", 5)),
                 QStringLiteral("hello"));
        write(dir.filePath("empty.txt"), {});
        QVERIFY(read_file_input(local(dir.filePath("empty.txt")), "x", 0)->empty());
    }

    void refusesWhatIsNotARegularFile() {
        QTemporaryDir dir;
        const QString fifo = dir.filePath("fifo");
        QCOMPARE(::mkfifo(QFile::encodeName(fifo).constData(), 0600), 0);
        QVERIFY(QFile::link(fifo, dir.filePath("to-fifo.json")));
        QVERIFY(QDir(dir.path()).mkdir("x.json"));
        struct Case {
            QString path;
            const char* kind;
        };
        for (const Case& c : {Case{fifo, "a FIFO"}, Case{dir.filePath("to-fifo.json"), "a FIFO"},
                              Case{dir.filePath("x.json"), "a directory"},
                              Case{QStringLiteral("/dev/zero"), "a device"}}) {
            QElapsedTimer clock;
            clock.start();
            auto text = read_file_input(local(c.path), "conversation x.json", 1 << 20);
            QVERIFY2(clock.elapsed() < 2000, qPrintable(c.path)); // no wait for a writer
            QVERIFY2(!text, qPrintable(c.path));
            const QString message = QString::fromStdString(text.error().message);
            QVERIFY2(message.contains(c.kind) && message.contains("conversation x.json"),
                     qPrintable(message));
        }
        auto missing = read_file_input(local(dir.filePath("missing")), "the file", 10);
        QVERIFY(!missing);
        QCOMPARE(missing.error().code, ErrorCode::io);
    }

    void refusesFilesPastTheLimit() {
        QTemporaryDir dir;
        write(dir.filePath("big"), QByteArray(1001, 'x'));
        auto text = read_file_input(local(dir.filePath("big")), "the big file", 1000);
        QVERIFY(!text);
        const QString message = QString::fromStdString(text.error().message);
        QVERIFY2(message.contains("1001 bytes") && message.contains("limit of 1000"),
                 qPrintable(message));
        QCOMPARE(read_file_input(local(dir.filePath("big")), "x", 1001)->size(), size_t{1001});
    }
};

QTEST_APPLESS_MAIN(TestFileInput)
#include "tst_file_input.moc"
