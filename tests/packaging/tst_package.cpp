// The Debian package, end to end: CPack makes hearth_<version>_<arch>.deb from this build;
// it is unpacked with dpkg -x into a fresh root, where every binary's libraries resolve,
// the programs answer --version, nothing points back into the build or source tree, the
// desktop entry, the AppStream metadata, the MIME type and the manual pages validate, the
// copyright file matches LICENSE (MIT), and lintian finds no error.
#include <QDir>
#include <QFile>
#include <QProcess>
#include <QRegularExpression>
#include <QTemporaryDir>
#include <QTest>

namespace {

struct Ran {
    int exitCode = -1;
    QString out;
    QString err;
};

Ran run(const QString& program, const QStringList& arguments, int timeoutMs = 120000) {
    QProcess process;
    process.start(program, arguments);
    Ran ran;
    if (!process.waitForStarted(10000)) {
        ran.err = program + QStringLiteral(": ") + process.errorString();
        return ran;
    }
    if (!process.waitForFinished(timeoutMs)) {
        process.kill();
        process.waitForFinished();
        ran.err = program + QStringLiteral(" timed out");
        return ran;
    }
    ran.exitCode = process.exitStatus() == QProcess::NormalExit ? process.exitCode() : -1;
    ran.out = QString::fromUtf8(process.readAllStandardOutput());
    ran.err = QString::fromUtf8(process.readAllStandardError());
    return ran;
}

QString describe(const Ran& ran) {
    return QStringLiteral("exit %1\n%2\n%3").arg(ran.exitCode).arg(ran.out, ran.err);
}

const QString kVersion = QStringLiteral(HEARTH_VERSION);
const QStringList kPrograms{QStringLiteral("hearth"), QStringLiteral("hearth-cli"),
                            QStringLiteral("hearth-bench")};

} // namespace

class TestPackage : public QObject {
    Q_OBJECT

private slots:
    void initTestCase() {
        QVERIFY(m_work.isValid());
        // Packaged into a folder of the test's own, so that scripts/package's build/*.deb and
        // a concurrent test are left alone.
        const Ran cpack = run(QStringLiteral(HEARTH_CPACK_COMMAND),
                              {QStringLiteral("--config"), QStringLiteral(HEARTH_CPACK_CONFIG),
                               QStringLiteral("-B"), m_work.path()});
        QVERIFY2(cpack.exitCode == 0, qPrintable(describe(cpack)));
        const Ran arch = run(QStringLiteral("dpkg"), {QStringLiteral("--print-architecture")});
        QCOMPARE(arch.exitCode, 0);
        m_deb =
            m_work.filePath(QStringLiteral("hearth_%1_%2.deb").arg(kVersion, arch.out.trimmed()));
        QVERIFY2(QFile::exists(m_deb),
                 qPrintable(m_deb + QStringLiteral(" missing; the folder has: ") +
                            QDir(m_work.path()).entryList(QDir::Files).join(u' ')));
        m_root = m_work.filePath(QStringLiteral("root"));
        const Ran extract = run(QStringLiteral("dpkg"), {QStringLiteral("-x"), m_deb, m_root});
        QVERIFY2(extract.exitCode == 0, qPrintable(describe(extract)));
    }

