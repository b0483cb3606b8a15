// Helpers of tst_tokenizer: test data, id formatting, an independent UTF-8 check, and a
// writer of GGUF metadata in memory (for bad-vocabulary cases).
#pragma once

#include "hearth/gguf.h"
#include "hearth/tokenizer.h"
#include "test_support.h"

#include <QFile>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

namespace hearth::test {

inline std::filesystem::path tok_dir() {
    return hearth::test::data_dir() / "tokenizer";
}

inline QJsonObject read_json(const std::filesystem::path& path) {
    QFile file(QString::fromStdString(path.string()));
    if (!file.open(QIODevice::ReadOnly)) {
        return {};
    }
    return QJsonDocument::fromJson(file.readAll()).object();
}

inline std::vector<std::string> corpus() {
    std::vector<std::string> texts;
    for (const auto& v : read_json(tok_dir() / "corpus.json")["texts"].toArray()) {
        const QByteArray utf8 = v.toString().toUtf8();
        texts.emplace_back(utf8.constData(), static_cast<size_t>(utf8.size()));
    }
    return texts;
}

inline std::vector<int32_t> to_ids(const QJsonValue& value) {
    std::vector<int32_t> ids;
    for (const auto& v : value.toArray()) {
        ids.push_back(v.toInt());
    }
    return ids;
}

inline std::string ids_string(const std::vector<int32_t>& ids) {
    std::string s = "[";
    for (size_t i = 0; i < ids.size(); ++i) {
        s += (i ? ", " : "") + std::to_string(ids[i]);
    }
    return s + "]";
}

// The text as a C-style escaped literal, for failure messages.
inline std::string escaped(const std::string& text) {
    std::string out;
    for (const char c : text.substr(0, 200)) {
        const auto u = static_cast<unsigned char>(c);
        if (c == '\n') {
            out += "\\n";
        } else if (c == '\t') {
            out += "\\t";
        } else if (u < 0x20) {
            char buf[8];
            std::snprintf(buf, sizeof buf, "\\x%02x", u);
            out += buf;
        } else {
            out += c;
        }
    }
    return text.size() > 200 ? out + "..." : out;
}

// Strict UTF-8 check, written independently of the engine's.
inline bool valid_utf8(std::string_view s) {
    size_t i = 0;
    while (i < s.size()) {
        const auto b = static_cast<unsigned char>(s[i]);
        size_t len = 0;
        uint32_t cp = 0;
        if (b < 0x80) {
            ++i;
            continue;
        }
        if (b >= 0xC2 && b <= 0xDF) {
            len = 2, cp = b & 0x1Fu;
        } else if (b >= 0xE0 && b <= 0xEF) {
            len = 3, cp = b & 0x0Fu;
        } else if (b >= 0xF0 && b <= 0xF4) {
            len = 4, cp = b & 0x07u;
        } else {
            return false;
        }
        if (i + len > s.size()) {
            return false;
        }
        for (size_t k = 1; k < len; ++k) {
            const auto c = static_cast<unsigned char>(s[i + k]);
            if ((c & 0xC0) != 0x80) {
                return false;
            }
            cp = (cp << 6) | (c & 0x3Fu);
        }
        if ((len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10FFFF)) ||
            (cp >= 0xD800 && cp <= 0xDFFF)) {
            return false;
        }
        i += len;
    }
    return true;
}

// Writes GGUF v3 metadata in memory, for bad-vocabulary tests.
class GgufBuilder {
public:
    GgufBuilder& str(const std::string& key, const std::string& value) {
        head(key, 8);
        put_str(value);
        return *this;
    }
    GgufBuilder& u32(const std::string& key, uint32_t value) {
        head(key, 4);
        put(value);
        return *this;
    }
    GgufBuilder& boolean(const std::string& key, bool value) {
        head(key, 7);
        kv_.push_back(value ? 1 : 0);
        return *this;
    }
    GgufBuilder& strings(const std::string& key, const std::vector<std::string>& values) {
        array_head(key, 8, values.size());
        for (const auto& v : values) {
            put_str(v);
        }
        return *this;
    }
    GgufBuilder& floats(const std::string& key, const std::vector<float>& values) {
        array_head(key, 6, values.size());
        for (const float v : values) {
            put(v);
        }
        return *this;
    }
    GgufBuilder& ints(const std::string& key, const std::vector<int32_t>& values) {
        array_head(key, 5, values.size());
        for (const int32_t v : values) {
            put(v);
        }
        return *this;
    }
    std::vector<uint8_t> bytes() const {
        std::string out = "GGUF";
        const auto append = [&](auto v) {
            out.append(reinterpret_cast<const char*>(&v), sizeof v);
        };
        append(uint32_t{3});
        append(uint64_t{0});
        append(n_);
        out += kv_;
        return {out.begin(), out.end()};
    }

private:
    template <class T>
    void put(T v) {
        kv_.append(reinterpret_cast<const char*>(&v), sizeof v);
    }
    void put_str(const std::string& s) {
        put(uint64_t{s.size()});
        kv_ += s;
    }
    void head(const std::string& key, uint32_t type) {
        put_str(key);
        put(type);
        ++n_;
    }
    void array_head(const std::string& key, uint32_t type, size_t count) {
        head(key, 9);
        put(type);
        put(uint64_t{count});
    }
    std::string kv_;
    uint64_t n_ = 0;
};

// A tiny valid byte-level BPE vocabulary: "a", "b", "ab", "<s>".
inline GgufBuilder tiny_bpe(const std::string& pre = "gpt-2") {
    GgufBuilder b;
    b.str("tokenizer.ggml.model", "gpt2")
        .str("tokenizer.ggml.pre", pre)
        .strings("tokenizer.ggml.tokens", {"a", "b", "ab", "<s>"})
        .ints("tokenizer.ggml.token_type", {1, 1, 1, 3})
        .strings("tokenizer.ggml.merges", {"a b"});
    return b;
}

// A Tokenizer from GGUF metadata in memory.
inline hearth::Result<hearth::Tokenizer> from_bytes(const std::vector<uint8_t>& bytes) {
    auto header = hearth::parse_gguf_header(bytes, bytes.size());
    if (!header) {
        return std::unexpected(header.error());
    }
    return hearth::Tokenizer::from_gguf(*header);
}

inline // About 1 MB of English: the licence texts Debian ships, else the corpus's prose.
    std::string
    english_megabyte() {
    std::string seed;
    for (const char* name : {"GPL-3", "GPL-2", "LGPL-3", "Apache-2.0", "Artistic"}) {
        seed += read_text(std::filesystem::path("/usr/share/common-licenses") / name);
    }
    if (seed.empty()) {
        for (const auto& t : corpus()) {
            seed += t + "\n";
        }
    }
    std::string text;
    while (text.size() < (1u << 20)) {
        text += seed;
    }
    text.resize(1u << 20);
    while (!text.empty() && (static_cast<unsigned char>(text.back()) & 0xC0) == 0x80) {
        text.pop_back();
    }
    return text;
}

} // namespace hearth::test
