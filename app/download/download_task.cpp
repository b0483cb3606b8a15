// One file downloaded over HTTP(S) into NAME.part, verified, then renamed (see the header).
#include "download_task.h"

#include <QDir>
#include <QFileInfo>
#include <QLocale>
#include <QNetworkAccessManager>
#include <QNetworkReply>
#include <QNetworkRequest>
#include <QRegularExpression>
#include <QStorageInfo>

using HttpPolicy::displayUrl;

namespace {

constexpr qint64 kSpeedWindowMs = 3000;
constexpr qint64 kProgressIntervalMs = 100;

QString sizeText(qint64 bytes) {
    return QLocale::c().formattedDataSize(bytes, 1, QLocale::DataSizeIecFormat);
}

} // namespace

DownloadTask::DownloadTask(QNetworkAccessManager* network, DownloadState state, QByteArray token,
                           DownloadOptions options, QObject* parent)
    : QObject(parent), m_network(network), m_state(std::move(state)), m_token(std::move(token)),
      m_options(std::move(options)) {
    if (!m_options.freeSpace) {
        m_options.freeSpace = [](const QString& directory) {
            return QStorageInfo(directory).bytesAvailable();
        };
    }
    m_total = m_state.expectedSize;
    m_redirects = HttpPolicy::RedirectChain(m_options.maxRedirects);
    m_hash = std::make_shared<Sha256>();
    m_retryTimer.setSingleShot(true);
    connect(&m_retryTimer, &QTimer::timeout, this, [this] {
        setStatus(Status::Running);
        sendRequest();
    });
    // What an earlier run left: shown as progress before the task starts.
    if (const auto saved = DownloadState::load(m_state.destination);
        saved && saved->sameTarget(m_state)) {
        m_offset = QFileInfo(partPath()).size();
    }
}

DownloadTask::~DownloadTask() {
    // Destroyed mid-transfer (the app quits): keep the partial file for the next run.
    if (isActive()) {
        pause();
    }
}

bool DownloadTask::isActive() const {
    return m_status == Status::Running || m_status == Status::Retrying ||
           m_status == Status::Verifying;
}

double DownloadTask::secondsLeft() const {
    if (m_total < 0 || m_speed <= 0) {
        return -1;
    }
    return static_cast<double>(m_total - m_offset) / m_speed;
}

void DownloadTask::start() {
    if (isActive() || m_status == Status::Finished) {
        return;
    }
    m_error.clear();
    m_pendingFailure.clear();
    m_ownsPartFiles = false;
    m_total = m_state.expectedSize;
    if (!HttpPolicy::isHttp(m_state.url)) {
        fail(QStringLiteral("cannot download %1: only http and https URLs are fetched")
                 .arg(displayUrl(m_state.url)));
        return;
    }
    const QString directory = QFileInfo(m_state.destination).absolutePath();
    if (!QDir().mkpath(directory)) {
        fail(QStringLiteral("cannot create the directory %1").arg(directory));
        return;
    }
    m_speed = 0;
    setStatus(Status::Running);
    if (alreadyThereCandidate()) {
        hashInBackground(m_state.destination, -1, &DownloadTask::onExistingHashed);
        return;
    }
    prepareTransfer();
}

// The file may already be in place (a second pull of the same model): when its size is the
// expected one, its SHA-256 decides. Needs both facts; otherwise it is fetched again.
bool DownloadTask::alreadyThereCandidate() const {
    const QFileInfo existing(m_state.destination);
    return !m_state.sha256.isEmpty() && m_state.expectedSize >= 0 && existing.isFile() &&
           existing.size() == m_state.expectedSize;
}

void DownloadTask::onExistingHashed(const FileHash& result) {
    const QString actual = result.hash->hexResult();
    if (!result.error.isEmpty() || actual.compare(m_state.sha256, Qt::CaseInsensitive) != 0) {
        prepareTransfer();
        return;
    }
    m_sha256 = actual;
    m_offset = m_total = m_state.expectedSize;
    setStatus(Status::Finished);
    emit progressChanged();
    emit finished(m_state.destination);
}

