// The byte-level BPE pre-tokenizers and the regex engine under them: every pattern of the
// table compiles, equals llama.cpp's source code point by code point, and splits a
// multilingual text exactly as Python's `regex` module does with the source pattern
// (tests/data/tokenizer/pre_tokenizer_*.json, from scripts/gen-pre-tokenizer-reference.py);
// hostile texts split in linear time, and hostile patterns (a tokenizer.json's) are refused
// or run in bounded time.
#include "cpu_time.h"
#include "test_support.h"
#include "tokenizer/regex.h"
#include "tokenizer/tokenizer_impl.h"
#include "tokenizer/unicode.h"
#include "tokenizer_test_support.h"

#include <QJsonArray>
#include <QJsonObject>
#include <QObject>
#include <QtTest>
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

using namespace hearth::test;
namespace unicode = hearth::unicode;
using hearth::Regex;

namespace {

// The reference type and form (llama.cpp's code, or the tokenizer.json regex it quotes)
// each Hearth pre-tokenizer follows. Hearth follows the code everywhere but in Tekken: there
// llama.cpp's adaptation, [^\r\n\p{L}\p{N}]?((?=[\p{L}])([^a-z]))*((?=[\p{L}])([^A-Z]))+|...,
// treats every letter outside ASCII as both upper and lower case, where the model's own
// tokenizer (the quoted original) uses \p{Lu}/\p{Ll}.
QString form_for(const QString& type) {
    return type == "TEKKEN" ? "original" : "patterns";
}

std::string hex(char32_t cp) {
    char buf[16];
    std::snprintf(buf, sizeof buf, "U+%04X", static_cast<unsigned>(cp));
    return buf;
}

hearth::Result<std::vector<Regex>> compile_all(const std::vector<std::string>& patterns) {
    std::vector<Regex> regexes;
    for (const auto& p : patterns) {
        auto r = Regex::compile(p);
        if (!r) {
            return std::unexpected(r.error());
        }
        regexes.push_back(std::move(*r));
    }
    return regexes;
}

// The pieces of `text`, or one piece "error: ..." when the split fails.
std::vector<std::string> split_pieces(const std::vector<Regex>& regexes, const std::string& text) {
    const std::vector<char32_t> cps = unicode::to_codepoints(text);
    std::vector<std::pair<size_t, size_t>> words;
    if (auto ok = hearth::pre_tokenize(regexes, cps, words); !ok) {
        return {"error: " + ok.error().message};
    }
    std::vector<std::string> pieces;
    for (const auto& [b, e] : words) {
        std::string piece;
        for (size_t i = b; i < e; ++i) {
            unicode::append_utf8(piece, cps[i]);
        }
        pieces.push_back(std::move(piece));
    }
    return pieces;
}

std::string utf8(const QJsonValue& v) {
    const QByteArray bytes = v.toString().toUtf8();
    return {bytes.constData(), static_cast<size_t>(bytes.size())};
}

std::string repeat(std::string_view unit, size_t times) {
    std::string s;
    s.reserve(unit.size() * times);
    for (size_t i = 0; i < times; ++i) {
        s += unit;
    }
    return s;
}

} // namespace

class TestPreTokenizer : public QObject {
    Q_OBJECT

private slots:
    void every_pattern_compiles() {
        const auto names = hearth::pre_tokenizer_names();
        QVERIFY(names.size() >= 30);
        for (const auto& name : names) {
            auto patterns = hearth::pre_tokenizer_patterns(name);
            QVERIFY2(patterns.has_value(), name.c_str());
            QVERIFY2(!patterns->empty(), name.c_str());
            auto regexes = compile_all(*patterns);
            QVERIFY2(regexes.has_value(),
                     qPrintable(QString::fromStdString(name + ": " +
                                                       (regexes ? "" : regexes.error().message))));
        }
    }

    // Every name makes a working tokenizer: a deepseek-llm vocabulary used to fail to load
    // ("reversed range").
    void every_pre_tokenizer_loads() {
        for (const auto& name : hearth::pre_tokenizer_names()) {
            auto tok = from_bytes(tiny_bpe(name).u32("tokenizer.ggml.bos_token_id", 3).bytes());
            QVERIFY2(tok.has_value(), qPrintable(QString::fromStdString(
                                          name + ": " + (tok ? "" : tok.error().message))));
            QCOMPARE(tok->pre_tokenizer(), name);
            auto ids = tok->encode("abab", {.add_special = false, .parse_special = false});
            QVERIFY(ids.has_value());
            QCOMPARE(tok->decode(*ids), std::string("abab"));
        }
    }

