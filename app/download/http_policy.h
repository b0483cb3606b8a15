// The rules every HTTP request of the download path follows (a download, a page of the Hub's
// listing, the remote GGUF probe), in one place:
//   - the access token goes to the hub's origin only (scheme, host and port), never to the
//     CDN a redirect points at nor to a page a listing links to;
//   - redirects are followed by hand, at most kMaxRedirects, without loops, to http(s) only,
//     never from https down to http;
//   - a connection that brings no body data for kTransferTimeoutMs is dropped; header bytes do
//     not count as data (Qt 6.4 bounds neither the size nor the number of response headers, so
//     this timeout is what stops a server sending headers forever);
//   - the body of a response that is not wanted (a redirect, an error page) is dropped as it
//     arrives, and cut short past kMaxUnwantedBodyBytes: it could be endless, and its bytes
//     would keep the connection alive (and pile up in the reply's buffer) forever.
// The values and why: docs/LIMITS.md, "Downloads and Hugging Face".
#pragma once

#include <QByteArray>
#include <QNetworkRequest>
#include <QPointer>
#include <QSet>
#include <QString>
#include <QUrl>
#include <expected>

class QNetworkReply;

namespace HttpPolicy {

inline constexpr int kMaxRedirects = 10;         // Hugging Face needs 1 (to its CDN)
inline constexpr int kTransferTimeoutMs = 30000; // no body data this long: the connection drops
inline constexpr qint64 kMaxUnwantedBodyBytes = 64 * 1024; // Hugging Face's are under 1 KiB

// Same scheme, host and port (an absent port counts as the scheme's default).
bool sameOrigin(const QUrl& a, const QUrl& b);
// http or https: the only schemes the download path fetches (not file:, data:, qrc:).
bool isHttp(const QUrl& url);

// A GET of `url` as the download path makes it: redirects by hand, no compression (byte
// offsets must be the file's), Hearth's user agent, the transfer timeout, and
// "Authorization: Bearer <token>" only when `url` is on `tokenOrigin`.
QNetworkRequest makeRequest(const QUrl& url, const QByteArray& token, const QUrl& tokenOrigin,
                            int transferTimeoutMs = kTransferTimeoutMs);

// Why a reply that was not aborted by its owner failed: Qt's message, except for the transfer
// timeout, which Qt reports as "Operation canceled".
QString failureText(const QNetworkReply* reply, int transferTimeoutMs = kTransferTimeoutMs);

// Reads and drops what has arrived of a body that is not wanted. True once more than
// kMaxUnwantedBodyBytes came: the caller then aborts the reply and acts on its headers.
bool discardUnwantedBody(QNetworkReply* reply);

// Takes `reply` from its owner: sets it to null, disconnects its signals from `receiver` and
// deletes it later. Returns what it held (null when nothing).
QNetworkReply* takeReply(QPointer<QNetworkReply>& reply, const QObject* receiver);

// The HTTP status of a reply whose headers are in; 0 before, or when none came.
int statusOf(const QNetworkReply* reply);
bool isRedirect(int status); // 301, 302, 303, 307, 308

// The URL as shown in messages: without its query (which may carry a signature) or user info.
QString displayUrl(const QUrl& url);

// One chain of redirects, followed by hand under the rules above.
class RedirectChain {
public:
    explicit RedirectChain(int maxRedirects = kMaxRedirects) : m_maxRedirects(maxRedirects) {}

    // A new chain from `url`.
    void start(const QUrl& url);
    QUrl current() const { return m_current; }
    int count() const { return m_count; }
    // Moves to where `location` (a Location header, maybe relative) points and returns it, or
    // says why not: no Location, a loop, more than maxRedirects, a scheme other than http(s),
    // https to http.
    std::expected<QUrl, QString> follow(const QByteArray& location);

private:
    int m_maxRedirects;
    QUrl m_first;
    QUrl m_current;
    QSet<QUrl> m_visited;
    int m_count = 0;
};

} // namespace HttpPolicy
