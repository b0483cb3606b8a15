// SingleInstance (app/single_instance.h): the first claim listens, a later one hands its
// arguments over; a socket left by a crashed instance is taken over; an instance that holds
// the socket but does not answer is given up on within the timeout; foreign data is ignored.
#include "single_instance.h"

#include <QElapsedTimer>
#include <QFile>
#include <QLocalServer>
#include <QLocalSocket>
#include <QSignalSpy>
#include <QTemporaryDir>
#include <QTest>
#include <QThread>
#include <QUuid>
#include <cstring>
#include <memory>
#include <optional>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

namespace {

QString uniqueKey() {
    return QStringLiteral("hearth-test-") + QUuid::createUuid().toString(QUuid::Id128).left(12);
}

// Claims `key` from another thread, as a second process would: the first instance's
// answer needs this thread's event loop, which a claim on the same thread would block.
SingleInstance::Role claimFromAnotherThread(const QString& key, const QStringList& arguments,
                                            int timeoutMs) {
    SingleInstance::Role role = SingleInstance::Role::Primary;
    std::unique_ptr<QThread> thread(QThread::create([&] {
        SingleInstance second(key);
        role = second.claim(arguments, timeoutMs);
    }));
    thread->start();
    // Keep the event loop turning for the first instance while the other thread waits.
    if (!QTest::qWaitFor([&] { return thread->isFinished(); }, timeoutMs + 5000)) {
        qWarning("the second claim outlived its timeout");
    }
    thread->wait(); // the claim ends by its own timeout in any case
    return role;
}

// A Unix socket file nobody listens on: what a crashed instance leaves behind.
bool makeStaleSocket(const QString& path) {
    const int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
    if (fd < 0) {
        return false;
    }
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    const QByteArray native = QFile::encodeName(path);
    if (size_t(native.size()) >= sizeof(address.sun_path)) {
        ::close(fd);
        return false;
    }
    std::memcpy(address.sun_path, native.constData(), size_t(native.size()));
    const bool bound = ::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) == 0;
    ::close(fd); // closed without unlinking: the file stays and refuses connections
    return bound && QFile::exists(path);
}

} // namespace

class TestSingleInstance : public QObject {
    Q_OBJECT

private slots:
    void initTestCase() {
        // Sockets in a runtime folder of the test's own (QTemporaryDir makes it 0700, as
        // QStandardPaths wants), whatever the environment provides.
        QVERIFY(m_runtime.isValid());
        qputenv("XDG_RUNTIME_DIR", QFile::encodeName(m_runtime.path()));
    }

    void firstIsPrimarySecondForwards() {
        const QString key = uniqueKey();
        SingleInstance first(key);
        QCOMPARE(first.claim({}), SingleInstance::Role::Primary);
        QVERIFY(QFile::exists(first.serverName()));
        QSignalSpy received(&first, &SingleInstance::messageReceived);

        const QStringList arguments{QStringLiteral("/models/Qwen2.5 0.5B Instruct Q4_K_M.gguf")};
        QCOMPARE(claimFromAnotherThread(key, arguments, 3000), SingleInstance::Role::Forwarded);
        QTRY_COMPARE(received.count(), 1);
        QCOMPARE(received.at(0).at(0).toStringList(), arguments);

        // A launch without a file still reaches the window (to raise it).
        QCOMPARE(claimFromAnotherThread(key, {}, 3000), SingleInstance::Role::Forwarded);
        QTRY_COMPARE(received.count(), 2);
        QCOMPARE(received.at(1).at(0).toStringList(), QStringList{});
    }

    void socketGoesAwayWithThePrimary() {
        const QString key = uniqueKey();
        QString path;
        {
            SingleInstance first(key);
            QCOMPARE(first.claim({}), SingleInstance::Role::Primary);
            path = first.serverName();
        }
        QVERIFY(!QFile::exists(path));
        SingleInstance next(key);
        QCOMPARE(next.claim({}), SingleInstance::Role::Primary);
    }

