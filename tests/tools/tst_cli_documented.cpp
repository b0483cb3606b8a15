// Every command line that the README and the manual pages (packaging/man/*.1) show, run as
// written: read from the documents themselves, each form of its synopsis expanded (optional
// parts left out and put in, every alternative), placeholders such as MODEL and TEXT replaced
// by the default model and small files, and `pull` run against a local server standing in for
// the Hub. A placeholder without a substitute fails the test, so a new documented command is
// either run or noticed. And each command's --help lists the options its manual page
// documents, both ways, with the same defaults.
#include "../app/download_test_server.h"
#include "command_line_docs.h"
#include "test_support.h"

#include <QCryptographicHash>
#include <QDir>
#include <QElapsedTimer>
#include <QFile>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QProcess>
#include <QTemporaryDir>
#include <QtTest>
#include <memory>
#include <set>

using hearth::test::DocumentedLine;
using hearth::test::ManPage;
using hearth::test::Synopsis;

namespace {

// Lines that describe every command at once rather than one to run.
const QStringList kGenericForms = {"hearth-cli COMMAND [OPTIONS]"};

QString source_file(const QString& relative) {
    return QString::fromStdString((hearth::test::source_dir() / relative.toStdString()).string());
}

QString read_source(const QString& relative) {
    return QString::fromStdString(hearth::test::read_text(source_file(relative).toStdString()));
}

ManPage man_page(const QString& name) {
    return hearth::test::render_man_page(read_source("packaging/man/" + name), name);
}

// The placeholder in a piece of a synopsis word ("MODEL", "FILE.json", "OWNER/REPO", ":FILE"
// -> "FILE"), or empty when the piece is literal text ("--ctx", "512", "Q8_0").
QString sha256_hex(const QByteArray& bytes) {
    return QString::fromLatin1(QCryptographicHash::hash(bytes, QCryptographicHash::Sha256).toHex());
}

QString placeholder_of(const Synopsis::Piece& piece, QString& prefix) {
    static const QRegularExpression pattern(
        "^([:=]?)([A-Z]+(?:[/-][A-Z]+)*(?:\\.[a-z]+)?(?:=[A-Z]+)?)$");
    const auto match = pattern.match(piece.text);
    if (piece.literal || !match.hasMatch()) {
        return {};
    }
    prefix = match.captured(1);
    return match.captured(2);
}

} // namespace

class TestCliDocumented : public QObject {
    Q_OBJECT

private:
    std::unique_ptr<QTemporaryDir> m_dir;
    std::unique_ptr<hearth::test::DownloadTestServer> m_server;
    // --endpoint's server: hearth-cli serve on the default model, on a free port.
    std::unique_ptr<QProcess> m_endpoint_server;
    QString m_endpoint;
    QByteArray m_served = QByteArray("GGUF served by the documentation test").repeated(100);
    QString m_catalog_id, m_catalog_quant, m_catalog_file;
    int m_fresh = 0;
    QStringList m_commands; // hearth-cli's commands, from its --help
    QSet<QString> m_ran;    // command lines run already (the README and a page may agree)

    // A path in a folder of its own, made now.
    QString fresh_path(const QString& name) {
        const QString folder = m_dir->filePath(QString("run-%1").arg(++m_fresh));
        QDir().mkpath(folder);
        return folder + "/" + name;
    }

    QString write(const QString& name, const QByteArray& bytes) {
        const QString path = m_dir->filePath(name);
        QFile file(path);
        if (file.open(QIODevice::WriteOnly)) {
            file.write(bytes);
        }
        return path;
    }