// Opens NAME.part (continued only when its state file says it holds the beginning of this
// file) and hashes what it already holds before the transfer goes on.
void DownloadTask::prepareTransfer() {
    const auto saved = DownloadState::load(m_state.destination);
    // Only a regular file is continued: never a symbolic link (the data would go where it
    // points) nor a FIFO (writes would block).
    const QFileInfo part(partPath());
    const bool plainPart = !part.isSymLink() && (part.isFile() || !part.exists());
    const bool continuing = saved && saved->sameTarget(m_state) && plainPart;
    // Checked before anything is written: a download that cannot fit leaves no files behind.
    const qint64 kept = continuing ? QFileInfo(partPath()).size() : 0;
    if (m_total >= 0 && !checkFreeSpace(m_total - std::min(kept, m_total))) {
        return;
    }
    if (!continuing) {
        QFile::remove(partPath());
    }
    if (const QString error = m_state.save(); !error.isEmpty()) {
        fail(error);
        return;
    }
    m_ownsPartFiles = true;
    m_file.setFileName(partPath());
    if (!m_file.open(QIODevice::ReadWrite)) {
        fail(QStringLiteral("cannot open %1: %2").arg(partPath(), m_file.errorString()));
        return;
    }
    m_hash = std::make_shared<Sha256>();
    m_offset = m_file.size();
    if (m_total >= 0 && m_offset > m_total) {
        restartFromZero({});
    }
    m_file.seek(m_offset);
    if (m_offset == 0) {
        beginTransfer();
        return;
    }
    // The hash must cover the whole file: the bytes there first, then those that arrive.
    hashInBackground(partPath(), m_offset, &DownloadTask::onPartHashed);
}

void DownloadTask::onPartHashed(const FileHash& result) {
    if (!result.error.isEmpty()) {
        fail(result.error);
        return;
    }
    m_hash = result.hash;
    beginTransfer();
}

void DownloadTask::beginTransfer() {
    m_attempt = 0;
    m_failedAttempts = 0;
    m_furthest = m_offset;
    m_restartReason.clear();
    m_clock.start();
    m_samples.clear();
    m_speed = 0;
    if (m_total >= 0 && m_offset == m_total) {
        verifyAndRename();
        return;
    }
    m_redirects.start(m_state.url);
    sendRequest();
}

// Runs hashFilePrefix on the thread pool and calls `then` on this thread with its result,
// unless abortHashing() (pause, cancel, failure, destruction) came first.
void DownloadTask::hashInBackground(const QString& path, qint64 bytes,
                                    void (DownloadTask::*then)(const FileHash&)) {
    abortHashing();
    m_hashCancel = std::make_shared<std::atomic_bool>(false);
    auto* watcher = new QFutureWatcher<FileHash>(this);
    m_hashWatcher = watcher;
    connect(watcher, &QFutureWatcherBase::finished, this, [this, watcher, then] {
        watcher->deleteLater();
        if (m_hashWatcher != watcher) {
            return;
        }
        m_hashWatcher = nullptr;
        m_hashCancel.reset();
        (this->*then)(watcher->result());
    });
    watcher->setFuture(hashFilePrefixAsync(path, bytes, m_hashCancel));
}

void DownloadTask::abortHashing() {
    if (m_hashCancel) {
        m_hashCancel->store(true); // the worker stops at its next read
        m_hashCancel.reset();
    }
    if (QFutureWatcher<FileHash>* watcher = m_hashWatcher) {
        m_hashWatcher = nullptr;
        disconnect(watcher, nullptr, this, nullptr);
        watcher->deleteLater();
    }
}

void DownloadTask::sendRequest() {
    // The token goes to the origin it was given for, never to the CDN a redirect points at.
    QNetworkRequest request = HttpPolicy::makeRequest(m_redirects.current(), m_token, m_state.url,
                                                      m_options.transferTimeoutMs);
    if (m_offset > 0) {
        request.setRawHeader("Range", QByteArray("bytes=") + QByteArray::number(m_offset) + "-");
    }
    m_responseAccepted = false;
    m_reply = m_network->get(request);
    connect(m_reply, &QNetworkReply::readyRead, this, &DownloadTask::onReadyRead);
    connect(m_reply, &QNetworkReply::finished, this, &DownloadTask::onFinished);
}

