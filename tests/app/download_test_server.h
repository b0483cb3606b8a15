// A small HTTP/1.1 server on 127.0.0.1 for the download tests (tst_download, tst_cli_pull),
// with the behaviours a downloader must cope with, chosen by the path:
//   /file/NAME       the file, honouring "Range: bytes=N-" with 206
//   /norange/NAME    the file, always 200 with the whole body (a server that ignores Range)
//   /drop/NAME       the first request sends half the body and closes; later ones behave (a
//                    header probe's bounded "Range: bytes=0-N" is answered, and not counted)
//   /slow/NAME       the file in 32 KiB pieces every 10 ms (for pause, cancel, restart)
//   /dropall/NAME    ignores Range: always 200 with the whole file's length, sends half of
//                    the body and closes, on every request
//   /refuse/NAME     416 to every Range request; a request without one gets half the body
//   /trickle/NAME    honours Range but sends at most setTrickleBytes() of the body, then closes
//   /busy/NAME       503 for the first two requests, then like /file
//   /endless/STATUS/NAME  answers STATUS (a 302 to /file/NAME, or 503) with a body that never
//                    ends (pieces every 5 ms while the connection lasts)
//   /headers/NAME    a status line, then header lines every 5 ms, never the blank line
//   /gated/NAME      401 without "Authorization: Bearer <token>", else like /file (also
//                    /OWNER/gated/resolve/main/NAME)
//   /redirect/K/NAME K redirects (302) before /file/NAME
//   /cross/NAME      a redirect to the same server under another host name (localhost)
//   /loop/a, /loop/b redirects to each other
//   /api/models/OWNER/REPO/tree/main   the listing set with setListing (404 otherwise), with
//                    a "Link: <URL>; rel=next" header when one was given ("{n}" in it
//                    becomes the number of listing requests so far)
//   /OWNER/REPO/resolve/main/NAME      like /file/NAME (the Hub's download URL)
//   any path given to setRedirect      a 302 to where it says
// With setPathPrefix("/mirror"), all of these are under /mirror (a mirror of the Hub served
// under a path) and anything outside it is 404. Anything else, or an unknown NAME: 404. Each
// request is recorded (path, Range, Authorization, host). One response per connection
// ("Connection: close").
#pragma once

#include <QHash>
#include <QList>
#include <QPointer>
#include <QTcpServer>
#include <QTcpSocket>
#include <QTimer>
#include <QUrl>
#include <memory>

namespace hearth::test {

class DownloadTestServer {
public:
    struct Request {
        QString path;
        QByteArray range;
        QByteArray authorization;
        QByteArray host;
    };

    DownloadTestServer() {
        QObject::connect(&m_server, &QTcpServer::newConnection, [this] {
            while (QTcpSocket* socket = m_server.nextPendingConnection()) {
                QObject::connect(socket, &QTcpSocket::disconnected, socket, &QObject::deleteLater);
                QObject::connect(socket, &QTcpSocket::readyRead, socket,
                                 [this, socket] { onReadyRead(socket); });
            }
        });
    }

    bool listen() { return m_server.listen(QHostAddress::LocalHost); }
    quint16 port() const { return m_server.serverPort(); }
    QUrl url(const QString& path, const QString& host = QStringLiteral("127.0.0.1")) const {
        return QUrl(QStringLiteral("http://%1:%2%3").arg(host).arg(port()).arg(path));
    }

    void addFile(const QString& name, const QByteArray& bytes) { m_files[name] = bytes; }
    void setListing(const QString& repo, const QByteArray& json, const QString& nextPage = {}) {
        m_listings[repo] = json;
        m_nextPages[repo] = nextPage;
    }
    void setRedirect(const QString& path, const QString& location) { m_redirects[path] = location; }
    void setPathPrefix(const QString& prefix) { m_prefix = prefix; }
    void setTrickleBytes(qsizetype bytes) { m_trickleBytes = bytes; }
    void setToken(const QByteArray& token) { m_token = token; }
    // The delay between pieces of /slow (ms).
    void setSlowInterval(int ms) { m_slowIntervalMs = ms; }

