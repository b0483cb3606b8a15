// Hugging Face Hub: references, URLs and the GGUF files of a repository (see the header).
#include "hf_api.h"

#include "hearth/json_input.h"
#include "http_policy.h"

#include <QNetworkAccessManager>
#include <QNetworkReply>
#include <QPointer>
#include <QRegularExpression>
#include <QSet>
#include <limits>
#include <map>
#include <memory>

namespace HfApi {

namespace {

const QRegularExpression& splitPattern() {
    static const QRegularExpression pattern(QStringLiteral(R"(^(.*)-(\d{5})-of-(\d{5})\.gguf$)"),
                                            QRegularExpression::CaseInsensitiveOption);
    return pattern;
}

bool isRepoName(const QString& text) {
    static const QRegularExpression pattern(QStringLiteral(R"(^[\w.\-]+/[\w.\-]+$)"));
    return pattern.match(text).hasMatch();
}

QString envString(const char* name) {
    return qEnvironmentVariable(name).trimmed();
}

// The endpoint's path, without trailing slashes: "" for the Hub, "/mirror" for a mirror
// served under a path.
QString endpointPath(const QUrl& hub) {
    QString path = hub.path();
    while (path.endsWith('/')) {
        path.chop(1);
    }
    return path;
}

// A URL on the endpoint: its path (a mirror's, if any) followed by `path`.
QUrl endpointUrl(const QString& path) {
    QUrl url = endpoint();
    url.setPath(endpointPath(url) + path);
    return url;
}

} // namespace

QUrl endpoint() {
    for (const char* name : {"HEARTH_HF_ENDPOINT", "HF_ENDPOINT"}) {
        if (const QString value = envString(name); !value.isEmpty()) {
            QUrl url(value);
            url.setPath(endpointPath(url));
            return url.adjusted(QUrl::RemoveQuery | QUrl::RemoveFragment);
        }
    }
    return QUrl(QStringLiteral("https://huggingface.co"));
}

QByteArray tokenFromEnvironment(const QByteArray& fallback) {
    for (const char* name : {"HF_TOKEN", "HUGGING_FACE_HUB_TOKEN"}) {
        if (const QString value = envString(name); !value.isEmpty()) {
            return value.toUtf8();
        }
    }
    return fallback;
}

std::expected<ModelReference, QString> parseReference(const QString& input) {
    const QString text = input.trimmed();
    const auto usage = [&] {
        return QStringLiteral("'%1' is not a model reference: expected owner/repo, "
                              "owner/repo:file.gguf or an https:// link")
            .arg(text);
    };
    if (text.isEmpty()) {
        return std::unexpected(QStringLiteral("no model given: expected owner/repo, "
                                              "owner/repo:file.gguf or an https:// link"));
    }
    if (!text.contains(QLatin1String("://"))) {
        ModelReference reference;
        const qsizetype colon = text.indexOf(':');
        reference.repo = colon < 0 ? text : text.left(colon);
        reference.file = colon < 0 ? QString() : text.mid(colon + 1);
        if (!isRepoName(reference.repo) || (colon >= 0 && reference.file.isEmpty())) {
            return std::unexpected(usage());
        }
        return reference;
    }
    const QUrl url(text);
    if (!url.isValid() ||
        (url.scheme() != QLatin1String("https") && url.scheme() != QLatin1String("http"))) {
        return std::unexpected(usage());
    }
    const QUrl hub = endpoint();
    const QString host = url.host().toLower();
    const bool onEndpoint = HttpPolicy::sameOrigin(url, hub);
    const bool onHub = onEndpoint || host == QLatin1String("huggingface.co") ||
                       host == QLatin1String("hf.co") ||
                       host == QLatin1String("www.huggingface.co");
    ModelReference reference;
    if (!onHub) {
        reference.url = url;
        return reference;
    }
    // [/mirror]/owner/repo[/(tree|blob|resolve)/REV[/path...]]
    QString path = url.path();
    if (const QString prefix = endpointPath(hub);
        onEndpoint && !prefix.isEmpty() && path.startsWith(prefix + '/')) {
        path = path.mid(prefix.size());
    }
    const QStringList segments = path.split('/', Qt::SkipEmptyParts);
    if (segments.size() < 2) {
        return std::unexpected(usage());
    }
    reference.repo = segments[0] + '/' + segments[1];
    if (segments.size() >= 4 &&
        (segments[2] == QLatin1String("tree") || segments[2] == QLatin1String("blob") ||
         segments[2] == QLatin1String("resolve"))) {
        reference.revision = segments[3];
        reference.file = segments.mid(4).join('/');
    } else if (segments.size() > 2) {
        return std::unexpected(usage());
    }
    if (!isRepoName(reference.repo)) {
        return std::unexpected(usage());
    }
    return reference;
}

QUrl resolveUrl(const QString& repo, const QString& file, const QString& revision) {
    return endpointUrl(QStringLiteral("/%1/resolve/%2/%3").arg(repo, revision, file));
}

QUrl treeUrl(const QString& repo, const QString& revision) {
    QUrl url = endpointUrl(QStringLiteral("/api/models/%1/tree/%2").arg(repo, revision));
    url.setQuery(QStringLiteral("recursive=1"));
    return url;
}

namespace {

using Json = nlohmann::ordered_json;

QString stringField(const Json& object, const char* key) {
    const auto it = object.find(key);
    return it != object.end() && it->is_string() ? QString::fromStdString(it->get<std::string>())
                                                 : QString();
}

// A file's size from the listing: -1 when absent; an error for a value that is not a byte
// count Hearth accepts (negative, fractional, past kMaxFileBytes).
std::expected<qint64, QString> sizeField(const Json& object, const QString& path) {
    const auto it = object.find("size");
    if (it == object.end()) {
        return -1;
    }
    if (it->is_number_unsigned() && it->get<uint64_t>() <= uint64_t(kMaxFileBytes)) {
        return static_cast<qint64>(it->get<uint64_t>());
    }
    if (it->is_number_integer() && it->get<int64_t>() >= 0 && it->get<int64_t>() <= kMaxFileBytes) {
        return it->get<int64_t>();
    }
    return std::unexpected(QStringLiteral("the repository listing gives %1 the size %2, not a "
                                          "byte count up to %3")
                               .arg(path, QString::fromStdString(it->dump()))
                               .arg(kMaxFileBytes));
}

} // namespace

std::expected<QList<RemoteFile>, QString> parseTree(const QByteArray& json) {
    auto document = hearth::parse_json_input(
        std::string_view(json.constData(), json.size()), "the repository listing",
        hearth::JsonLimits{.max_bytes = static_cast<size_t>(kMaxListingPageBytes)});
    if (!document) {
        return std::unexpected(QString::fromStdString(document.error().message));
    }
    if (!document->is_array()) {
        return std::unexpected(QStringLiteral("the repository listing is not a JSON array"));
    }
    static const QRegularExpression shaPattern(QStringLiteral("^[0-9a-f]{64}$"));
    QList<RemoteFile> files;
    for (const Json& object : *document) {
        if (!object.is_object() || stringField(object, "type") != QLatin1String("file")) {
            continue;
        }
        RemoteFile file;
        file.path = stringField(object, "path");
        if (file.path.isEmpty()) {
            continue;
        }
        const auto lfs = object.find("lfs");
        const bool inLfs = lfs != object.end() && lfs->is_object();
        // An LFS file's own size and SHA-256; `size` beside it is the pointer's.
        const auto size = sizeField(inLfs ? *lfs : object, file.path);
        if (!size) {
            return std::unexpected(size.error());
        }
        file.size = *size;
        if (inLfs) {
            file.sha256 = stringField(*lfs, "oid").toLower();
            if (!shaPattern.match(file.sha256).hasMatch()) {
                return std::unexpected(
                    QStringLiteral("the repository listing gives %1 the SHA-256 '%2', not 64 "
                                   "hexadecimal digits")
                        .arg(file.path, file.sha256.left(80)));
            }
        }
        files.append(file);
    }
    return files;
}

QString quantizationFromName(const QString& file) {
    static const QRegularExpression pattern(
        QStringLiteral(R"((?:^|[-_.])((?:I?Q\d(?:_[A-Z0-9]+)*)|MXFP4|BF16|F16|F32|FP16)(?=[-_.]))"),
        QRegularExpression::CaseInsensitiveOption);
    QString found;
    auto it = pattern.globalMatch(file);
    while (it.hasNext()) {
        found = it.next().captured(1).toUpper(); // the last match: names often end with it
    }
    return found == QLatin1String("FP16") ? QStringLiteral("F16") : found;
}

QStringList splitPartNames(const QString& file) {
    const auto match = splitPattern().match(file);
    if (!match.hasMatch()) {
        return {file};
    }
    const int count = match.captured(3).toInt();
    QStringList names;
    for (int i = 1; i <= count; ++i) {
        names.append(QStringLiteral("%1-%2-of-%3.gguf")
                         .arg(match.captured(1))
                         .arg(i, 5, 10, QLatin1Char('0'))
                         .arg(match.captured(3)));
    }
    return names;
}

QList<GgufChoice> groupGguf(const QList<RemoteFile>& files) {
    QList<GgufChoice> choices;
    std::map<QString, std::pair<int, std::map<int, RemoteFile>>> splits; // stem -> (count, parts)
    for (const RemoteFile& file : files) {
        if (!file.path.endsWith(QLatin1String(".gguf"), Qt::CaseInsensitive)) {
            continue;
        }
        if (const auto match = splitPattern().match(file.path); match.hasMatch()) {
            auto& [count, parts] = splits[match.captured(1)];
            count = match.captured(3).toInt();
            parts[match.captured(2).toInt()] = file;
            continue;
        }
        GgufChoice choice;
        choice.name = file.path;
        choice.quantization = quantizationFromName(file.path);
        choice.parts = {file};
        choice.totalSize = file.size;
        choices.append(choice);
    }
    for (const auto& [stem, entry] : splits) {
        const auto& [count, parts] = entry;
        GgufChoice choice;
        choice.name = stem + QStringLiteral(".gguf");
        choice.quantization = quantizationFromName(choice.name);
        choice.totalSize = 0;
        for (const auto& [index, part] : parts) {
            choice.parts.append(part);
            const bool known = choice.totalSize >= 0 && part.size >= 0 &&
                               part.size <= std::numeric_limits<qint64>::max() - choice.totalSize;
            choice.totalSize = known ? choice.totalSize + part.size : -1;
        }
        choice.complete = static_cast<int>(parts.size()) == count && parts.begin()->first == 1 &&
                          parts.rbegin()->first == count;
        choices.append(choice);
    }
    std::sort(choices.begin(), choices.end(),
              [](const GgufChoice& a, const GgufChoice& b) { return a.name < b.name; });
    return choices;
}

namespace {

// One listing under way: the pages so far and where it stands.
struct Listing {
    QNetworkAccessManager* network = nullptr;
    QString repo;
    QByteArray token;
    QPointer<QObject> context;
    std::function<void(std::expected<QList<GgufChoice>, QString>)> done;
    QList<RemoteFile> files;
    QSet<QUrl> pages; // asked for already: a listing that links back to one is refused
    HttpPolicy::RedirectChain redirects;
};

constexpr const char* kTooLargeProperty = "hearthListingTooLarge";

void sendPage(const std::shared_ptr<Listing>& listing);

// The next page of the listing, at `url` (the first page, or what a Link header named).
void fetchPage(const std::shared_ptr<Listing>& listing, const QUrl& url) {
    if (listing->pages.contains(url)) {
        listing->done(std::unexpected(
            QStringLiteral("cannot list %1: the listing links back to a page it gave before (%2)")
                .arg(listing->repo, HttpPolicy::displayUrl(url))));
        return;
    }
    if (listing->pages.size() >= kMaxListingPages) {
        listing->done(std::unexpected(
            QStringLiteral("cannot list %1: the listing runs past %2 pages, the most Hearth reads")
                .arg(listing->repo)
                .arg(kMaxListingPages)));
        return;
    }
    listing->pages.insert(url);
    listing->redirects.start(url);
    sendPage(listing);
}

void onPage(const std::shared_ptr<Listing>& listing, QNetworkReply* reply) {
    const QString& repo = listing->repo;
    const auto fail = [&](const QString& message) { listing->done(std::unexpected(message)); };
    const int status = HttpPolicy::statusOf(reply);
    if (reply->property(kTooLargeProperty).toBool()) {
        fail(QStringLiteral("cannot list %1: a page of the listing is larger than %2 MiB")
                 .arg(repo)
                 .arg(kMaxListingPageBytes >> 20));
        return;
    }
    if (HttpPolicy::isRedirect(status)) {
        if (const auto next = listing->redirects.follow(reply->rawHeader("Location")); !next) {
            fail(QStringLiteral("cannot list %1: %2").arg(repo, next.error()));
            return;
        }
        sendPage(listing);
        return;
    }
    if (status == 401 || status == 403) {
        fail(QStringLiteral("gated or private repository %1: accept the license on "
                            "huggingface.co and set a token (HF_TOKEN)")
                 .arg(repo));
        return;
    }
    if (status == 404) {
        fail(QStringLiteral("repository not found: %1").arg(repo));
        return;
    }
    if (reply->error() != QNetworkReply::NoError || status != 200) {
        fail(QStringLiteral("cannot list %1: %2")
                 .arg(repo, reply->error() != QNetworkReply::NoError
                                ? HttpPolicy::failureText(reply)
                                : QStringLiteral("HTTP %1").arg(status)));
        return;
    }
    auto page = parseTree(reply->readAll());
    if (!page) {
        fail(page.error());
        return;
    }
    listing->files.append(*page);
    static const QRegularExpression next(QStringLiteral(R"(<([^>]+)>\s*;\s*rel="next")"));
    const auto match = next.match(QString::fromLatin1(reply->rawHeader("Link")));
    if (!match.hasMatch()) {
        listing->done(groupGguf(listing->files));
        return;
    }
    // The next page may be anywhere; the token still goes to the hub's origin only.
    const QUrl nextUrl = listing->redirects.current().resolved(QUrl(match.captured(1)));
    if (!HttpPolicy::isHttp(nextUrl)) {
        fail(QStringLiteral("cannot list %1: the listing's next page is not an http(s) URL: %2")
                 .arg(repo, HttpPolicy::displayUrl(nextUrl)));
        return;
    }
    fetchPage(listing, nextUrl);
}

void sendPage(const std::shared_ptr<Listing>& listing) {
    QNetworkReply* reply = listing->network->get(
        HttpPolicy::makeRequest(listing->redirects.current(), listing->token, endpoint()));
    // The body is bounded as it arrives, whatever the status or Content-Length claim.
    QObject::connect(reply, &QNetworkReply::downloadProgress, reply,
                     [reply](qint64 received, qint64 total) {
                         if (received > kMaxListingPageBytes || total > kMaxListingPageBytes) {
                             reply->setProperty(kTooLargeProperty, true);
                             reply->abort();
                         }
                     });
    QObject::connect(reply, &QNetworkReply::finished, listing->context, [listing, reply] {
        reply->deleteLater();
        onPage(listing, reply);
    });
}

} // namespace

void listGguf(QNetworkAccessManager* network, const QString& repo, const QByteArray& token,
              QObject* context,
              std::function<void(std::expected<QList<GgufChoice>, QString>)> done) {
    auto listing = std::make_shared<Listing>();
    listing->network = network;
    listing->repo = repo;
    listing->token = token;
    listing->context = context;
    listing->done = std::move(done);
    fetchPage(listing, treeUrl(repo));
}

} // namespace HfApi