// Decides, on the first bytes of a response, whether its body is file data, and where it
// starts. False for redirects and errors (their bodies are ignored) and after a failure.
bool DownloadTask::acceptResponse() {
    if (m_responseAccepted) {
        return true;
    }
    const int status = m_reply->attribute(QNetworkRequest::HttpStatusCodeAttribute).toInt();
    if (status != 200 && status != 206) {
        return false;
    }
    qint64 total = -1;
    if (status == 200) {
        if (m_offset > 0) {
            // The server ignored the Range header: its body is the whole file.
            restartFromZero(QStringLiteral("it ignored the Range request"));
        }
        total = m_reply->header(QNetworkRequest::ContentLengthHeader).toLongLong(nullptr);
        if (!m_reply->header(QNetworkRequest::ContentLengthHeader).isValid()) {
            total = -1;
        }
    } else {
        static const QRegularExpression range(QStringLiteral(R"(^bytes (\d+)-(\d+)/(\d+|\*)$)"));
        const auto match = range.match(QString::fromLatin1(m_reply->rawHeader("Content-Range")));
        if (!match.hasMatch() || match.captured(1).toLongLong() != m_offset) {
            m_pendingFailure =
                QStringLiteral("the server answered with bytes '%1' to a request for bytes %2-")
                    .arg(QString::fromLatin1(m_reply->rawHeader("Content-Range")))
                    .arg(m_offset);
            return false;
        }
        if (match.captured(3) != QLatin1String("*")) {
            total = match.captured(3).toLongLong();
        }
    }
    if (total >= 0) {
        if (m_state.expectedSize >= 0 && total != m_state.expectedSize) {
            m_pendingFailure = QStringLiteral("the server's file is %1 bytes, %2 were expected "
                                              "(the file may have changed)")
                                   .arg(total)
                                   .arg(m_state.expectedSize);
            return false;
        }
        if (m_total < 0 && !checkFreeSpace(total - m_offset)) {
            return false;
        }
        m_total = total;
    }
    m_responseAccepted = true;
    return true;
}

void DownloadTask::onReadyRead() {
    if (!m_reply || m_status != Status::Running) {
        return;
    }
    if (!acceptResponse()) {
        if (!m_pendingFailure.isEmpty()) {
            fail(m_pendingFailure);
            return;
        }
        // Not file data (a redirect, an error page): its headers say all there is to know. A
        // body that goes on (it might never end) is cut short and the headers acted on.
        if (HttpPolicy::discardUnwantedBody(m_reply)) {
            QNetworkReply* reply = takeReply();
            reply->abort();
            handleResponse(reply);
        }
        return;
    }
    const QByteArray data = m_reply->readAll();
    if (m_total >= 0 && m_offset + data.size() > m_total) {
        fail(QStringLiteral("the server sent more than the %1 bytes expected").arg(m_total));
        return;
    }
    if (m_file.write(data) != data.size()) {
        fail(QStringLiteral("cannot write %1: %2").arg(partPath(), m_file.errorString()));
        return;
    }
    m_hash->addData(data);
    m_offset += data.size();
    updateSpeed(false);
}

void DownloadTask::onFinished() {
    QNetworkReply* reply = m_reply;
    if (!reply || sender() != reply) {
        return; // a reply aborted by pause() or cancel()
    }
    if (m_status == Status::Running && reply->bytesAvailable() > 0) {
        onReadyRead(); // the last bytes
        if (m_reply != reply) {
            return; // failed on them, or handled as a response that is not file data
        }
    }
    takeReply();
    if (m_status == Status::Running) {
        handleResponse(reply);
    }
}

// The reply, no longer this task's: no more signals from it, deleted later.
QNetworkReply* DownloadTask::takeReply() {
    return HttpPolicy::takeReply(m_reply, this);
}

