// Hugging Face Hub, the little of it a downloader needs: what a user typed (a link,
// owner/repo, owner/repo:file), the download URL of a file, and the GGUF files of a
// repository with their sizes and SHA-256 (from the tree API: `lfs.oid` is the SHA-256).
// Split GGUF files (NAME-00001-of-00003.gguf) are grouped into one choice.
//
// The endpoint is $HEARTH_HF_ENDPOINT, else $HF_ENDPOINT (as huggingface_hub reads it),
// else https://huggingface.co; tests point it at a local server. A mirror may serve the Hub
// under a path (http://host/mirror): every URL built here keeps it. Requests follow
// http_policy.h's rules; the token goes to the endpoint's origin only.
#pragma once

#include <QList>
#include <QString>
#include <QUrl>
#include <expected>
#include <functional>

class QNetworkAccessManager;
class QObject;

namespace HfApi {

// docs/LIMITS.md, "Downloads and Hugging Face".
inline constexpr int kMaxListingPages = 100;                     // 1000 files a page on the Hub
inline constexpr qint64 kMaxListingPageBytes = qint64{16} << 20; // a page of 1000 files: ~0.3 MiB
inline constexpr qint64 kMaxFileBytes = qint64{1} << 46;         // 64 TiB: no model file is near

// The Hub's base URL: scheme, host, port and a mirror's path (no trailing slash).
QUrl endpoint();
// The token for gated models: $HF_TOKEN, else $HUGGING_FACE_HUB_TOKEN, else `fallback`
// (the settings' value).
QByteArray tokenFromEnvironment(const QByteArray& fallback = {});

struct ModelReference {
    QString repo; // owner/name; empty for a plain URL
    QString file; // path inside the repository, empty when not chosen
    QString revision = QStringLiteral("main");
    QUrl url; // set for a direct link to a file outside the Hub
};

// Understands "owner/repo", "owner/repo:file.gguf", https://huggingface.co/owner/repo
// (also hf.co, /tree/REV, /blob/REV/FILE, /resolve/REV/FILE, ?download=true) and any other
// http(s) URL of a file. Fails with a message saying what was expected.
std::expected<ModelReference, QString> parseReference(const QString& text);

QUrl resolveUrl(const QString& repo, const QString& file, const QString& revision = "main");
QUrl treeUrl(const QString& repo, const QString& revision = "main");

struct RemoteFile {
    QString path;
    qint64 size = -1;
    QString sha256; // empty for files not stored in LFS
};

// A GGUF model as a user picks it: one file, or all parts of a split file.
struct GgufChoice {
    QString name;            // the file, or for a split file its name without -0000k-of-0000n
    QString quantization;    // Q4_K_M, Q8_0, F16, ... guessed from the name, may be empty
    QList<RemoteFile> parts; // in order; one for an unsplit file
    qint64 totalSize = -1;   // -1 when a part's size is unknown
    bool complete = true;    // false when parts of a split file are missing from the listing
};

// One page of the tree API's answer (hearth::parse_json_input, at most kMaxListingPageBytes).
// Fails on JSON that is not a listing, a size that is not a byte count up to kMaxFileBytes, or
// an LFS SHA-256 that is not 64 hex digits, naming the file.
std::expected<QList<RemoteFile>, QString> parseTree(const QByteArray& json);
QList<GgufChoice> groupGguf(const QList<RemoteFile>& files);
// For NAME-00001-of-00003.gguf: the three part names in order; otherwise just `file`.
QStringList splitPartNames(const QString& file);
QString quantizationFromName(const QString& file);

// Lists a repository's GGUF files, following the API's pagination (Link: rel="next") for at
// most kMaxListingPages pages, none seen twice, each at most kMaxListingPageBytes. `token`
// goes to the endpoint's origin only, never to a page or redirect elsewhere. Calls `done`
// once, in `context`'s thread, with the choices or an error message (404, gated, bad JSON,
// network, a limit).
void listGguf(QNetworkAccessManager* network, const QString& repo, const QByteArray& token,
              QObject* context,
              std::function<void(std::expected<QList<GgufChoice>, QString>)> done);

} // namespace HfApi