    void controlFields() {
        const Ran fields =
            run(QStringLiteral("dpkg-deb"), {QStringLiteral("-f"), m_deb, QStringLiteral("Package"),
                                             QStringLiteral("Version"), QStringLiteral("Depends")});
        QVERIFY2(fields.exitCode == 0, qPrintable(describe(fields)));
        QVERIFY(fields.out.contains(QStringLiteral("Package: hearth\n")));
        QVERIFY(fields.out.contains(QStringLiteral("Version: ") + kVersion + u'\n'));
        // Computed by dpkg-shlibdeps: the libraries the binaries link.
        for (const char* library :
             {"libqt6quick6", "libqt6core6", "libfmt9", "libsentencepiece0", "libssl3"}) {
            QVERIFY2(fields.out.contains(QLatin1String(library)), qPrintable(fields.out));
        }
        // Named by hand: the QML modules ui/ imports, loaded at run time. Debian calls the
        // package of module A.B.c qml6-module-a-b-c.
        const QDir ui(QStringLiteral(HEARTH_SOURCE_DIR "/ui"));
        const QRegularExpression importLine(QStringLiteral("^import\\s+([A-Za-z][\\w.]*)"),
                                            QRegularExpression::MultilineOption);
        int modules = 0;
        for (const QString& name : ui.entryList({QStringLiteral("*.qml")}, QDir::Files)) {
            QFile qml(ui.filePath(name));
            QVERIFY(qml.open(QIODevice::ReadOnly));
            const QString text = QString::fromUtf8(qml.readAll());
            for (const auto& match : importLine.globalMatch(text)) {
                const QString module = match.captured(1);
                if (module == QStringLiteral("Hearth")) {
                    continue; // compiled into the binary
                }
                const QString package =
                    QStringLiteral("qml6-module-") + module.toLower().replace(u'.', u'-');
                QVERIFY2(fields.out.contains(package + u',') || fields.out.endsWith(package),
                         qPrintable(name + QStringLiteral(" imports ") + module +
                                    QStringLiteral(": add ") + package +
                                    QStringLiteral(" to packaging/CMakeLists.txt")));
                ++modules;
            }
        }
        QVERIFY(modules > 0);
        // The CUDA runtime is static and the driver optional: no CUDA package is required.
        QVERIFY2(!fields.out.contains(QStringLiteral("cuda"), Qt::CaseInsensitive),
                 qPrintable(fields.out));
    }

    void filesInTheirPlaces() {
        QStringList expected{
            QStringLiteral("usr/share/applications/hearth.desktop"),
            QStringLiteral("usr/share/metainfo/io.github.hearth.Hearth.metainfo.xml"),
            QStringLiteral("usr/share/mime/packages/hearth-gguf.xml"),
            QStringLiteral("usr/share/icons/hicolor/scalable/apps/hearth.svg"),
            QStringLiteral("usr/share/man/man1/hearth.1.gz"),
            QStringLiteral("usr/share/man/man1/hearth-cli.1.gz"),
            QStringLiteral("usr/share/man/man1/hearth-bench.1.gz"),
            QStringLiteral("usr/share/hearth/templates/index.json"),
            QStringLiteral("usr/share/hearth/templates/chatml.jinja"),
            QStringLiteral("usr/share/doc/hearth/copyright"),
            QStringLiteral("usr/share/doc/hearth/changelog.gz"),
        };
        for (const QString& program : kPrograms) {
            expected << QStringLiteral("usr/bin/") + program;
        }
        for (int size : {16, 24, 32, 48, 64, 128, 256, 512}) {
            expected << QStringLiteral("usr/share/icons/hicolor/%1x%1/apps/hearth.png").arg(size);
        }
        for (const QString& path : expected) {
            QVERIFY2(QFile::exists(QDir(m_root).filePath(path)), qPrintable(path));
        }
    }