// What a finished response (or one ended at its headers) means for the download.
void DownloadTask::handleResponse(QNetworkReply* reply) {
    const int status = HttpPolicy::statusOf(reply);
    const QString url = displayUrl(m_state.url);
    if (HttpPolicy::isRedirect(status)) {
        followRedirect(reply->rawHeader("Location"));
        return;
    }
    if (status == 401 || status == 403) {
        fail(QStringLiteral("gated model: accept the license on huggingface.co and set a token "
                            "(HF_TOKEN or the settings); the server answered %1 for %2%3")
                 .arg(status)
                 .arg(url, m_token.isEmpty() ? QString() : QStringLiteral(" (a token was sent)")));
        return;
    }
    if (status == 404) {
        fail(QStringLiteral("not found (HTTP 404): %1").arg(url));
        return;
    }
    if (status == 416) {
        // Nothing left after our offset: either we have it all, or the file changed.
        if (m_total >= 0 && m_offset == m_total) {
            verifyAndRename();
        } else {
            restartFromZero(QStringLiteral("it refused the Range request with HTTP 416"));
            retryOrFail(QStringLiteral("the server refused the range request (HTTP 416)"));
        }
        return;
    }
    if (status >= 400 && status < 500) {
        fail(
            QStringLiteral("HTTP %1 %2: %3")
                .arg(status)
                .arg(reply->attribute(QNetworkRequest::HttpReasonPhraseAttribute).toString(), url));
        return;
    }
    if (status >= 500) {
        retryOrFail(QStringLiteral("HTTP %1 from %2").arg(status).arg(url));
        return;
    }
    if (status != 0 && status != 200 && status != 206) {
        fail(QStringLiteral("unexpected answer HTTP %1 from %2").arg(status).arg(url));
        return;
    }
    const QString cutShort =
        QStringLiteral("the connection closed after %1 of %2 bytes").arg(m_offset).arg(m_total);
    if (reply->error() != QNetworkReply::NoError) {
        const bool closed = reply->error() == QNetworkReply::RemoteHostClosedError && m_total >= 0;
        retryOrFail(closed ? cutShort
                           : HttpPolicy::failureText(reply, m_options.transferTimeoutMs));
        return;
    }
    if (m_total >= 0 && m_offset < m_total) {
        retryOrFail(cutShort);
        return;
    }
    verifyAndRename();
}

void DownloadTask::followRedirect(const QByteArray& location) {
    if (const auto next = m_redirects.follow(location); !next) {
        fail(next.error());
        return;
    }
    sendRequest();
}

void DownloadTask::retryOrFail(const QString& reason) {
    // Only a failure that took the file further than ever before resets the count: a server
    // that drops every response half way, and ignores or refuses the Range that would resume
    // it, starts over each time and never gets past that mark.
    if (m_offset > m_furthest) {
        m_furthest = m_offset;
        m_attempt = 0;
    }
    ++m_failedAttempts;
    if (++m_attempt > m_options.maxRetries) {
        const QString restarts =
            m_restartReason.isEmpty()
                ? QString()
                : QStringLiteral("; the server does not resume downloads (%1), so every attempt "
                                 "started over")
                      .arg(m_restartReason);
        fail(QStringLiteral("download failed after %1 attempts: %2%3")
                 .arg(m_attempt)
                 .arg(reason, restarts));
        return;
    }
    if (m_failedAttempts >= m_options.maxAttempts) {
        fail(QStringLiteral("download stopped after %1 attempts in all, each cut short: %2; the "
                            "%3 bytes received are kept, to resume later")
                 .arg(m_failedAttempts)
                 .arg(reason)
                 .arg(m_offset));
        return;
    }
    m_file.flush();
    setStatus(Status::Retrying);
    m_error = reason;
    // Signed CDN URLs expire: each attempt starts again from the original URL.
    m_redirects.start(m_state.url);
    m_retryTimer.start(m_options.retryBaseDelayMs << std::min(m_attempt - 1, 6));
}

// Throws away what NAME.part holds; `why` (the server's fault, for the final message) is
// empty when the bytes on disk were simply too many.
void DownloadTask::restartFromZero(const QString& why) {
    if (!why.isEmpty()) {
        m_restartReason = why;
    }
    m_file.resize(0);
    m_file.seek(0);
    m_hash->reset();
    m_offset = 0;
    m_samples.clear();
}

