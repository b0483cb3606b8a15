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
        QCOMPARE(json_nesting_depth(R"({"a": [1, {"b": []}]})"), size_t{3});
        QCOMPARE(json_nesting_depth(R"(["[[[[", "\"[[", {}])"), size_t{2});
        QCOMPARE(json_nesting_depth(R"(["\\", [[]]])"), size_t{3});
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
            objects += R"({"a":)";
        }
        QVERIFY(!parse_json_input(objects, "objects"));
    }

    void refuses_text_over_the_size_limit() {
        const std::string text = R"(")" + std::string(100, 'x') + R"(")";
        auto parsed = parse_json_input(text, "--var x", JsonLimits{.max_bytes = 64});
        QVERIFY(!parsed);
        QVERIFY(parsed.error().message.find("over the limit of 64 bytes") != std::string::npos);
        QVERIFY(parse_json_input(text, "--var x", JsonLimits{.max_bytes = 102}));
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
