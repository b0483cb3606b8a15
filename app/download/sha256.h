// SHA-256 through OpenSSL's libcrypto (EVP), the one hash Hearth computes over model files:
// downloads hash their bytes as they arrive and re-hash what is already on disk. OpenSSL
// uses the CPU's SHA extensions (SHA-NI) or AVX2 and hashes at GB/s; Qt 6.4's portable
// QCryptographicHash manages ~70 MB/s, slower than a 1 Gbit/s download and ten minutes for
// a 40 GB model. Qt Network already loads libssl/libcrypto at run time.
//
// Not thread-safe: one object per thread at a time (it may move between threads).
#pragma once

#include <QByteArray>
#include <QByteArrayView>
#include <QString>
#include <memory>

struct evp_md_ctx_st; // OpenSSL's EVP_MD_CTX, kept out of this header

class Sha256 {
public:
    Sha256();
    ~Sha256();
    Sha256(const Sha256&) = delete;
    Sha256& operator=(const Sha256&) = delete;

    // Continues the hash with `data`.
    void addData(QByteArrayView data);
    // Starts over, as if nothing had been added.
    void reset();

    // The 32-byte digest of everything added so far; the hash can go on after it. Empty when
    // OpenSSL failed (see errorString()).
    QByteArray result() const;
    // The same as 64 lower-case hexadecimal digits, as Hugging Face and the catalog write it.
    QString hexResult() const;

    // False once an OpenSSL call failed (no SHA-256 in the loaded provider, out of memory).
    bool ok() const { return m_error.isEmpty(); }
    QString errorString() const { return m_error; }

    // The digest of `data` in one call.
    static QByteArray hash(QByteArrayView data);
    static QString hexHash(QByteArrayView data);

private:
    struct FreeContext {
        void operator()(evp_md_ctx_st* context) const;
    };
    void setFailed(const char* what);

    std::unique_ptr<evp_md_ctx_st, FreeContext> m_context;
    QString m_error;
};