    void staleSocketIsTakenOver() {
        const QString key = uniqueKey();
        SingleInstance instance(key);
        QVERIFY(makeStaleSocket(instance.serverName()));

        QElapsedTimer clock;
        clock.start();
        QCOMPARE(instance.claim({}, 1000), SingleInstance::Role::Primary);
        QVERIFY2(clock.elapsed() < 1000, "a refusing socket must not wait for the timeout");

        QSignalSpy received(&instance, &SingleInstance::messageReceived);
        QCOMPARE(claimFromAnotherThread(key, {QStringLiteral("/m.gguf")}, 3000),
                 SingleInstance::Role::Forwarded);
        QTRY_COMPARE(received.count(), 1);
    }

    void unresponsiveInstanceIsGivenUp() {
        const QString key = uniqueKey();
        SingleInstance probe(key);
        // Holds the name and accepts connections, but never answers: a hung instance.
        QLocalServer hung;
        QVERIFY(hung.listen(probe.serverName()));

        QElapsedTimer clock;
        clock.start();
        QCOMPARE(probe.claim({QStringLiteral("/m.gguf")}, 300), SingleInstance::Role::Standalone);
        QVERIFY2(clock.elapsed() < 2000, qPrintable(QString::number(clock.elapsed())));
        // The running instance's socket is left alone.
        QVERIFY(QFile::exists(probe.serverName()));
        QVERIFY(hung.isListening());
    }

    void foreignDataIsIgnored() {
        const QString key = uniqueKey();
        SingleInstance instance(key);
        QCOMPARE(instance.claim({}), SingleInstance::Role::Primary);
        QSignalSpy received(&instance, &SingleInstance::messageReceived);

        QLocalSocket stranger;
        stranger.connectToServer(instance.serverName());
        QVERIFY(stranger.waitForConnected(1000));
        stranger.write(QByteArrayLiteral("GET / HTTP/1.1\r\nHost: x\r\n\r\n"));
        stranger.flush();
        QTRY_COMPARE(stranger.state(), QLocalSocket::UnconnectedState);
        QCOMPARE(received.count(), 0);
        QCOMPARE(stranger.bytesAvailable(), 0);
    }

    void defaultKeyIsPerProfile() {
        QTemporaryDir a;
        QTemporaryDir b;
        QVERIFY(a.isValid() && b.isValid());
        const auto restore = [](const char* name, const std::optional<QByteArray>& value) {
            if (value) {
                qputenv(name, *value);
            } else {
                qunsetenv(name);
            }
        };
        const auto saved = [](const char* name) -> std::optional<QByteArray> {
            return qEnvironmentVariableIsSet(name) ? std::optional(qgetenv(name)) : std::nullopt;
        };
        const std::optional<QByteArray> savedConfig = saved("XDG_CONFIG_HOME");
        const std::optional<QByteArray> savedData = saved("XDG_DATA_HOME");
        QCoreApplication::setApplicationName(QStringLiteral("hearth"));
        QCoreApplication::setOrganizationName(QStringLiteral("hearth"));

        qputenv("XDG_CONFIG_HOME", a.filePath(QStringLiteral("config")).toUtf8());
        qputenv("XDG_DATA_HOME", a.filePath(QStringLiteral("data")).toUtf8());
        const QString keyA = SingleInstance::defaultKey();
        QCOMPARE(SingleInstance::defaultKey(), keyA);
        qputenv("XDG_CONFIG_HOME", b.filePath(QStringLiteral("config")).toUtf8());
        qputenv("XDG_DATA_HOME", b.filePath(QStringLiteral("data")).toUtf8());
        const QString keyB = SingleInstance::defaultKey();

        restore("XDG_CONFIG_HOME", savedConfig);
        restore("XDG_DATA_HOME", savedData);
        QVERIFY(keyA != keyB);
        QVERIFY(keyA.startsWith(QStringLiteral("hearth-")));
        QVERIFY(!keyA.contains(QLatin1Char('/')));
    }

private:
    QTemporaryDir m_runtime;
};

QTEST_GUILESS_MAIN(TestSingleInstance)
#include "tst_single_instance.moc"
