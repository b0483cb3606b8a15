// SHA-256 through OpenSSL's EVP interface (see the header).
#include "sha256.h"

#include <openssl/err.h>
#include <openssl/evp.h>

void Sha256::FreeContext::operator()(evp_md_ctx_st* context) const {
    EVP_MD_CTX_free(context);
}

Sha256::Sha256() : m_context(EVP_MD_CTX_new()) {
    reset();
}

Sha256::~Sha256() = default;

void Sha256::setFailed(const char* what) {
    // The oldest queued OpenSSL error says why; the queue is per thread, so drain it.
    char reason[256] = "no reason given";
    if (const unsigned long code = ERR_get_error(); code != 0) {
        ERR_error_string_n(code, reason, sizeof reason);
    }
    ERR_clear_error();
    m_error = QStringLiteral("SHA-256 (OpenSSL %1) failed: %2")
                  .arg(QLatin1String(what), QLatin1String(reason));
}

void Sha256::reset() {
    m_error.clear();
    if (!m_context) {
        setFailed("EVP_MD_CTX_new");
    } else if (EVP_DigestInit_ex(m_context.get(), EVP_sha256(), nullptr) != 1) {
        setFailed("EVP_DigestInit_ex");
    }
}

void Sha256::addData(QByteArrayView data) {
    if (ok() && !data.isEmpty() &&
        EVP_DigestUpdate(m_context.get(), data.data(), static_cast<size_t>(data.size())) != 1) {
        setFailed("EVP_DigestUpdate");
    }
}

QByteArray Sha256::result() const {
    if (!ok()) {
        return {};
    }
    // Finalising ends a context: finalise a copy, so that the hash can go on.
    const std::unique_ptr<evp_md_ctx_st, FreeContext> copy(EVP_MD_CTX_new());
    QByteArray digest(EVP_MAX_MD_SIZE, Qt::Uninitialized);
    auto* out = reinterpret_cast<unsigned char*>(digest.data());
    unsigned int length = 0;
    if (!copy || EVP_MD_CTX_copy_ex(copy.get(), m_context.get()) != 1 ||
        EVP_DigestFinal_ex(copy.get(), out, &length) != 1) {
        ERR_clear_error();
        return {};
    }
    digest.truncate(static_cast<qsizetype>(length));
    return digest;
}

QString Sha256::hexResult() const {
    return QString::fromLatin1(result().toHex());
}

QByteArray Sha256::hash(QByteArrayView data) {
    Sha256 sha;
    sha.addData(data);
    return sha.result();
}

QString Sha256::hexHash(QByteArrayView data) {
    return QString::fromLatin1(hash(data).toHex());
}
