// hearth-cli on hostile chat templates and JSON, end to end: a model whose embedded template
// is a 300,000-link operator chain, and messages, tools and --var values nested 20,000 deep.
// Each used to kill the process with a signal; each must now exit with status 1 and a message
// that names the limit (docs/LIMITS.md, "Chat templates (Jinja)" and "JSON input").
#include "gguf_builder.h"
#include "test_support.h"

#include <QObject>
#include <QTemporaryDir>
#include <QtTest>
#include <algorithm>
#include <cstring>
#include <filesystem>

using namespace hearth;
namespace fs = std::filesystem;

namespace {

std::string repeat(std::string_view piece, size_t times) {
    std::string out;
    out.reserve(piece.size() * times);
    for (size_t i = 0; i < times; ++i) {
        out += piece;
    }
    return out;
}

// The bytes of `model` with its tokenizer.chat_template replaced by `chat_template`: the
// metadata entry is rewritten in place, the tensor table follows unchanged, and the tensor
// data moves to the next aligned offset (tensor offsets are relative to it).
std::vector<uint8_t> with_chat_template(const fs::path& model, const std::string& chat_template) {
    auto file = GgufFile::open(model);
    if (!file) {
        qFatal("cannot open %s: %s", model.c_str(), file.error().message.c_str());
    }
    const std::vector<uint8_t> bytes = test::read_bytes(model);
    const std::string key = "tokenizer.chat_template";
    std::vector<uint8_t> key_entry;
    test::GgufBuilder::put_string(key_entry, key);
    const auto key_at = std::search(bytes.begin(), bytes.end(), key_entry.begin(), key_entry.end());
    if (key_at == bytes.end()) {
        qFatal("the model has no %s", key.c_str());
    }
    const size_t value_at = static_cast<size_t>(key_at - bytes.begin()) + key_entry.size() + 4;
    uint64_t old_length = 0;
    std::memcpy(&old_length, bytes.data() + value_at, 8);
    const size_t value_end = value_at + 8 + old_length;
    // The end of the tensor table: the last entry is name, n_dims, dims, type, offset.
    uint64_t table_end = 0;
    for (const GgufTensorInfo& t : file->tensors()) {
        table_end = std::max(table_end,
                             t.info_position + 8 + t.name.size() + 4 + 8 * t.dims.size() + 4 + 8);
    }
    const uint64_t alignment = file->header().alignment;
    std::vector<uint8_t> out(bytes.begin(), bytes.begin() + static_cast<long>(value_at));
    test::GgufBuilder::put_string(out, chat_template);
    out.insert(out.end(), bytes.begin() + static_cast<long>(value_end),
               bytes.begin() + static_cast<long>(table_end));
    out.resize((out.size() + alignment - 1) / alignment * alignment, 0);
    out.insert(out.end(), bytes.begin() + static_cast<long>(file->header().data_offset),
               bytes.end());
    return out;
}

void write_text(const fs::path& path, const std::string& text) {
    test::write_file(path, std::vector<uint8_t>(text.begin(), text.end()));
}

// Requires exit status 1 (not a signal, not a usage error) and `needle` in stderr.
void expect_failure(const QStringList& args, const char* needle) {
    const test::CliResult result = test::run_cli(args);
    QVERIFY2(result.exit_code == 1, qPrintable(QString("exit %1 for %2: %3")
                                                   .arg(result.exit_code)
                                                   .arg(args.join(' ').left(200))
                                                   .arg(QString::fromUtf8(result.err).left(500))));
    QVERIFY2(result.err.contains(needle), result.err.left(500).constData());
}

} // namespace

class TestCliTemplateLimits : public QObject {
    Q_OBJECT

private:
    QTemporaryDir dir_;
    QString path(const char* name) const { return dir_.filePath(name); }

private slots:
    void initTestCase() {
        QVERIFY(dir_.isValid());
        write_text(path("messages.json").toStdString(), R"([{"role": "user", "content": "hi"}])");
    }

    void model_with_an_operator_chain_template() {
        HEARTH_REQUIRE_DEFAULT_MODEL(model);
        // Each chain is under the 1 MiB template limit, so the depth limit is what stops it.
        for (const char* link : {"+1", "[0]", ".x", "()"}) {
            const std::string chain = "{{ 1" + repeat(link, 300'000) + " }}";
            const fs::path copy = path("chain.gguf").toStdString();
            test::write_file(copy, with_chat_template(model, chain));
            const QString copy_arg = QString::fromStdString(copy.string());
            expect_failure(
                {"template", "render", "--model", copy_arg, "--messages", path("messages.json")},
                "expression is nested too deeply (more than 256 levels");
            if (QTest::currentTestFailed()) {
                return;
            }
            expect_failure({"run", copy_arg, "-p", "hi", "-n", "1"},
                           "expression is nested too deeply (more than 256 levels");
            if (QTest::currentTestFailed()) {
                return;
            }
        }
    }

    void the_copy_is_a_working_model() {
        // The same surgery with a plain template: the copy loads and renders, so the
        // failures above come from the template alone.
        HEARTH_REQUIRE_DEFAULT_MODEL(model);
        const fs::path copy = path("plain.gguf").toStdString();
        test::write_file(copy, with_chat_template(model, "<{{ messages[0].content }}>"));
        const test::CliResult result =
            test::run_cli({"template", "render", "--model", QString::fromStdString(copy.string()),
                           "--messages", path("messages.json")});
        QCOMPARE(result.exit_code, 0);
        QCOMPARE(result.out, QByteArray("<hi>"));
        const test::CliResult run = test::run_cli(
            {"run", QString::fromStdString(copy.string()), "-p", "hi", "-n", "1", "--temp", "0"});
        QVERIFY2(run.exit_code == 0, run.err.constData());
    }

    void deeply_nested_json_inputs() {
        const std::string deep = repeat("[", 20'000) + repeat("]", 20'000);
        write_text(path("deep.json").toStdString(), deep);
        const char* limit = "nests arrays and objects 20000 deep, over the limit of 512";
        expect_failure(
            {"template", "render", "--template", "chatml", "--messages", path("deep.json")}, limit);
        expect_failure({"template", "render", "--template", "chatml", "--messages",
                        path("messages.json"), "--tools", path("deep.json")},
                       limit);
        expect_failure({"template", "render", "--template", "chatml", "--messages",
                        path("messages.json"), "--var",
                        QString::fromStdString("documents=" + deep)},
                       "--var documents nests arrays and objects 20000 deep");
    }

    void json_at_the_nesting_limit_renders() {
        // 512 levels is the deepest a JSON input may nest: it reaches the template.
        write_text(path("length.jinja").toStdString(), "{{ x | length }}");
        auto render_with = [&](size_t depth) {
            const std::string deep = repeat("[", depth) + repeat("]", depth);
            return test::run_cli({"template", "render", "--template-file", path("length.jinja"),
                                  "--messages", path("messages.json"), "--var",
                                  QString::fromStdString("x=" + deep)});
        };
        const test::CliResult at_limit = render_with(512);
        QVERIFY2(at_limit.exit_code == 0, at_limit.err.constData());
        QCOMPARE(at_limit.out, QByteArray("1"));
        const test::CliResult past = render_with(513);
        QCOMPARE(past.exit_code, 1);
        QVERIFY2(past.err.contains("--var x nests arrays and objects 513 deep, over the limit of "
                                   "512"),
                 past.err.constData());
    }
};

QTEST_MAIN(TestCliTemplateLimits)
#include "tst_cli_template_limits.moc"