    // What replaces a placeholder of `program`'s `command` after `option` (the word before it
    // when that is an option); empty when nothing does. Specific entries win over general ones.
    std::optional<QString> substitute(const QString& command, const QString& option,
                                      const QString& name) {
        // Where a run writes: a folder of its own each time.
        if (name == "FILE.npy") {
            return fresh_path("tensor.npy");
        }
        if (command == "quantize" && name == "OUT.gguf") {
            return fresh_path("quantized.gguf");
        }
        if (command == "imatrix" && name == "OUT.gguf") {
            return fresh_path("imatrix.gguf");
        }
        if (command == "quant-lab" && option == "--out-dir" && name == "DIR") {
            return fresh_path("");
        }
        if (command == "pull" && option == "--dir" && name == "D") {
            return fresh_path("");
        }
        const QString model = hearth::test::default_model_arg();
        const QMap<QString, QString> table = {
            {"*|*|MODEL", model},
            {"*|*|OPTIONS", ""},
            {"*|*|PROMPT", "Say hello."},
            {"*|--system|TEXT", "Answer in one sentence."},
            {"*|--file|TEXT", m_dir->filePath("long.txt")},
            {"*|-f|TEXT", m_dir->filePath("long.txt")},
            {"tokenize|*|TEXT", "Hello, world"},
            {"tokenize|--file|FILE", m_dir->filePath("short.txt")},
            {"run|-f|FILE", m_dir->filePath("prompt.txt")},
            {"*|--template|FILE", source_file("templates/chatml.jinja")},
            {"*|--template-file|FILE", source_file("templates/chatml.jinja")},
            {"*|--template|NAME", "chatml"},
            {"*|--template|A", "chatml"},
            {"*|--template|B", "zephyr"},
            {"tensor|*|NAME", "output_norm.weight"},
            {"quantize|*|IN.gguf", model},
            {"quantize|*|TYPE", "Q4_0"},
            {"quant-lab|--types|TYPES", "Q8_0"},
            {"quant-lab|--text|FILE", m_dir->filePath("long.txt")},
            // two chunks of the default 512 tokens at least
            {"imatrix|--text|FILE", m_dir->filePath("imatrix.txt")},
            {"imatrix|--chunks|N", "2"},
            {"*|-n|N", "4"},
            {"*|--n-predict|N", "4"},
            {"*|--ctx|N", "256"},
            {"*|-c|N", "256"},
            {"info|--ctx|N", "1024"},
            {"perplexity|--ctx|N", "128"},
            {"perplexity|--chunks|N", "1"},
            {"*|--threads|N", "2"},
            {"*|-t|N", "2"},
            {"*|--batch|N", "64"},
            {"*|--repeat-last-n|N", "32"},
            {"*|--temp|T", "0"},
            {"*|--top-k|K", "40"},
            {"*|--top-p|P", "0.9"},
            {"*|--min-p|P", "0.05"},
            {"*|--repeat-penalty|R", "1.1"},
            {"*|--seed|S", "42"},
            {"*|-s|S", "42"},
            {"*|--column|SPEC", "temp=0"},
            {"info|--gpu-free|SIZE", "1GiB"},
            {"template render|--messages|FILE.json", m_dir->filePath("messages.json")},
            {"template render|--tools|FILE.json", m_dir->filePath("tools.json")},
            {"template render|--var|NAME=JSON", "greeting=\"hi\""},
            {"template render|--model|MODEL", model},
            {"template render|--bos-token|S", "<s>"},
            {"template render|--eos-token|S", "</s>"},
            {"pull|*|URL", m_server->url("/file/" + m_catalog_file, "localhost").toString()},
            {"pull|*|OWNER/REPO", "owner/repo"},
            {"pull|*|FILE", m_catalog_file},
            {"pull|*|CATALOG-ID", m_catalog_id},
            {"pull|--quant|Q", m_catalog_quant},
            {"pull|--sha256|X", sha256_hex(m_served)},
            {"pull|--token-env|VAR", "HEARTH_DOCUMENTED_TOKEN"},
            {"serve|--api-key-env|VAR", "HEARTH_DOCUMENTED_TOKEN"},
            // --endpoint: the test's own hearth-cli serve (key-less, so any key is let in)
            {"*|--endpoint|URL", m_endpoint},
            {"*|--api-key-env|VAR", "HEARTH_DOCUMENTED_TOKEN"},
            {"*|--model|NAME",
             QString::fromStdString(hearth::test::default_model_path().stem().string())},
            {"serve|--port|N", "0"},
            {"serve|--slots|N", "2"},
            {"doctor|--slots|N", "2"},
            {"doctor|--device|D", "cpu"},
            {"doctor|--memory-budget|SIZE", "1GiB"},
            {"bench|-p|N", "16"},
            {"bench|-n|N", "4"},
            {"bench|-r|N", "1"},
            {"bench|--threads|N", "2"},
            {"bench|--turns|N", "4"},
            {"bench|--template|FILE.jinja", source_file("templates/chatml.jinja")},
        };
        for (const QString& key : {command + "|" + option + "|" + name, "*|" + option + "|" + name,
                                   command + "|*|" + name, "*|*|" + name}) {
            if (auto it = table.find(key); it != table.end()) {
                return *it;
            }
        }
        return std::nullopt;
    }

