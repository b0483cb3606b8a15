// The rendered-prompt diff of compare mode: character and token edit scripts are minimal,
// reproduce both inputs, keep UTF-8 characters and special tokens whole, and stay bounded
// on unrelated inputs.
#include "hearth/prompt_diff.h"

#include <QtTest>
#include <algorithm>
#include <random>

using namespace hearth;

namespace {

std::string side(const std::vector<TextDiffSpan>& spans, DiffOp skip) {
    std::string out;
    for (const auto& s : spans) {
        if (s.op != skip)
            out += s.text;
    }
    return out;
}

std::vector<int32_t> side(const std::vector<TokenDiffSpan>& spans, DiffOp skip) {
    std::vector<int32_t> out;
    for (const auto& s : spans) {
        if (s.op != skip)
            out.insert(out.end(), s.tokens.begin(), s.tokens.end());
    }
    return out;
}

// Length of the longest common subsequence, by dynamic programming (the reference).
size_t lcs(const std::vector<int32_t>& a, const std::vector<int32_t>& b) {
    std::vector<size_t> row(b.size() + 1, 0), prev(b.size() + 1, 0);
    for (size_t i = 1; i <= a.size(); ++i) {
        for (size_t j = 1; j <= b.size(); ++j) {
            row[j] = a[i - 1] == b[j - 1] ? prev[j - 1] + 1 : std::max(prev[j], row[j - 1]);
        }
        std::swap(row, prev);
    }
    return prev[b.size()];
}

QString describe(const std::vector<TextDiffSpan>& spans) {
    QStringList parts;
    for (const auto& s : spans) {
        parts << QString("%1:'%2'").arg(diff_op_name(s.op), QString::fromStdString(s.text));
    }
    return parts.join(' ');
}

} // namespace

class TestPromptDiff : public QObject {
    Q_OBJECT

private slots:
    void chatml_against_llama3() {
        const std::string a = "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n";
        const std::string b = "<|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|>";
        const auto spans = diff_text(a, b);
        QCOMPARE(side(spans, DiffOp::inserted), a);
        QCOMPARE(side(spans, DiffOp::removed), b);
        const DiffCounts counts = count_text_diff(spans);
        QCOMPARE(counts.equal + counts.removed, a.size());
        QCOMPARE(counts.equal + counts.inserted, b.size());
        // At least "user", "\n" and "Hi" are common (the script keeps a longest common
        // subsequence), and the special-token spellings are not.
        QVERIFY(counts.equal >= 7);
        QVERIFY(counts.removed < a.size() && counts.inserted < b.size());
        QVERIFY(!describe(spans).contains("equal:'<|im_start|>"));
    }

    // Special tokens are units: never split (the character diff alone turns <|im_start|>
    // against <|im_end|> into "start" → "end"), each a span of its own, marked special.
    void special_tokens_kept_whole() {
        const std::vector<std::string> special{"<|im_start|>", "<|im_end|>", "<|eot_id|>",
                                               "<|start_header_id|>", "<|end_header_id|>"};
        const std::string a = "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n";
        const std::string b = "<|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|>";
        const auto spans = diff_text(a, b, special);
        QCOMPARE(side(spans, DiffOp::inserted), a);
        QCOMPARE(side(spans, DiffOp::removed), b);
        QStringList specials;
        for (const auto& span : spans) {
            const bool is_token =
                std::find(special.begin(), special.end(), span.text) != special.end();
            QVERIFY2(span.special == is_token, qPrintable(describe(spans)));
            if (span.special) {
                specials << QString("%1:%2").arg(diff_op_name(span.op),
                                                 QString::fromStdString(span.text));
            }
        }
        QCOMPARE(specials, QStringList({"removed:<|im_start|>", "inserted:<|start_header_id|>",
                                        "inserted:<|end_header_id|>", "removed:<|im_end|>",
                                        "removed:<|im_start|>", "inserted:<|eot_id|>"}));
        QVERIFY2(describe(spans).contains("equal:'user'"), qPrintable(describe(spans)));
        // Without the list the same texts share characters inside the tokens.
        QVERIFY(describe(diff_text(a, b)).contains("equal:'<|'"));

        // A special token common to both is an equal span of its own; the longer of two
        // candidates starting at one place wins; counts are in characters as before.
        const std::vector<std::string> nested{"<s>", "<s>[INST]"};
        const auto same = diff_text("<s>[INST] hi", "<s>[INST] ho", nested);
        QCOMPARE(describe(same), QString("equal:'<s>[INST]' equal:' h' removed:'i' inserted:'o'"));
        QVERIFY(same[0].special && !same[1].special);
        QCOMPARE(count_text_diff(same).equal, size_t(11));
        const auto two = diff_text("<|im_end|><|im_start|>", "<|im_end|><|im_start|>", special);
        QCOMPARE(two.size(), size_t(2));
        QVERIFY(two[0].special && two[1].special && two[1].op == DiffOp::equal);
        QVERIFY(diff_text("", "", special).empty());
    }

