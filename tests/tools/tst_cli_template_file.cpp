// hearth-cli's --template FILE: the one place a template is read from a file (issue 16, item
// 11), at the user's request. A template file is used as given (its name labels it), a name
// stays a name, and a file that is not a regular one, or is larger than kMaxTemplateFileBytes,
// is refused at once with a message naming it.
#include "hearth/prompt.h"
#include "test_support.h"

#include <QElapsedTimer>
#include <QFile>
#include <QTemporaryDir>
#include <QtTest>
#include <sys/stat.h>

using hearth::test::default_model_arg;
using hearth::test::expect_cli_error;
using hearth::test::run_cli;

class TestCliTemplateFile : public QObject {
    Q_OBJECT

private slots:
    void initTestCase() {
        if (!QFile::exists(default_model_arg())) {
            if (qEnvironmentVariableIsSet("HEARTH_REQUIRE_MODEL")) {
                QFAIL("default model missing");
            }
            QSKIP("default model not found; run scripts/fetch-default-model");
        }
    }

    void templateFileIsUsed() {
        QTemporaryDir dir;
        const QString path = dir.filePath("brackets.jinja");
        QFile file(path);
        QVERIFY(file.open(QIODevice::WriteOnly));
        file.write("{% for m in messages %}[{{ m.role }}: {{ m.content }}]{% endfor %}");
        file.close();
        const auto result = run_cli({"run", default_model_arg(), "-p", "Hi", "-n", "1",
                                     "--template", path, "--show-prompt"});
        QVERIFY2(result.exit_code == 0, result.err.constData());
        QVERIFY2(result.out.contains("[user: Hi]") || result.err.contains("[user: Hi]"),
                 (result.out + result.err).constData());
    }

    void oddFilesAreRefusedAtOnce() {
        QTemporaryDir dir;
        const QString fifo = dir.filePath("fifo.jinja");
        QCOMPARE(::mkfifo(QFile::encodeName(fifo).constData(), 0600), 0);
        QElapsedTimer clock;
        clock.start();
        expect_cli_error({"run", default_model_arg(), "-p", "Hi", "-n", "1", "--template", fifo},
                         "is a FIFO (named pipe), not a regular file");
        QVERIFY(clock.elapsed() < 60000); // run_cli's own limit is two minutes

        const QString big = dir.filePath("big.jinja");
        QFile file(big);
        QVERIFY(file.open(QIODevice::WriteOnly));
        file.write(QByteArray(qsizetype(hearth::kMaxTemplateFileBytes) + 1, ' '));
        file.close();
        expect_cli_error(
            {"run", default_model_arg(), "-p", "Hi", "-n", "1", "--template", big},
            qPrintable(
                QStringLiteral("over the limit of %1 bytes").arg(hearth::kMaxTemplateFileBytes)));
        expect_cli_error(
            {"run", default_model_arg(), "-p", "Hi", "-n", "1", "--template", dir.path()},
            "is a directory");
    }
};

QTEST_GUILESS_MAIN(TestCliTemplateFile)
#include "tst_cli_template_file.moc"