    void patterns_equal_the_llama_cpp_source() {
        const QJsonObject ref = read_json(tok_dir() / "pre_tokenizer_patterns.json");
        const QJsonObject names = ref["names"].toObject();
        const QJsonObject types = ref["types"].toObject();
        QVERIFY(names.size() >= 80);
        int checked = 0;
        for (const auto& name : hearth::pre_tokenizer_names()) {
            const QString qname = QString::fromStdString(name);
            QVERIFY2(names.contains(qname),
                     qPrintable("Hearth knows '" + qname + "', which llama.cpp does not"));
            const QJsonObject entry = names[qname].toObject();
            const QString type = entry["type"].toString();
            const QJsonArray expected = types[type].toObject()[form_for(type)].toArray();
            const auto patterns = *hearth::pre_tokenizer_patterns(name);
            QVERIFY2(static_cast<qsizetype>(patterns.size()) == expected.size(),
                     qPrintable(QString("%1 (%2): %3 patterns, the source has %4")
                                    .arg(qname, type)
                                    .arg(patterns.size())
                                    .arg(expected.size())));
            for (size_t i = 0; i < patterns.size(); ++i) {
                const QJsonArray want =
                    expected[static_cast<qsizetype>(i)]["code_points"].toArray();
                const std::vector<char32_t> got = unicode::to_codepoints(patterns[i]);
                for (size_t k = 0; k < std::max(got.size(), static_cast<size_t>(want.size()));
                     ++k) {
                    const auto w =
                        k < static_cast<size_t>(want.size())
                            ? static_cast<char32_t>(want[static_cast<qsizetype>(k)].toInteger())
                            : char32_t{0xFFFFFFFF};
                    const char32_t g = k < got.size() ? got[k] : char32_t{0xFFFFFFFF};
                    QVERIFY2(g == w, qPrintable(QString::fromStdString(
                                         name + " pattern " + std::to_string(i) + ", code point " +
                                         std::to_string(k) + ": " + hex(g) +
                                         " where the source has " + hex(w))));
                }
            }
            QCOMPARE(hearth::pre_tokenizer_ignores_merges(name), entry["ignore_merges"].toBool());
            QCOMPARE(hearth::pre_tokenizer_adds_bos(name), entry["add_bos"].toBool());
            ++checked;
        }
        qInfo("%d pre-tokenizer names checked against %s", checked,
              qPrintable(ref["source"].toObject()["what"].toString()));
    }

    void splits_equal_python_regex() {
        const QJsonObject names =
            read_json(tok_dir() / "pre_tokenizer_patterns.json")["names"].toObject();
        const QJsonObject ref = read_json(tok_dir() / "pre_tokenizer_splits.json");
        const QJsonArray texts = ref["texts"].toArray();
        const QJsonObject splits = ref["splits"].toObject();
        QVERIFY(texts.size() >= 20);
        size_t pieces_checked = 0;
        for (const auto& name : hearth::pre_tokenizer_names()) {
            const QString type = names[QString::fromStdString(name)]["type"].toString();
            const QJsonArray expected = splits[type].toObject()[form_for(type)].toArray();
            QVERIFY2(expected.size() == texts.size(), qPrintable(type));
            auto regexes = compile_all(*hearth::pre_tokenizer_patterns(name));
            QVERIFY(regexes.has_value());
            for (qsizetype t = 0; t < texts.size(); ++t) {
                const std::string text = utf8(texts[t]);
                const auto got = split_pieces(*regexes, text);
                const QJsonArray want = expected[t].toArray();
                for (size_t i = 0; i < std::max(got.size(), static_cast<size_t>(want.size()));
                     ++i) {
                    const std::string g = i < got.size() ? got[i] : "(none)";
                    const std::string w = i < static_cast<size_t>(want.size())
                                              ? utf8(want[static_cast<qsizetype>(i)])
                                              : "(none)";
                    QVERIFY2(g == w, qPrintable(QString::fromStdString(
                                         name + ", text " + std::to_string(t) + ", piece " +
                                         std::to_string(i) + ": '" + escaped(g) +
                                         "' where Python's regex gives '" + escaped(w) + "'")));
                }
                pieces_checked += got.size();
            }
        }
        qInfo("%zu pieces equal to Python's regex %s", pieces_checked,
              qPrintable(ref["regex_version"].toString()));
    }

    void hostile_texts_split_in_linear_time_data() {
        QTest::addColumn<QByteArray>("text");
        constexpr size_t n = size_t{1} << 17;
        const auto row = [](const char* name, const std::string& s) {
            QTest::newRow(name) << QByteArray(s.data(), static_cast<qsizetype>(s.size()));
        };
        // Each of these made one of the old backtracking engine's patterns quadratic or worse:
        // \s+$ (deepseek-llm) tried every start in a run of spaces before a digit.
        row("spaces then a digit", repeat(" ", n) + "1");
        row("spaces then a letter", repeat(" ", n) + "a");
        row("tabs and spaces", repeat(" \t", n / 2) + "x");
        row("newlines", repeat("\n", n));
        row("carriage returns", repeat("\r\n \r", n / 4));
        row("one letter", repeat("a", n));
        row("upper case", repeat("A", n) + "b");
        row("combining marks", repeat("e", 1) + repeat("\xCC\x81", n));
        row("digits", repeat("7", n));
        row("punctuation", repeat("!?", n / 2));
        row("apostrophes", repeat("'", n) + "s");
        row("CJK", repeat("\xE4\xB8\xAD", n));
        row("emoji ZWJ", repeat("\xF0\x9F\x91\xA8\xE2\x80\x8D", n / 2));
        row("spaces and letters", repeat(" a", n / 2));
        row("NBSP runs", repeat("\xC2\xA0", n) + "z");
    }