    void exact_spans() {
        const auto spans = diff_text("system: be brief\nuser: hi", "user: hi there");
        QCOMPARE(describe(spans), QString("removed:'system: be brief\n' equal:'user: hi' "
                                          "inserted:' there'"));
        QCOMPARE(describe(diff_text("abc", "abc")), QString("equal:'abc'"));
        QCOMPARE(describe(diff_text("", "abc")), QString("inserted:'abc'"));
        QCOMPARE(describe(diff_text("abc", "")), QString("removed:'abc'"));
        QVERIFY(diff_text("", "").empty());
        // A change in the middle comes out as the removal, then the insertion.
        QCOMPARE(describe(diff_text("a cat sat", "a dog sat")),
                 QString("equal:'a ' removed:'cat' inserted:'dog' equal:' sat'"));
    }

    void keeps_utf8_characters_whole() {
        // é (C3 A9) and è (C3 A8) share their first byte: a byte diff would split them.
        const auto spans =
            diff_text("caf\xC3\xA9 \xF0\x9F\x94\xA5", "caf\xC3\xA8 \xF0\x9F\x94\xA5");
        QCOMPARE(describe(spans), QString::fromUtf8("equal:'caf' removed:'é' inserted:'è' "
                                                    "equal:' 🔥'"));
        QCOMPARE(count_text_diff(spans).equal, size_t(5));
        // Invalid bytes count one by one and survive the round trip.
        const std::string bad = "a\xFF\xC3z";
        QCOMPARE(side(diff_text(bad, "az"), DiffOp::inserted), bad);
        QCOMPARE(count_text_diff(diff_text(bad, "az")).removed, size_t(2));
    }

    // Random token sequences with random edits: both sides reproduced, and the equal part as
    // long as the longest common subsequence (the script is minimal).
    void tokens_minimal_on_random_edits() {
        std::mt19937 rng(5);
        for (int round = 0; round < 200; ++round) {
            std::vector<int32_t> a(rng() % 40);
            for (auto& t : a)
                t = int32_t(rng() % 6);
            std::vector<int32_t> b = a;
            const int edits = int(rng() % 8);
            for (int e = 0; e < edits; ++e) {
                const size_t at = b.empty() ? 0 : rng() % (b.size() + 1);
                if (rng() % 2 && at < b.size()) {
                    b.erase(b.begin() + static_cast<std::ptrdiff_t>(at));
                } else {
                    b.insert(b.begin() + static_cast<std::ptrdiff_t>(at), int32_t(rng() % 6));
                }
            }
            const auto spans = diff_tokens(a, b);
            QCOMPARE(side(spans, DiffOp::inserted), a);
            QCOMPARE(side(spans, DiffOp::removed), b);
            QCOMPARE(count_token_diff(spans).equal, lcs(a, b));
            for (size_t i = 1; i < spans.size(); ++i) {
                QVERIFY(spans[i].op != spans[i - 1].op);
            }
        }
    }

    // Unrelated long inputs: the search gives up after kMaxDiffEdits and reports one
    // removal and one insertion between the common start and end.
    void bounded_on_unrelated_inputs() {
        std::string a = "<s>", b = "<s>";
        for (size_t i = 0; i < 3 * kMaxDiffEdits; ++i) {
            a += char('a' + i % 7);
            b += char('h' + i % 11);
        }
        a += "</s>";
        b += "</s>";
        const auto spans = diff_text(a, b);
        QCOMPARE(spans.size(), size_t(4));
        QCOMPARE(spans[0].text, std::string("<s>"));
        QCOMPARE(spans[1].op, DiffOp::removed);
        QCOMPARE(spans[2].op, DiffOp::inserted);
        QCOMPARE(spans[3].text, std::string("</s>"));
    }
};

QTEST_GUILESS_MAIN(TestPromptDiff)
#include "tst_prompt_diff.moc"