    const QList<Request>& requests() const { return m_requests; }
    // A header probe asks for the file's first bytes with a bounded range ("bytes=0-N"); a
    // download asks for all of it, or from an offset on ("bytes=N-").
    static bool isProbe(const Request& request) {
        return request.range.startsWith("bytes=0-") && !request.range.endsWith('-');
    }
    // The requests under `prefix` that downloads made (header probes left out).
    QList<Request> downloadsOf(const QString& prefix) const {
        QList<Request> out;
        for (const Request& request : requestsFor(prefix)) {
            if (!isProbe(request)) {
                out.append(request);
            }
        }
        return out;
    }
    QList<Request> requestsFor(const QString& prefix) const {
        QList<Request> out;
        for (const Request& request : m_requests) {
            if (request.path.startsWith(prefix)) {
                out.append(request);
            }
        }
        return out;
    }

private:
    void onReadyRead(QTcpSocket* socket) {
        QByteArray& buffer = m_buffers[socket];
        buffer += socket->readAll();
        const qsizetype end = buffer.indexOf("\r\n\r\n");
        if (end < 0 || socket->property("answered").toBool()) {
            return;
        }
        socket->setProperty("answered", true);
        const QList<QByteArray> lines = buffer.left(end).split('\n');
        m_buffers.remove(socket);
        Request request;
        request.path = QString::fromLatin1(lines.value(0).split(' ').value(1));
        for (const QByteArray& raw : lines.mid(1)) {
            const QByteArray line = raw.trimmed();
            const qsizetype colon = line.indexOf(':');
            const QByteArray name = line.left(colon).trimmed().toLower();
            const QByteArray value = line.mid(colon + 1).trimmed();
            if (name == "range") {
                request.range = value;
            } else if (name == "authorization") {
                request.authorization = value;
            } else if (name == "host") {
                request.host = value;
            }
        }
        m_requests.append(request);
        respond(socket, request);
    }

    void respond(QTcpSocket* socket, const Request& request) {
        QString path = QUrl(request.path).path();
        if (const auto it = m_redirects.constFind(path); it != m_redirects.constEnd()) {
            redirect(socket, *it);
            return;
        }
        if (!m_prefix.isEmpty()) {
            if (!path.startsWith(m_prefix + '/')) {
                send(socket, 404, "Not Found", {}, "not under the mirror's path");
                return;
            }
            path = path.mid(m_prefix.size());
        }
        const QStringList segments = path.split('/', Qt::SkipEmptyParts);
        const QString kind = segments.value(0);
        const QString name = segments.value(segments.size() - 1);
        if (kind == QLatin1String("redirect") && segments.size() == 3) {
            const int left = segments[1].toInt();
            redirect(socket, left > 0 ? QStringLiteral("/redirect/%1/%2").arg(left - 1).arg(name)
                                      : QStringLiteral("/file/%1").arg(name));
        } else if (kind == QLatin1String("cross")) {
            redirect(socket,
                     url(QStringLiteral("/file/") + name, QStringLiteral("localhost")).toString());
        } else if (kind == QLatin1String("loop")) {
            redirect(socket, name == QLatin1String("a") ? QStringLiteral("/loop/b")
                                                        : QStringLiteral("/loop/a"));
        } else if (kind == QLatin1String("api") && segments.size() == 6) {
            const QString repo = segments[2] + '/' + segments[3];
            if (m_listings.contains(repo)) {
                QList<std::pair<QByteArray, QByteArray>> headers{
                    {"Content-Type", "application/json"}};
                ++m_listingRequests;
                if (QString next = m_nextPages[repo]; !next.isEmpty()) {
                    next.replace(QStringLiteral("{n}"), QString::number(m_listingRequests));
                    headers.append({"Link", "<" + next.toUtf8() + ">; rel=\"next\""});
                }
                send(socket, 200, "OK", headers, m_listings[repo]);
            } else {
                send(socket, 404, "Not Found", {}, "{\"error\":\"Repository not found\"}");
            }
        } else if (kind == QLatin1String("headers")) {
            endlessHeaders(socket);
        } else if (!m_files.contains(name)) {
            send(socket, 404, "Not Found", {}, "not found");
        } else if (kind == QLatin1String("endless") && segments.size() == 3) {
            const bool moved = segments[1] == QLatin1String("302");
            writeHead(socket, moved ? 302 : 503, moved ? "Found" : "Service Unavailable",
                      moved ? QList<std::pair<QByteArray, QByteArray>>{{"Location",
                                                                        "/file/" + name.toUtf8()}}
                            : QList<std::pair<QByteArray, QByteArray>>{},
                      qint64(1) << 40);
            writeForever(socket, QByteArray(16 * 1024, 'x'));
        } else if (kind == QLatin1String("dropall")) {
            sendFile(socket, Request{}, m_files[name], Mode::Drop); // Range ignored
        } else if (kind == QLatin1String("refuse")) {
            if (request.range.isEmpty()) {
                sendFile(socket, request, m_files[name], Mode::Drop);
            } else {
                send(socket, 416, "Range Not Satisfiable",
                     {{"Content-Range", "bytes */" + QByteArray::number(m_files[name].size())}},
                     {});
            }
        } else if (kind == QLatin1String("trickle")) {
            sendFile(socket, request, m_files[name], Mode::Trickle);
        } else if ((kind == QLatin1String("gated") ||
                    segments.value(1) == QLatin1String("gated")) &&
                   (m_token.isEmpty() || request.authorization != "Bearer " + m_token)) {
            send(socket, 401, "Unauthorized", {}, "Access to this model is restricted");
        } else if (kind == QLatin1String("norange")) {
            send(socket, 200, "OK", {}, m_files[name]);
        } else if (kind == QLatin1String("busy") &&
                   requestsFor(QStringLiteral("/busy/") + name).size() <= 2) {
            send(socket, 503, "Service Unavailable", {}, "try again");
        } else if (kind == QLatin1String("drop")) {
            const bool first =
                !isProbe(request) && downloadsOf(QStringLiteral("/drop/") + name).size() == 1;
            sendFile(socket, request, m_files[name], first ? Mode::Drop : Mode::Whole);
        } else if (kind == QLatin1String("slow")) {
            sendFile(socket, request, m_files[name], Mode::Slow);
        } else if (kind == QLatin1String("file") || kind == QLatin1String("gated") ||
                   kind == QLatin1String("busy") ||
                   (segments.size() >= 5 && segments[2] == QLatin1String("resolve"))) {
            sendFile(socket, request, m_files[name], Mode::Whole);
        } else {
            send(socket, 404, "Not Found", {}, "not found");
        }
    }

