// Bounded parsing of outside JSON: nesting and size limits, strings that look like
// brackets, malformed text and invalid UTF-8 all give an error value, never a crash.
#include "hearth/json_input.h"

#include <QtTest>
#include <string>

using namespace hearth;

namespace {

std::string nested_arrays(size_t depth) {
    return std::string(depth, '[') + std::string(depth, ']');
}

} // namespace

class TestJsonInput : public QObject {
    Q_OBJECT

private slots:
    void counts_nesting_outside_strings() {
        QCOMPARE(json_nesting_depth("1"), size_t{0});
        // (No raw string literals in this file: moc 6.4 misreads them and finds no class.)
        QCOMPARE(json_nesting_depth("{\"a\": [1, {\"b\": []}]}"), size_t{4});
        QCOMPARE(json_nesting_depth("[\"[[[[\", \"\\\"[[\", {}]"), size_t{2});
        QCOMPARE(json_nesting_depth("[\"\\\\\", [[]]]"), size_t{3});
    }

    void accepts_the_deepest_allowed_nesting() {
        auto parsed = parse_json_input(nested_arrays(512), "test input");
        QVERIFY2(parsed.has_value(), parsed ? "" : parsed.error().message.c_str());
        // The value can be walked and printed: the bound keeps recursion shallow.
        QCOMPARE(parsed->dump().size(), size_t{1024});
    }

    void refuses_deeper_nesting_with_a_message() {
        for (const size_t depth : {size_t{513}, size_t{20'000}, size_t{1'000'000}}) {
            auto parsed = parse_json_input(nested_arrays(depth), "the messages file");
            QVERIFY(!parsed);
            QCOMPARE(parsed.error().code, ErrorCode::bad_format);
            QVERIFY2(parsed.error().message.find("the messages file nests") == 0,
                     parsed.error().message.c_str());
            QVERIFY(parsed.error().message.find("limit of 512") != std::string::npos);
        }
        std::string objects;
        for (int i = 0; i < 20'000; ++i) {
            objects += "{\"a\":";
        }
        QVERIFY(!parse_json_input(objects, "objects"));
    }

    void refuses_text_over_the_size_limit() {
        const std::string text = "\"" + std::string(100, 'x') + "\"";
        auto parsed = parse_json_input(text, "--var x", JsonLimits{.max_bytes = 64});
        QVERIFY(!parsed);
        QVERIFY(parsed.error().message.find("over the limit of 64 bytes") != std::string::npos);
        QVERIFY(parse_json_input(text, "--var x", JsonLimits{.max_bytes = 102}));
    }

    void depth_of_a_parsed_value_without_recursion() {
        QCOMPARE(json_value_depth(nlohmann::ordered_json(1)), size_t{0});
        QCOMPARE(json_value_depth(nlohmann::ordered_json::parse("{\"a\": [1, {\"b\": []}]}")),
                 size_t{4});
        // A million levels, built by nlohmann's (iterative) parser: counted, not recursed.
        const auto deep = nlohmann::ordered_json::parse(nested_arrays(1'000'000));
        QCOMPARE(json_value_depth(deep), size_t{1'000'000});
    }

    // nlohmann keeps integers from -2**63 to 2**64 - 1 exactly and rounds others to a double;
    // Python keeps them all. Past that range the input is refused rather than changed.
    void integers_are_kept_exactly_or_refused() {
        auto parsed = parse_json_input("[18446744073709551615, -9223372036854775808, 1e30, 2.5]",
                                       "the messages file");
        QVERIFY2(parsed, parsed ? "" : parsed.error().message.c_str());
        QCOMPARE((*parsed)[0].get<uint64_t>(), uint64_t{18446744073709551615u});
        QCOMPARE((*parsed)[1].get<int64_t>(), INT64_MIN);
        for (const char* text : {"[18446744073709551616]", "{\"id\": -9223372036854775809}",
                                 "123456789012345678901234567890"}) {
            auto refused = parse_json_input(text, "the messages file");
            QVERIFY2(!refused, text);
            QVERIFY2(refused.error().message.find("the messages file holds the integer ") == 0 &&
                         refused.error().message.find("outside the range Hearth keeps exactly "
                                                      "(-2^63 to 2^64 - 1)") != std::string::npos,
                     refused.error().message.c_str());
        }
    }

    void reports_malformed_json_and_bad_utf8() {
        for (const std::string text : {"[1, 2", "{\"a\" 1}", "", "nul", "\"\xff\"", "[1] 2"}) {
            auto parsed = parse_json_input(text, "input");
            QVERIFY2(!parsed, text.c_str());
            QVERIFY(parsed.error().message.find("input is not valid JSON") == 0);
        }
    }
};

QTEST_APPLESS_MAIN(TestJsonInput)
#include "tst_json_input.moc"