void DownloadTask::verifyAndRename() {
    setStatus(Status::Verifying);
    m_file.close();
    const QString part = partPath();
    auto reject = [&](const QString& message) {
        QFile::remove(part);
        DownloadState::remove(m_state.destination);
        m_offset = 0;
        fail(message);
    };
    if (m_total >= 0 && m_offset != m_total) {
        reject(QStringLiteral("%1 has %2 bytes, %3 were expected; the partial file was removed")
                   .arg(QFileInfo(m_state.destination).fileName())
                   .arg(m_offset)
                   .arg(m_total));
        return;
    }
    if (!m_hash->ok()) {
        fail(m_hash->errorString()); // the data may be fine: NAME.part stays to resume
        return;
    }
    const QString actual = m_hash->hexResult();
    if (!m_state.sha256.isEmpty() && actual.compare(m_state.sha256, Qt::CaseInsensitive) != 0) {
        reject(
            QStringLiteral("SHA-256 mismatch for %1: expected %2, got %3; the file was removed")
                .arg(QFileInfo(m_state.destination).fileName(), m_state.sha256.toLower(), actual));
        return;
    }
    QFile::remove(m_state.destination);
    if (!QFile::rename(part, m_state.destination)) {
        fail(QStringLiteral("cannot rename %1 to %2").arg(part, m_state.destination));
        return;
    }
    DownloadState::remove(m_state.destination);
    m_sha256 = actual;
    m_total = m_offset;
    updateSpeed(true);
    setStatus(Status::Finished);
    emit finished(m_state.destination);
}

void DownloadTask::pause() {
    if (!isActive() && m_status != Status::Queued) {
        return;
    }
    m_retryTimer.stop();
    abortHashing();
    abortReply();
    m_file.close();
    m_speed = 0;
    setStatus(Status::Paused);
    emit progressChanged();
}

void DownloadTask::requeue() {
    if (!isActive() && m_status != Status::Finished) {
        setStatus(Status::Queued);
    }
}

void DownloadTask::cancel() {
    if (m_status == Status::Finished || m_status == Status::Cancelled) {
        return;
    }
    m_retryTimer.stop();
    abortHashing();
    abortReply();
    m_file.close();
    QFile::remove(partPath());
    DownloadState::remove(m_state.destination);
    m_offset = 0;
    m_speed = 0;
    setStatus(Status::Cancelled);
    emit progressChanged();
}

void DownloadTask::abortReply() {
    if (QNetworkReply* reply = takeReply()) {
        reply->abort(); // its finished() no longer reaches this task
    }
}

void DownloadTask::fail(const QString& message) {
    m_retryTimer.stop();
    abortHashing();
    abortReply();
    m_file.close();
    // Nothing to resume from: no empty NAME.part for the next run to list as interrupted.
    if (m_offset == 0 && m_ownsPartFiles) {
        QFile::remove(partPath());
        DownloadState::remove(m_state.destination);
    }
    m_error = message;
    m_speed = 0;
    setStatus(Status::Failed);
    emit progressChanged();
    emit failed(message);
}

void DownloadTask::setStatus(Status status) {
    if (m_status == status) {
        return;
    }
    m_status = status;
    emit statusChanged(status);
}

bool DownloadTask::checkFreeSpace(qint64 needed) {
    const QString directory = QFileInfo(m_state.destination).absolutePath();
    const qint64 available = m_options.freeSpace(directory);
    if (needed > 0 && available >= 0 && available < needed) {
        const QString message = QStringLiteral("not enough disk space in %1: %2 needed, %3 free")
                                    .arg(directory, sizeText(needed), sizeText(available));
        if (m_reply) {
            m_pendingFailure = message;
        } else {
            fail(message);
        }
        return false;
    }
    return true;
}

// Speed over the last few seconds; progressChanged at most every 100 ms unless `force`.
void DownloadTask::updateSpeed(bool force) {
    const qint64 now = m_clock.isValid() ? m_clock.elapsed() : 0;
    m_samples.emplace_back(now, m_offset);
    while (m_samples.size() > 2 && now - m_samples.front().first > kSpeedWindowMs) {
        m_samples.pop_front();
    }
    const auto& [first_ms, first_offset] = m_samples.front();
    if (now > first_ms) {
        m_speed = static_cast<double>(m_offset - first_offset) * 1000.0 /
                  static_cast<double>(now - first_ms);
    }
    if (force || now - m_lastEmitMs >= kProgressIntervalMs) {
        m_lastEmitMs = now;
        emit progressChanged();
    }
}