    // A form of a documented line as the arguments to run; an error names what has no
    // substitute. Example file names (model.gguf, wiki.test.raw) stand for the test's files.
    QStringList concrete(const QList<Synopsis::Word>& words, QString& error) {
        const bool bench = words.first().first().text == "hearth-bench";
        QString command = bench ? "bench" : words.size() > 1 ? words[1].first().text : "";
        if (command == "template" && words.size() > 2) {
            command += " " + words[2].first().text;
        }
        QStringList args;
        QString previous;
        for (qsizetype w = 1; w < words.size(); ++w) {
            QString word;
            bool substituted = false;
            for (const Synopsis::Piece& piece : words[w]) {
                QString prefix;
                const QString name = placeholder_of(piece, prefix);
                if (name.isEmpty()) {
                    word += piece.text;
                    continue;
                }
                substituted = true;
                const auto value =
                    substitute(command, previous.startsWith('-') ? previous : "*", name);
                if (!value) {
                    error = QString("no substitute for %1 (after '%2') in '%3'")
                                .arg(name, previous, command);
                    return {};
                }
                word += prefix + *value;
            }
            if (!substituted && word.endsWith(".gguf")) {
                word = hearth::test::default_model_arg();
            } else if (!substituted && word == "wiki.test.raw") {
                word = m_dir->filePath("long.txt");
            }
            if (!word.isEmpty()) {
                args << word;
            }
            previous = word;
        }
        return args;
    }

    // Runs the program while this thread's event loop serves the local Hub.
    hearth::test::CliResult run(const QString& program, QStringList args) {
        // serve runs until stopped: on a free port, stopped by SIGTERM once it prints its URL.
        const bool serve = !args.isEmpty() && args.first() == "serve";
        if (serve && !args.contains("--port")) {
            args << "--port"
                 << "0";
        }
        QProcess process;
        QProcessEnvironment env = QProcessEnvironment::systemEnvironment();
        env.insert("HEARTH_HF_ENDPOINT", m_server->url("").toString());
        env.insert("HEARTH_MODELS_DIR", fresh_path("models"));
        env.insert("HEARTH_DOCUMENTED_TOKEN", "documented-token");
        env.insert("HEARTH_DOWNLOAD_RETRY_MS", "50");
        env.remove("HF_TOKEN");
        env.remove("HUGGING_FACE_HUB_TOKEN");
        process.setProcessEnvironment(env);
        process.start(program, args);
        process.write("Hello!\n"); // chat's one turn
        process.closeWriteChannel();
        QElapsedTimer clock;
        clock.start();
        // hearth-bench's documented default run takes seconds, but minutes on a loaded machine.
        bool stopping = false;
        while (process.state() != QProcess::NotRunning && clock.elapsed() < 1200000) {
            QTest::qWait(10);
            if (serve && !stopping && process.canReadLine()) {
                process.terminate();
                stopping = true;
            }
        }
        hearth::test::CliResult result;
        if (process.state() != QProcess::NotRunning) {
            process.kill();
            process.waitForFinished();
            result.err = "timed out";
            return result;
        }
        result.exit_code = process.exitStatus() == QProcess::NormalExit ? process.exitCode() : -2;
        result.out = process.readAllStandardOutput();
        result.err = process.readAllStandardError();
        return result;
    }

    QList<DocumentedLine> documented_lines() {
        QList<DocumentedLine> lines =
            hearth::test::markdown_command_lines(read_source("README.md"), "README.md");
        for (const QString& name :
             QDir(source_file("packaging/man")).entryList({"*.1"}, QDir::Files)) {
            lines += man_page(name).commands;
        }
        return lines;
    }

private slots:
    void cleanupTestCase() {
        if (m_endpoint_server && m_endpoint_server->state() != QProcess::NotRunning) {
            m_endpoint_server->terminate();
            m_endpoint_server->waitForFinished(60000);
        }
    }