    enum class Mode { Whole, Drop, Slow, Trickle };

    void sendFile(QTcpSocket* socket, const Request& request, const QByteArray& file, Mode mode) {
        qint64 start = 0;
        if (request.range.startsWith("bytes=") && request.range.endsWith('-')) {
            start = request.range.mid(6, request.range.size() - 7).toLongLong();
        }
        if (start >= file.size() && start > 0) {
            send(socket, 416, "Range Not Satisfiable",
                 {{"Content-Range", "bytes */" + QByteArray::number(file.size())}}, {});
            return;
        }
        const QByteArray body = file.mid(start);
        QList<std::pair<QByteArray, QByteArray>> headers{{"Accept-Ranges", "bytes"}};
        if (start > 0) {
            headers.append({"Content-Range", QByteArray("bytes ") + QByteArray::number(start) +
                                                 "-" + QByteArray::number(file.size() - 1) + "/" +
                                                 QByteArray::number(file.size())});
        }
        const int status = start > 0 ? 206 : 200;
        const QByteArray reason = start > 0 ? "Partial Content" : "OK";
        if (mode == Mode::Whole) {
            send(socket, status, reason, headers, body);
            return;
        }
        writeHead(socket, status, reason, headers, body.size());
        if (mode == Mode::Drop || mode == Mode::Trickle) {
            socket->write(body.left(mode == Mode::Drop ? body.size() / 2 : m_trickleBytes));
            socket->disconnectFromHost(); // after the bytes are written
            return;
        }
        // Slow: pieces on a timer that dies with the socket.
        auto* timer = new QTimer(socket);
        auto offset = std::make_shared<qsizetype>(0);
        QObject::connect(timer, &QTimer::timeout, socket, [socket, timer, body, offset] {
            constexpr qsizetype kPiece = 32 * 1024;
            socket->write(body.mid(*offset, kPiece));
            *offset += kPiece;
            if (*offset >= body.size()) {
                timer->stop();
                socket->disconnectFromHost();
            }
        });
        timer->start(m_slowIntervalMs);
    }

    // `piece` every 5 ms until the client goes away (the timer dies with the socket).
    static void writeForever(QTcpSocket* socket, const QByteArray& piece) {
        auto* timer = new QTimer(socket);
        QObject::connect(timer, &QTimer::timeout, socket, [socket, piece] {
            if (socket->bytesToWrite() < (1 << 20)) {
                socket->write(piece);
            }
        });
        timer->start(5);
    }

    static void endlessHeaders(QTcpSocket* socket) {
        socket->write("HTTP/1.1 200 OK\r\n");
        QByteArray lines;
        for (int i = 0; i < 256; ++i) {
            lines += "X-Filler: " + QByteArray(50, 'h') + "\r\n";
        }
        writeForever(socket, lines);
    }

    void redirect(QTcpSocket* socket, const QString& location) {
        send(socket, 302, "Found", {{"Location", location.toUtf8()}}, {});
    }

    static void writeHead(QTcpSocket* socket, int status, const QByteArray& reason,
                          const QList<std::pair<QByteArray, QByteArray>>& headers, qint64 length) {
        QByteArray head = "HTTP/1.1 " + QByteArray::number(status) + " " + reason + "\r\n";
        for (const auto& [name, value] : headers) {
            head += name + ": " + value + "\r\n";
        }
        head += "Content-Length: " + QByteArray::number(length) + "\r\nConnection: close\r\n\r\n";
        socket->write(head);
    }

    static void send(QTcpSocket* socket, int status, const QByteArray& reason,
                     const QList<std::pair<QByteArray, QByteArray>>& headers,
                     const QByteArray& body) {
        writeHead(socket, status, reason, headers, body.size());
        socket->write(body);
        socket->disconnectFromHost();
    }

    QTcpServer m_server;
    QHash<QTcpSocket*, QByteArray> m_buffers;
    QHash<QString, QByteArray> m_files;
    QHash<QString, QByteArray> m_listings;
    QHash<QString, QString> m_nextPages;
    QHash<QString, QString> m_redirects;
    QString m_prefix;
    qsizetype m_trickleBytes = 1000;
    int m_listingRequests = 0;
    QByteArray m_token;
    QList<Request> m_requests;
    int m_slowIntervalMs = 10;
};

} // namespace hearth::test
