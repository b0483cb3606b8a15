// Generated tokens decoded in the context of their prompt (StreamingDetokenizer with a
// context): the text streamed equals decode(prompt + generated) minus decode(prompt), against
// the sentencepiece library and Hugging Face tokenizers (tests/data/tokenizer/
// detokenizer.ref.json, from scripts/gen-detokenizer-reference.py) for every cut of a set of
// texts, and against Hearth's own decode for random ids: SentencePiece's leading space,
// byte-fallback and byte-level tokens that split a character, special tokens.
#include "hearth/tokenizer.h"
#include "test_support.h"
#include "tokenizer_test_support.h"

#include <QJsonArray>
#include <QJsonObject>
#include <QObject>
#include <QtTest>
#include <random>
#include <string>
#include <vector>

using hearth::DecodeOptions;
using hearth::StreamingDetokenizer;
using hearth::Tokenizer;
using namespace hearth::test;

namespace {

const char* const kReplacement = "\xEF\xBF\xBD";

// Streams `generated` after `context`; every chunk must be valid UTF-8.
std::string stream(const Tokenizer& tok, const std::vector<int32_t>& context,
                   const std::vector<int32_t>& generated, DecodeOptions options, std::string& why) {
    StreamingDetokenizer detok(tok, options, context);
    std::string all;
    for (const int32_t id : generated) {
        const std::string chunk = detok.push(id);
        if (!valid_utf8(chunk)) {
            why = "chunk is not valid UTF-8: " + escaped(chunk);
        }
        all += chunk;
    }
    const std::string rest = detok.flush();
    if (!valid_utf8(rest)) {
        why = "flush is not valid UTF-8: " + escaped(rest);
    }
    return all + rest;
}

// decode(context + generated) minus decode(context): what follows their common prefix, where
// decode(context) may differ from that prefix only by the U+FFFD of an unfinished character.
std::string continuation(const Tokenizer& tok, const std::vector<int32_t>& context,
                         const std::vector<int32_t>& generated, DecodeOptions options,
                         std::string& why) {
    std::vector<int32_t> all = context;
    all.insert(all.end(), generated.begin(), generated.end());
    const std::string full = tok.decode(all, options);
    const std::string before = tok.decode(context, options);
    size_t common = 0;
    while (common < full.size() && common < before.size() && full[common] == before[common]) {
        ++common;
    }
    // Back to a character boundary (two different characters may share their first bytes).
    const auto inside = [](const std::string& s, size_t i) {
        return i < s.size() && (static_cast<unsigned char>(s[i]) & 0xC0) == 0x80;
    };
    while (common > 0 && (inside(full, common) || inside(before, common))) {
        --common;
    }
    for (size_t i = common; i < before.size(); i += 3) {
        if (before.compare(i, 3, kReplacement) != 0) {
            why = "decode(context) '" + escaped(before) + "' is not a prefix of '" + escaped(full) +
                  "'";
            break;
        }
    }
    return full.substr(common);
}

std::vector<int32_t> ids(const QJsonValue& value) {
    return to_ids(value);
}

} // namespace

class TestDetokenizer : public QObject {
    Q_OBJECT

private slots:
    void continuations_equal_the_references_data() {
        QTest::addColumn<QString>("vocab");
        QTest::newRow("llama-spm (sentencepiece, transformers)") << "ggml-vocab-llama-spm.gguf";
        QTest::newRow("gpt-2 (tokenizers)") << "ggml-vocab-gpt-2.gguf";
    }

    void continuations_equal_the_references() {
        QFETCH(QString, vocab);
        auto tok = Tokenizer::from_gguf_file(tok_dir() / vocab.toStdString());
        QVERIFY2(tok.has_value(), tok ? "" : tok.error().message.c_str());
        const QJsonArray cases = read_json(tok_dir() / "detokenizer.ref.json")["vocabularies"]
                                     .toObject()[vocab]
                                     .toArray();
        QVERIFY(cases.size() >= 40);
        int leading_space = 0;
        for (const auto& value : cases) {
            const QJsonObject c = value.toObject();
            const auto prompt = ids(c["prompt"]);
            const auto generated = ids(c["generated"]);
            const QByteArray want_utf8 = c["text"].toString().toUtf8();
            const std::string want(want_utf8.constData(), static_cast<size_t>(want_utf8.size()));
            std::string why;
            const std::string got = stream(*tok, prompt, generated, {.skip_special = true}, why);
            QVERIFY2(why.empty(), why.c_str());
            QVERIFY2(got == want, qPrintable(QString::fromStdString(
                                      "prompt " + ids_string(prompt) + ", generated " +
                                      ids_string(generated) + ": streamed '" + escaped(got) +
                                      "', the reference '" + escaped(want) + "'")));
            leading_space += !want.empty() && want[0] == ' ';
        }
        qInfo("%lld continuations exact, %d of them starting with a space",
              static_cast<long long>(cases.size()), leading_space);
    }

