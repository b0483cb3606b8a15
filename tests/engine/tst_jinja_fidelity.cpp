// Every filter and test of the Jinja interpreter against Python jinja2, on None, Undefined,
// empty, string, mapping, list and number inputs: tests/data/templates/filter_matrix.json
// holds jinja2's outcome for each case (the rendered text, or the exception's class and
// message) in Hugging Face's environment. White-box, for the exception's class, which the
// public API folds into the message. Regenerate: .venv/bin/python
// scripts/gen-jinja-filter-reference.py
#include "chat/jinja_interp.h"
#include "chat/jinja_parser.h"
#include "test_support.h"

#include <QObject>
#include <QtTest>
#include <nlohmann/json.hpp>
#include <set>

using nlohmann::ordered_json;
namespace jinja = hearth::jinja;

namespace {

// What a case gave, in the data file's shape: {"expected": text} or {"error": {type, message}}.
ordered_json render_case(const std::string& source, const ordered_json& variables) {
    jinja::ParseOptions options;
    options.is_filter = jinja::has_filter;
    options.is_test = jinja::has_test;
    try {
        const jinja::Body body = jinja::parse_template(source, options);
        jinja::Interpreter interpreter(jinja::Limits{}, std::nullopt);
        const std::string text = interpreter.render(body, jinja::Value::from_json(variables, 512));
        return {{"expected", text}};
    } catch (const jinja::JinjaError& e) {
        return {{"error", {{"type", e.type}, {"message", e.message}}}};
    } catch (const jinja::SyntaxError& e) {
        return {{"error", {{"type", "TemplateSyntaxError"}, {"message", e.message}}}};
    }
}

ordered_json outcome_of(const ordered_json& c) {
    return c.contains("error") ? ordered_json{{"error", c["error"]}}
                               : ordered_json{{"expected", c["expected"]}};
}

ordered_json matrix() {
    return ordered_json::parse(
        hearth::test::read_text(hearth::test::data_dir() / "templates" / "filter_matrix.json"));
}

// Renders every case with `variables` and compares; returns the number of mismatches, each
// printed. A case recorded as a difference must give Hearth's recorded outcome instead.
size_t mismatches(const ordered_json& cases, const ordered_json& variables, size_t& known) {
    size_t failures = 0;
    for (const auto& c : cases) {
        const std::string source = c["template"];
        const ordered_json actual = render_case(source, variables);
        ordered_json wanted = outcome_of(c);
        if (c.contains("hearth_differs")) {
            wanted = c["hearth_differs"]["hearth"];
            ++known;
        }
        if (actual != wanted) {
            ++failures;
            qWarning("%s on %s: %s\n    jinja2: %s\n    hearth: %s",
                     c["what"].get<std::string>().c_str(), c["input"].get<std::string>().c_str(),
                     source.c_str(), wanted.dump().c_str(), actual.dump().c_str());
        }
    }
    return failures;
}

std::set<std::string> names(const ordered_json& list) {
    std::set<std::string> out;
    for (const auto& name : list) {
        out.insert(name.get<std::string>());
    }
    return out;
}

} // namespace

class TestJinjaFidelity : public QObject {
    Q_OBJECT

private slots:
    void covers_every_filter_and_test() {
        const ordered_json data = matrix();
        const std::vector<std::string> filters = jinja::filter_names();
        const std::vector<std::string> tests = jinja::test_names();
        QCOMPARE(names(data["filters"]), std::set<std::string>(filters.begin(), filters.end()));
        QCOMPARE(names(data["tests"]), std::set<std::string>(tests.begin(), tests.end()));
        QVERIFY(data["cases"].size() >= 1000);
    }

    void matches_jinja2() {
        const ordered_json data = matrix();
        size_t known = 0;
        QCOMPARE(mismatches(data["cases"], data["variables"], known), size_t{0});
        qInfo("%zu cases, %zu recorded differences", data["cases"].size(), known);
    }

    // Integers past 64 bits (issue 16: JSON integers above 2**63 rendered as -1): printed,
    // serialised, computed and compared exactly, or, past Hearth's 128 bits, an OverflowError.
    void matches_jinja2_on_large_integers() {
        const ordered_json data = matrix();
        QVERIFY(data["int_variables"]["u64"].is_number_unsigned());
        size_t known = 0;
        QCOMPARE(mismatches(data["int_cases"], data["int_variables"], known), size_t{0});
        QCOMPARE(known, size_t{2});
    }

    // The case of issue 16: Hugging Face passes tools=None, and jinja2's select, reject,
    // selectattr, rejectattr and map give nothing for it, where list, length, join, first and
    // sort raise TypeError. A function-calling template that filters `tools` must render.
    void filters_on_none_tools() {
        const ordered_json variables = {{"tools", nullptr}};
        for (const char* source :
             {"{{ tools | selectattr('type', 'equalto', 'function') | list }}",
              "{{ tools | rejectattr('type') | list }}", "{{ tools | select | list }}",
              "{{ tools | reject('none') | list }}",
              "{{ tools | map(attribute='name') | list }}"}) {
            QCOMPARE(render_case(source, variables), ordered_json({{"expected", "[]"}}));
        }
        for (const char* source : {"{{ tools | list }}", "{{ tools | join }}",
                                   "{{ tools | first }}", "{{ tools | sort }}"}) {
            const ordered_json out = render_case(source, variables);
            QVERIFY2(out.contains("error") && out["error"]["type"] == "TypeError",
                     (std::string(source) + ": " + out.dump()).c_str());
        }
    }
};

QTEST_APPLESS_MAIN(TestJinjaFidelity)
#include "tst_jinja_fidelity.moc"