    void binariesRunFromTheUnpackedRoot() {
        for (const QString& program : kPrograms) {
            const QString path = QDir(m_root).filePath(QStringLiteral("usr/bin/") + program);
            const Ran ldd = run(QStringLiteral("ldd"), {path});
            QVERIFY2(ldd.exitCode == 0, qPrintable(describe(ldd)));
            QVERIFY2(!ldd.out.contains(QStringLiteral("not found")), qPrintable(ldd.out));

            // Stripped, no RPATH/RUNPATH, and no path of this build or its sources inside.
            const Ran dynamic = run(QStringLiteral("readelf"), {QStringLiteral("-dS"), path});
            QVERIFY2(dynamic.exitCode == 0, qPrintable(describe(dynamic)));
            QVERIFY2(!dynamic.out.contains(QStringLiteral("PATH")), qPrintable(program));
            QVERIFY2(!dynamic.out.contains(QStringLiteral(".symtab")), qPrintable(program));
            QFile file(path);
            QVERIFY(file.open(QIODevice::ReadOnly));
            const QByteArray bytes = file.readAll();
            for (const char* tree : {HEARTH_SOURCE_DIR, HEARTH_BUILD_DIR}) {
                QVERIFY2(!bytes.contains(tree),
                         qPrintable(program + QStringLiteral(" names ") + QString::fromUtf8(tree)));
            }
        }
        const QString bin = QDir(m_root).filePath(QStringLiteral("usr/bin/"));
        const Ran cli = run(bin + QStringLiteral("hearth-cli"), {QStringLiteral("--version")});
        QCOMPARE(cli.exitCode, 0);
        QCOMPARE(cli.out.trimmed(), QStringLiteral("hearth-cli ") + kVersion);
        // --version needs no display (main.cpp answers it before opening a window).
        const Ran app = run(bin + QStringLiteral("hearth"), {QStringLiteral("--version")});
        QCOMPARE(app.exitCode, 0);
        QCOMPARE(app.out.trimmed(), QStringLiteral("hearth ") + kVersion);
        const Ran bench = run(bin + QStringLiteral("hearth-bench"), {});
        QCOMPARE(bench.exitCode, 2);
        QVERIFY2(bench.err.contains(QStringLiteral("hearth-bench --help")), qPrintable(bench.err));
        const Ran benchHelp = run(bin + QStringLiteral("hearth-bench"), {QStringLiteral("--help")});
        QCOMPARE(benchHelp.exitCode, 0);
        QVERIFY2(benchHelp.out.startsWith(QStringLiteral("usage: hearth-bench")),
                 qPrintable(benchHelp.out));
    }

    void desktopEntryValidates() {
        const QString entry =
            QDir(m_root).filePath(QStringLiteral("usr/share/applications/hearth.desktop"));
        const Ran validate = run(QStringLiteral("desktop-file-validate"), {entry});
        QVERIFY2(validate.exitCode == 0 && validate.out.isEmpty(), qPrintable(describe(validate)));
        QFile file(entry);
        QVERIFY(file.open(QIODevice::ReadOnly));
        const QString text = QString::fromUtf8(file.readAll());
        // The window's WM_CLASS is the application name main.cpp sets; Exec takes the file.
        QVERIFY(text.contains(QStringLiteral("\nStartupWMClass=hearth\n")));
        QVERIFY(text.contains(QStringLiteral("\nExec=hearth %f\n")));
        QVERIFY(text.contains(QStringLiteral("\nMimeType=application/x-gguf;\n")));
    }

    void desktopEntryValidatorIsStrict() {
        // The check above can fail: a broken entry is refused.
        const QString broken = m_work.filePath(QStringLiteral("broken.desktop"));
        QFile file(broken);
        QVERIFY(file.open(QIODevice::WriteOnly));
        file.write("[Desktop Entry]\nType=Application\nExec=hearth %f\nCategories=Utility\n");
        file.close();
        const Ran validate = run(QStringLiteral("desktop-file-validate"), {broken});
        QVERIFY(validate.exitCode != 0);
        QVERIFY2(validate.out.contains(QStringLiteral("Name")), qPrintable(describe(validate)));
    }

    void metainfoValidates() {
        const Ran validate = run(QStringLiteral("appstreamcli"),
                                 {QStringLiteral("validate"), QStringLiteral("--no-net"),
                                  QDir(m_root).filePath(QStringLiteral(
                                      "usr/share/metainfo/io.github.hearth.Hearth.metainfo.xml"))});
        QVERIFY2(validate.exitCode == 0, qPrintable(describe(validate)));
        QVERIFY2(!validate.out.contains(QRegularExpression(QStringLiteral("^[EW]:"),
                                                           QRegularExpression::MultilineOption)),
                 qPrintable(validate.out));
    }

    void mimeTypeRegisters() {
        // A private MIME database with Debian's base types and ours: *.gguf maps to our type.
        const QString mime = m_work.filePath(QStringLiteral("mime"));
        QVERIFY(QDir().mkpath(mime + QStringLiteral("/packages")));
        QVERIFY(QFile::copy(
            QDir(m_root).filePath(QStringLiteral("usr/share/mime/packages/hearth-gguf.xml")),
            mime + QStringLiteral("/packages/hearth-gguf.xml")));
        const Ran update = run(QStringLiteral("update-mime-database"), {mime});
        QVERIFY2(update.exitCode == 0, qPrintable(describe(update)));
        QFile globs(mime + QStringLiteral("/globs2"));
        QVERIFY(globs.open(QIODevice::ReadOnly));
        QVERIFY(globs.readAll().contains("application/x-gguf:*.gguf"));
        QVERIFY(QFile::exists(mime + QStringLiteral("/application/x-gguf.xml")));
    }

