// Sha256 (OpenSSL's libcrypto) on the FIPS 180-4 test vectors, fed whole and in odd-sized
// pieces, and the file hasher (file_hasher.h) over a file of several reads against coreutils'
// `sha256sum`, an implementation Hearth does not share.
#include "file_hasher.h"
#include "sha256.h"

#include <QFile>
#include <QProcess>
#include <QRandomGenerator>
#include <QTemporaryDir>
#include <QtTest>

class TestSha256 : public QObject {
    Q_OBJECT

private slots:
    void knownVectors_data() {
        QTest::addColumn<QByteArray>("input");
        QTest::addColumn<QString>("digest");
        // FIPS 180-4 / NIST CSRC examples.
        QTest::newRow("empty")
            << QByteArray() << "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
        QTest::newRow("abc") << QByteArray("abc")
                             << "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
        QTest::newRow("448 bits")
            << QByteArray("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq")
            << "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1";
        QTest::newRow("a million a")
            << QByteArray(1'000'000, 'a')
            << "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0";
    }

    void knownVectors() {
        QFETCH(QByteArray, input);
        QFETCH(QString, digest);
        QCOMPARE(Sha256::hexHash(input), digest);
        QCOMPARE(Sha256::hash(input).size(), 32);
        // The same bytes in pieces of 1, 2, 3, ... bytes: block boundaries fall everywhere.
        Sha256 pieces;
        qsizetype offset = 0;
        for (qsizetype step = 1; offset < input.size(); ++step) {
            const qsizetype take = std::min(step, input.size() - offset);
            pieces.addData(QByteArrayView(input).sliced(offset, take));
            offset += take;
        }
        QVERIFY(pieces.ok());
        QCOMPARE(pieces.hexResult(), digest);
    }

    void resultLetsTheHashGoOn() {
        Sha256 sha;
        sha.addData("ab");
        QCOMPARE(sha.hexResult(), Sha256::hexHash("ab"));
        sha.addData("c");
        QCOMPARE(
            sha.hexResult(),
            QStringLiteral("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"));
        sha.reset();
        QCOMPARE(sha.hexResult(), Sha256::hexHash({}));
        QVERIFY(sha.errorString().isEmpty());
    }

    void fileMatchesSha256sum() {
        QTemporaryDir dir;
        QVERIFY(dir.isValid());
        // Several of the hasher's 1 MiB reads and a partial one.
        QByteArray data((5 << 20) + 12345, Qt::Uninitialized);
        QRandomGenerator(7).fillRange(reinterpret_cast<quint32*>(data.data()), data.size() / 4);
        const QString path = dir.filePath(QStringLiteral("model.bin"));
        QFile file(path);
        QVERIFY(file.open(QIODevice::WriteOnly));
        QCOMPARE(file.write(data), data.size());
        file.close();

        QProcess sha256sum;
        sha256sum.start(QStringLiteral("sha256sum"), {path});
        QVERIFY2(sha256sum.waitForFinished(30000), qPrintable(sha256sum.errorString()));
        QCOMPARE(sha256sum.exitCode(), 0);
        // "<64 hex digits>  <path>"
        const QString expected = QString::fromLatin1(sha256sum.readAllStandardOutput().left(64));
        QCOMPARE(expected.size(), 64);

        const FileHash whole = hashFilePrefix(path, -1, nullptr);
        QVERIFY2(whole.error.isEmpty(), qPrintable(whole.error));
        QCOMPARE(whole.bytes, data.size());
        QCOMPARE(whole.hash->hexResult(), expected);
        // A prefix, continued with the rest: what resuming a download does.
        const FileHash prefix = hashFilePrefix(path, 3 << 20, nullptr);
        QVERIFY2(prefix.error.isEmpty(), qPrintable(prefix.error));
        prefix.hash->addData(QByteArrayView(data).sliced(3 << 20));
        QCOMPARE(prefix.hash->hexResult(), expected);
    }
};

QTEST_GUILESS_MAIN(TestSha256)
#include "tst_sha256.moc"
