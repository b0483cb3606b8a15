// One Hearth window per user and profile: see single_instance.h.
//
// The protocol on the socket: the later launch writes a magic number and its arguments
// (QDataStream), the running instance answers one byte once it has read them. The lock file
// beside the socket serialises two launches started at the same moment, so that only one of
// them removes a stale socket and listens.
#include "single_instance.h"

#include <QCryptographicHash>
#include <QDataStream>
#include <QDeadlineTimer>
#include <QDir>
#include <QLocalSocket>
#include <QLockFile>
#include <QStandardPaths>

namespace {

constexpr quint32 kMagic = 0x48525448; // "HRTH"
constexpr char kAcknowledge = 'k';
constexpr qint64 kMaxMessageBytes = 64 * 1024; // a few paths; anything larger is not a launch
// Fixed, so that a launch of another Hearth build (another Qt) still speaks to this one.
constexpr auto kStreamVersion = QDataStream::Qt_6_4;

enum class Delivery { NoServer, Delivered, NoAnswer };

// Hands `arguments` to the instance listening on `serverName`, waiting until `deadline`.
Delivery deliver(const QString& serverName, const QStringList& arguments,
                 const QDeadlineTimer& deadline) {
    QLocalSocket socket;
    socket.connectToServer(serverName);
    if (!socket.waitForConnected(int(deadline.remainingTime()))) {
        // Refused or absent: nobody listens (a crashed instance leaves a refusing socket).
        return socket.error() == QLocalSocket::SocketTimeoutError ? Delivery::NoAnswer
                                                                  : Delivery::NoServer;
    }
    QByteArray message;
    QDataStream out(&message, QIODevice::WriteOnly);
    out.setVersion(kStreamVersion);
    out << kMagic << arguments;
    socket.write(message);
    while (socket.bytesToWrite() > 0) {
        if (!socket.waitForBytesWritten(int(deadline.remainingTime()))) {
            return Delivery::NoAnswer;
        }
    }
    while (socket.bytesAvailable() == 0) {
        if (!socket.waitForReadyRead(int(deadline.remainingTime()))) {
            return Delivery::NoAnswer;
        }
    }
    char answer = 0;
    return socket.getChar(&answer) && answer == kAcknowledge ? Delivery::Delivered
                                                             : Delivery::NoAnswer;
}

} // namespace

SingleInstance::SingleInstance(const QString& key, QObject* parent)
    : QObject(parent),
      m_serverName(QDir(QStandardPaths::writableLocation(QStandardPaths::RuntimeLocation))
                       .filePath(key + QStringLiteral(".socket"))) {
    connect(&m_server, &QLocalServer::newConnection, this, [this] {
        while (QLocalSocket* socket = m_server.nextPendingConnection()) {
            connect(socket, &QLocalSocket::readyRead, this,
                    [this, socket] { readMessage(socket); });
            connect(socket, &QLocalSocket::disconnected, socket, &QObject::deleteLater);
            readMessage(socket);
        }
    });
}

QString SingleInstance::defaultKey() {
    const QString profile = QStandardPaths::writableLocation(QStandardPaths::AppConfigLocation) +
                            QLatin1Char('\n') +
                            QStandardPaths::writableLocation(QStandardPaths::AppDataLocation);
    const QByteArray hash = QCryptographicHash::hash(profile.toUtf8(), QCryptographicHash::Sha256);
    return QStringLiteral("hearth-") + QString::fromLatin1(hash.toHex().left(16));
}

SingleInstance::Role SingleInstance::claim(const QStringList& arguments, int timeoutMs) {
    const QDeadlineTimer deadline(timeoutMs);
    QLockFile lock(m_serverName + QStringLiteral(".lock"));
    // A lock is stale only when its process is gone (QLockFile checks), never by age.
    lock.setStaleLockTime(0);
    if (!lock.tryLock(int(deadline.remainingTime()))) {
        // Another launch is deciding right now: let it be the window.
        return deliver(m_serverName, arguments, QDeadlineTimer(timeoutMs)) == Delivery::Delivered
                   ? Role::Forwarded
                   : Role::Standalone;
    }
    switch (deliver(m_serverName, arguments, deadline)) {
    case Delivery::Delivered:
        return Role::Forwarded;
    case Delivery::NoAnswer:
        qWarning("hearth: another Hearth holds %s but does not answer; starting a separate window",
                 qPrintable(m_serverName));
        return Role::Standalone;
    case Delivery::NoServer:
        break;
    }
    QLocalServer::removeServer(m_serverName); // the socket file of an instance that crashed
    m_server.setSocketOptions(QLocalServer::UserAccessOption);
    if (!m_server.listen(m_serverName)) {
        qWarning("hearth: cannot listen on %s (%s); later launches will open their own window",
                 qPrintable(m_serverName), qPrintable(m_server.errorString()));
        return Role::Standalone;
    }
    return Role::Primary;
}

void SingleInstance::readMessage(QLocalSocket* socket) {
    QDataStream in(socket);
    in.setVersion(kStreamVersion);
    in.startTransaction();
    quint32 magic = 0;
    in >> magic;
    if (in.status() == QDataStream::Ok && magic != kMagic) {
        in.abortTransaction();
        socket->disconnectFromServer(); // not a Hearth launch
        return;
    }
    QStringList arguments;
    in >> arguments;
    if (!in.commitTransaction()) {
        // Not all there yet: readyRead comes again, unless this is no launch's message.
        if (socket->bytesAvailable() > kMaxMessageBytes) {
            socket->disconnectFromServer();
        }
        return;
    }
    socket->putChar(kAcknowledge);
    socket->flush();
    emit messageReceived(arguments);
}