    void hostile_texts_split_in_linear_time() {
        QFETCH(QByteArray, text);
        const std::string s(text.constData(), static_cast<size_t>(text.size()));
        std::vector<std::vector<std::string>> done; // aliases share their patterns
        for (const auto& name : hearth::pre_tokenizer_names()) {
            const auto patterns = *hearth::pre_tokenizer_patterns(name);
            if (std::find(done.begin(), done.end(), patterns) != done.end()) {
                continue;
            }
            done.push_back(patterns);
            auto regexes = compile_all(patterns);
            QVERIFY(regexes.has_value());
            const hearth::test::CpuStopwatch cpu;
            const auto pieces = split_pieces(*regexes, s);
            const double took = cpu.seconds();
            std::string joined;
            for (const auto& p : pieces) {
                joined += p;
            }
            QVERIFY2(joined == s, name.c_str());
            // A release build takes well under 0.1 s; the old engine took hours.
            QVERIFY2(took < 5.0, qPrintable(QString("%1: %2 s").arg(name.c_str()).arg(took)));
        }
    }

    void hostile_patterns_are_refused_data() {
        QTest::addColumn<QString>("pattern");
        QTest::addColumn<QString>("message");
        const auto row = [](const char* name, const std::string& p, const char* message) {
            QTest::newRow(name) << QString::fromStdString(p) << message;
        };
        row("deep nesting", repeat("(", 5000) + "a" + repeat(")", 5000), "nested more");
        row("multiple repeat", repeat("a", 1) + repeat("?*", 5000), "multiple repeat");
        row("stacked counts", "a{2}{2}{2}", "multiple repeat");
        row("too long", repeat("a", hearth::kMaxRegexPatternChars + 1), "at most");
        row("too many instructions", "(?:(?:(?:a{40}){40}){40})", "instructions");
        row("wide lookahead", "a(?=\\s+)", "lookahead");
        row("wide lookahead count", "a(?!b{17})", "lookahead");
        row("lazy", "a+?", "lazy");
        row("possessive", "a++", "possessive");
        row("lookbehind", "(?<=a)b", "unsupported group");
        row("script", "\\p{Han}", "unknown property");
        row("reversed range", "[\xE1\xBF\x90-\xCE\x90]", "reversed range");
        row("repeat of an anchor", "^*", "nothing to repeat");
    }

    void hostile_patterns_are_refused() {
        QFETCH(QString, pattern);
        QFETCH(QString, message);
        const QByteArray bytes = pattern.toUtf8();
        auto r =
            Regex::compile(std::string_view(bytes.constData(), static_cast<size_t>(bytes.size())));
        QVERIFY(!r.has_value());
        const QString got = QString::fromStdString(r.error().message);
        QVERIFY2(got.contains(message), qPrintable(got));
        QVERIFY2(got.size() < 400, "the message quotes the whole pattern");
    }

    void hostile_patterns_run_in_linear_time() {
        // Patterns that make a backtracking matcher exponential or quadratic; a tokenizer.json
        // may hold any of them.
        const std::string as = repeat("a", 20000);
        struct Case {
            const char* pattern;
            std::string text;
            std::vector<std::string> pieces; // or one "error: ..." prefix
        };
        const Case cases[] = {
            {"(?:a|a)*b", as, {as}},
            {"(?:a|aa)+$", as + "c", {as + "c"}},
            {"(?:(?:a|a){15}){15}c", as, {as}},
            {"(?:a*)*b", as, {as}},
            {"(?:a?){20}a{20}", repeat("a", 20), {repeat("a", 20)}},
            {"\\s+(?=\\S{16})",
             repeat(" ", 20000) + repeat("x", 16),
             {repeat(" ", 20000), repeat("x", 16)}},
            // Leftmost-first makes every search read to the end: refused, not quadratic.
            {"a+b|a", as, {"error: the pre-tokenizer regular expression 'a+b|a' would read"}},
        };
        for (const auto& c : cases) {
            auto r = Regex::compile(c.pattern);
            QVERIFY2(r.has_value(), c.pattern);
            const hearth::test::CpuStopwatch cpu;
            auto pieces = split_pieces(std::vector<Regex>{std::move(*r)}, c.text);
            const double took = cpu.seconds();
            if (c.pieces[0].starts_with("error: ")) {
                QVERIFY2(pieces.size() == 1 && pieces[0].starts_with(c.pieces[0]),
                         qPrintable(QString::fromStdString(escaped(pieces[0]))));
            } else {
                QVERIFY2(pieces == c.pieces,
                         qPrintable(QString("%1: %2 pieces").arg(c.pattern).arg(pieces.size())));
            }
            QVERIFY2(took < 5.0, qPrintable(QString("%1: %2 s").arg(c.pattern).arg(took)));
        }
    }
};

QTEST_APPLESS_MAIN(TestPreTokenizer)
#include "tst_pre_tokenizer.moc"