    void initTestCase() {
        HEARTH_REQUIRE_DEFAULT_MODEL(model);
        m_dir = std::make_unique<QTemporaryDir>();
        QVERIFY(m_dir->isValid());
        const std::string genesis =
            hearth::test::read_text(hearth::test::data_dir() / "generation" / "genesis.txt");
        QVERIFY(genesis.size() > 3000);
        // At least one window of perplexity's default 512 tokens.
        write("long.txt", QByteArray::fromStdString(genesis.substr(0, 3000)));
        write("imatrix.txt", QByteArray::fromStdString(genesis.substr(0, 8000)));
        write("short.txt", "Hello, world. Hearth tokenizes this.");
        write("prompt.txt", "Say hello.");
        write("messages.json", R"([{"role": "system", "content": "Be brief."},
                                  {"role": "user", "content": "Hello!"}])");
        write("tools.json", R"([{"type": "function", "function": {"name": "now"}}])");
        // The Hub: the first catalog entry, and owner/repo, both serving the same bytes.
        const auto catalog =
            QJsonDocument::fromJson(read_source("resources/catalog.json").toUtf8()).object();
        m_server = std::make_unique<hearth::test::DownloadTestServer>();
        QVERIFY(m_server->listen());
        m_endpoint_server = std::make_unique<QProcess>();
        m_endpoint_server->start(QStringLiteral(HEARTH_CLI_PATH),
                                 {"serve", hearth::test::default_model_arg(), "--port", "0",
                                  "--slots", "2", "--ctx", "2048"});
        // The first line on stdout is the URL, once the model is loaded and the port bound.
        while (!m_endpoint_server->canReadLine() &&
               m_endpoint_server->state() != QProcess::NotRunning) {
            m_endpoint_server->waitForReadyRead(1000);
        }
        m_endpoint = QString::fromUtf8(m_endpoint_server->readLine()).trimmed();
        QVERIFY2(m_endpoint.startsWith("http://127.0.0.1:"),
                 m_endpoint_server->readAllStandardError().constData());
        const QJsonArray models = catalog["models"].toArray();
        QVERIFY(!models.isEmpty());
        for (const QJsonValue& entry : models) {
            QJsonArray tree;
            for (const QJsonValue& file : entry["files"].toArray()) {
                const QString name = file["file"].toString();
                m_server->addFile(name, m_served);
                tree.append(QJsonObject{{"type", "file"},
                                        {"path", name},
                                        {"size", 134},
                                        {"lfs", QJsonObject{{"oid", sha256_hex(m_served)},
                                                            {"size", m_served.size()}}}});
            }
            m_server->setListing(entry["repo"].toString(), QJsonDocument(tree).toJson());
            if (entry == models.first()) { // one file: `pull owner/repo` takes the only one
                m_server->setListing("owner/repo",
                                     QJsonDocument(QJsonArray{tree.first()}).toJson());
            }
        }
        m_catalog_id = models.first()["id"].toString();
        m_catalog_quant = models.first()["files"][0]["quantization"].toString();
        m_catalog_file = models.first()["files"][0]["file"].toString();
        const auto help = hearth::test::run_cli({"--help"});
        static const QRegularExpression entry("^  ([a-z]+(?: [a-z]+)*)(?: [A-Z(\\[-].*)?$",
                                              QRegularExpression::MultilineOption);
        for (auto it = entry.globalMatch(QString::fromUtf8(help.out)); it.hasNext();) {
            m_commands << it.next().captured(1);
        }
        QVERIFY2(m_commands.size() >= 10, help.out.constData());
    }

    void every_documented_command_line_runs() {
        QFETCH(QString, line);
        QFETCH(QString, where);
        if (kGenericForms.contains(line)) {
            return; // each command's own line is run
        }
        QStringList expanded{line};
        if (line.contains("COMMAND")) { // hearth-cli COMMAND --help: for each command
            expanded.clear();
            for (const QString& command : m_commands) {
                expanded << QString(line).replace("COMMAND", command);
            }
        }
        for (const QString& text : expanded) {
            const Synopsis synopsis(text);
            QVERIFY2(synopsis.ok(), qPrintable(where + ": cannot read '" + text + "'"));
            for (const auto& form : synopsis.forms()) {
                QString error;
                const QStringList args = concrete(form, error);
                QVERIFY2(error.isEmpty(), qPrintable(where + ": " + error));
                const QString program = form.first().first().text == "hearth-bench"
                                            ? QStringLiteral(HEARTH_BENCH_PATH)
                                            : QStringLiteral(HEARTH_CLI_PATH);
                const QString shown = form.first().first().text + " " + args.join(' ');
                if (m_ran.contains(shown)) {
                    continue;
                }
                m_ran.insert(shown);
                const auto result = run(program, args);
                QVERIFY2(result.exit_code == 0,
                         qPrintable(QString("%1: '%2' exited %3: %4")
                                        .arg(where, shown)
                                        .arg(result.exit_code)
                                        .arg(QString::fromUtf8(result.err.right(600)))));
                // tensor --out, quantize and imatrix -o write a file; the others to standard
                // output.
                const bool quantize = args.size() >= 3 && args.first() == "quantize";
                const qsizetype out = quantize                    ? 1
                                      : args.first() == "imatrix" ? args.indexOf("-o")
                                                                  : args.indexOf("--out");
                QVERIFY2(out >= 0 ? QFile::exists(args[out + 1]) : !result.out.isEmpty(),
                         qPrintable(where + ": '" + shown + "' wrote nothing"));
                qInfo("ran %s", qPrintable(shown));
            }
        }
    }

    void every_documented_command_line_runs_data() {
        QTest::addColumn<QString>("line");
        QTest::addColumn<QString>("where");
        QSet<QString> seen;
        for (const DocumentedLine& line : documented_lines()) {
            if (!seen.contains(line.text)) {
                seen.insert(line.text);
                QTest::newRow(qPrintable(line.text)) << line.text << line.where;
            }
        }
        QVERIFY(seen.size() > 20);
    }

    // A command the documents never show would go untested: each is shown somewhere.
    void every_command_is_documented() {
        QSet<QString> shown;
        for (const DocumentedLine& line : documented_lines()) {
            for (const QString& command : m_commands) {
                if (line.text == "hearth-cli " + command ||
                    line.text.startsWith("hearth-cli " + command + " ")) {
                    shown.insert(command);
                }
            }
        }
        for (const QString& command : m_commands) {
            QVERIFY2(shown.contains(command), qPrintable(command + " has no documented line"));
        }
    }

    void help_matches_the_manual_pages() {
        QFETCH(QString, page);
        QFETCH(QString, command);
        QFETCH(QString, program);
        const auto help =
            run(program, command.split(' ', Qt::SkipEmptyParts) + QStringList{"--help"});
        QCOMPARE(help.exit_code, 0);
        // --help: "  -c, --ctx N   what it does (default X)" under "options:".
        QMap<QString, QString> from_help; // option name -> its line
        const QString out = QString::fromUtf8(help.out);
        for (const QString& line : out.mid(out.indexOf("\noptions:\n")).split('\n')) {
            static const QRegularExpression names("^  (-[a-zA-Z], |    )(--[a-z0-9-]+)");
            const auto match = names.match(line);
            if (match.hasMatch() && match.captured(2) != "--help") {
                from_help[match.captured(2)] = line;
                if (match.captured(1).trimmed().size() > 1) {
                    from_help[match.captured(1).left(2)] = line;
                }
            }
        }
        // The manual page: the .TP entries of the command's section, and the generation
        // options when the section says it takes them.
        const ManPage man = man_page(page);
        const QString section = command.isEmpty() ? "OPTIONS" : "COMMANDS";
        const bool generation =
            !command.isEmpty() &&
            man.prose.value(section + "/" + command).contains("GENERATION OPTIONS");
        QMap<QString, QString> from_man; // option name -> its entry's text
        for (const auto& entry : man.entries) {
            const bool own = entry.section == section && entry.subsection == command;
            if (!own && !(generation && entry.section == "GENERATION OPTIONS")) {
                continue;
            }
            for (const QString& word : QString(entry.tag).replace(',', ' ').split(' ')) {
                if (word.startsWith('-') && !from_man.contains(word)) {
                    from_man[word] = entry.body.simplified();
                }
            }
        }
        QVERIFY2(!from_help.isEmpty() || command == "template list", qPrintable(out));
        for (auto it = from_help.begin(); it != from_help.end(); ++it) {
            QVERIFY2(
                from_man.contains(it.key()),
                qPrintable(QString("%1 --help has %2, %3 does not")
                               .arg(program.section('/', -1) + " " + command, it.key(), page)));
            static const QRegularExpression fallback("\\((?:[^()]*; )?(default[^)]*)\\)");
            const auto stated = fallback.match(it.value());
            if (stated.hasMatch()) {
                QVERIFY2(from_man[it.key()].contains(stated.captured(1)),
                         qPrintable(QString("%1: %2 says '%3' in --help; %4 says: %5")
                                        .arg(command, it.key(), stated.captured(1), page,
                                             from_man[it.key()])));
            }
        }
        for (auto it = from_man.begin(); it != from_man.end(); ++it) {
            QVERIFY2(from_help.contains(it.key()),
                     qPrintable(QString("%1 documents %2 for '%3'; --help does not list it")
                                    .arg(page, it.key(), command)));
        }
    }

    void help_matches_the_manual_pages_data() {
        QTest::addColumn<QString>("page");
        QTest::addColumn<QString>("command");
        QTest::addColumn<QString>("program");
        for (const QString& command : m_commands) {
            QTest::newRow(qPrintable("hearth-cli " + command))
                << "hearth-cli.1" << command << QStringLiteral(HEARTH_CLI_PATH);
        }
        QTest::newRow("hearth-bench") << "hearth-bench.1"
                                      << "" << QStringLiteral(HEARTH_BENCH_PATH);
        // And every command has its section in the page.
        const ManPage man = man_page("hearth-cli.1");
        for (const QString& command : m_commands) {
            QVERIFY2(man.prose.contains("COMMANDS/" + command),
                     qPrintable("hearth-cli.1 has no section for " + command));
        }
    }
};

QTEST_GUILESS_MAIN(TestCliDocumented)
#include "tst_cli_documented.moc"