    void manualPagesFormatCleanly() {
        for (const QString& page : kPrograms) {
            const QString path =
                QDir(m_root).filePath(QStringLiteral("usr/share/man/man1/%1.1.gz").arg(page));
            // -ww: every groff warning; -z: check only.
            const Ran groff = run(QStringLiteral("sh"),
                                  {QStringLiteral("-c"),
                                   QStringLiteral("zcat \"$0\" | groff -man -Tutf8 -ww -z"), path});
            QVERIFY2(groff.exitCode == 0 && groff.err.isEmpty(), qPrintable(describe(groff)));
        }
    }

    // The licence: LICENSE is MIT, and the package's DEP-5 copyright file says so for every
    // file of Hearth's own (Files: *), with the same holder and the same permission text.
    void copyrightMatchesTheLicence() {
        QFile licence(QStringLiteral(HEARTH_SOURCE_DIR "/LICENSE"));
        QVERIFY2(licence.open(QIODevice::ReadOnly), "no LICENSE at the top of the source tree");
        const QString mit = QString::fromUtf8(licence.readAll());
        QVERIFY(mit.startsWith(QStringLiteral("MIT License\n")));
        QVERIFY(mit.contains(QStringLiteral("Copyright (c) 2026 The Hearth developers\n")));
        QFile file(QDir(m_root).filePath(QStringLiteral("usr/share/doc/hearth/copyright")));
        QVERIFY(file.open(QIODevice::ReadOnly));
        const QString copyright = QString::fromUtf8(file.readAll());
        QVERIFY(copyright.startsWith(QStringLiteral(
            "Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/\n")));
        QVERIFY2(copyright.contains(QStringLiteral("\nFiles: *\nCopyright: 2026 The Hearth "
                                                   "developers\nLicense: Expat\n")),
                 qPrintable(copyright));
        // The stand-alone Expat paragraph holds LICENSE's text from "Permission" on, each line
        // indented by one space and each blank line a " .".
        const qsizetype start = copyright.indexOf(QStringLiteral("\nLicense: Expat\n Permission"));
        QVERIFY(start >= 0);
        QStringList paragraph;
        for (const QString& line : copyright.mid(start + 16).split(QLatin1Char('\n'))) {
            if (!line.startsWith(QLatin1Char(' '))) {
                break;
            }
            paragraph << (line == QLatin1String(" .") ? QString() : line.mid(1));
        }
        const QString permission = mit.mid(mit.indexOf(QStringLiteral("Permission")));
        QCOMPARE(paragraph.join(QLatin1Char('\n')) + QLatin1Char('\n'), permission);
        // Every license short name used has its paragraph.
        const QRegularExpression used(QStringLiteral("^License: (\\S+)$"),
                                      QRegularExpression::MultilineOption);
        for (auto it = used.globalMatch(copyright); it.hasNext();) {
            const QString name = it.next().captured(1);
            QVERIFY2(copyright.contains(QStringLiteral("\nLicense: %1\n ").arg(name)),
                     qPrintable(name + QStringLiteral(" has no licence text")));
        }
    }

    void lintianFindsNoError() {
        const Ran lintian = run(QStringLiteral("lintian"),
                                {QStringLiteral("--fail-on"), QStringLiteral("error"), m_deb});
        QVERIFY2(lintian.exitCode == 0, qPrintable(describe(lintian)));
        QVERIFY2(!lintian.out.contains(QRegularExpression(QStringLiteral("^E:"),
                                                          QRegularExpression::MultilineOption)),
                 qPrintable(lintian.out));
    }

private:
    QTemporaryDir m_work;
    QString m_deb;
    QString m_root;
};

QTEST_GUILESS_MAIN(TestPackage)
#include "tst_package.moc"