    void the_issue_example() {
        // "Once upon a time" then " Mensumes": llama.cpp prints " Mensumes", the true
        // continuation; decoding the generated tokens alone drops the space.
        auto tok = Tokenizer::from_gguf_file(tok_dir() / "ggml-vocab-llama-spm.gguf");
        QVERIFY(tok.has_value());
        const auto prompt = *tok->encode("Once upon a time");
        const auto all = *tok->encode("Once upon a time Mensumes");
        const std::vector<int32_t> generated(all.begin() + static_cast<long>(prompt.size()),
                                             all.end());
        std::string why;
        QCOMPARE(stream(*tok, prompt, generated, {.skip_special = true}, why),
                 std::string(" Mensumes"));
        QCOMPARE(stream(*tok, {}, generated, {.skip_special = true}, why),
                 std::string("Mensumes")); // no context: the start of a text
    }

    void random_ids_follow_the_rule_data() {
        QTest::addColumn<QString>("vocab");
        QTest::addColumn<bool>("skip_special");
        for (const char* vocab : {"ggml-vocab-llama-spm.gguf", "ggml-vocab-gpt-2.gguf"}) {
            for (const bool skip : {true, false}) {
                QTest::addRow("%s, skip_special %d", vocab, int(skip)) << vocab << skip;
            }
        }
    }

    // Random prompts and continuations, rich in byte tokens (pieces of characters, invalid
    // sequences) and special tokens: the streamed text is always decode(prompt + generated)
    // minus decode(prompt).
    void random_ids_follow_the_rule() {
        QFETCH(QString, vocab);
        QFETCH(bool, skip_special);
        auto tok = Tokenizer::from_gguf_file(tok_dir() / vocab.toStdString());
        QVERIFY(tok.has_value());
        std::vector<int32_t> bytes, specials;
        for (int32_t id = 0; id < tok->n_vocab(); ++id) {
            if (tok->token_type(id) == hearth::TokenType::byte ||
                (tok->kind() == hearth::TokenizerKind::bpe && tok->token_text(id).size() <= 2 &&
                 tok->token_to_piece(id).size() == 1 &&
                 (static_cast<unsigned char>(tok->token_to_piece(id)[0]) & 0x80) != 0)) {
                bytes.push_back(id);
            } else if (tok->is_special(id)) {
                specials.push_back(id);
            }
        }
        QVERIFY(bytes.size() >= 100);
        std::mt19937 rng(16);
        const auto pick = [&](std::vector<int32_t>& out, size_t n) {
            for (size_t i = 0; i < n; ++i) {
                const unsigned kind = rng() % 8;
                if (kind < 3) {
                    out.push_back(bytes[rng() % bytes.size()]);
                } else if (kind == 3 && !specials.empty()) {
                    out.push_back(specials[rng() % specials.size()]);
                } else {
                    out.push_back(
                        static_cast<int32_t>(rng() % static_cast<unsigned>(tok->n_vocab())));
                }
            }
        };
        const DecodeOptions options{.skip_special = skip_special};
        for (int trial = 0; trial < 3000; ++trial) {
            std::vector<int32_t> prompt, generated;
            pick(prompt, 1 + rng() % 8);
            pick(generated, 1 + rng() % 8);
            std::string why_stream, why_rule;
            const std::string got = stream(*tok, prompt, generated, options, why_stream);
            const std::string want = continuation(*tok, prompt, generated, options, why_rule);
            QVERIFY2(why_stream.empty() && why_rule.empty(), (why_stream + why_rule).c_str());
            QVERIFY2(got == want,
                     qPrintable(QString::fromStdString(
                         "prompt " + ids_string(prompt) + ", generated " + ids_string(generated) +
                         ": streamed '" + escaped(got) + "', decode(all) minus decode(prompt) '" +
                         escaped(want) + "'")));
        }
    }
};

QTEST_APPLESS_MAIN(TestDetokenizer)
#include "tst_detokenizer.moc"
