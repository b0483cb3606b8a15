// The quantizer (hearth/quantize.h, hearth-cli quantize): files byte-identical to llama.cpp's
// quantizer for the same input and type (tests/data/quantize/, scripts/gen-quantize-reference.py),
// outputs that load and generate, the dequantized error of each type on random data, and the
// refusals (the input as output, a cancel, hostile hyper-parameters, non-finite weights).
#include "gguf_builder.h"
#include "hearth/model.h"
#include "hearth/quant.h"
#include "hearth/quantize.h"
#include "hearth/session.h"
#include "quant/quantize_plan.h"
#include "quantize_inputs.h"
#include "test_support.h"

#include <QCryptographicHash>
#include <QDir>
#include <QTemporaryDir>
#include <QtTest>
#include <cerrno>
#include <cmath>
#include <csignal>
#include <fcntl.h>
#include <fmt/format.h>
#include <map>
#include <nlohmann/json.hpp>
#include <random>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

extern char** environ;

using namespace hearth;
using hearth::test::quantize_dir;
using hearth::test::rebuild_input;
using hearth::test::sha256;
namespace fs = std::filesystem;

namespace {

double rms(std::span<const float> a, std::span<const float> b) {
    double sum = 0;
    for (size_t i = 0; i < a.size(); ++i)
        sum += (double(a[i]) - b[i]) * (double(a[i]) - b[i]);
    return std::sqrt(sum / double(a.size()));
}

// The logits of a few tokens, from position 0.
std::vector<float> logits_of(const fs::path& path) {
    auto model = Model::load(path, {.n_threads = 2, .on_progress = {}});
    if (!model)
        qFatal("%s", model.error().message.c_str());
    auto session = Session::create(*model, {.n_ctx = 32});
    if (!session)
        qFatal("%s", session.error().message.c_str());
    const std::vector<int32_t> tokens = {72, 101, 108, 108, 111, 32, 116, 104};
    std::vector<float> out;
    auto ok = session->evaluate(tokens, [&](size_t, std::span<const float> l) {
        out.insert(out.end(), l.begin(), l.end());
    });
    if (!ok)
        qFatal("%s", ok.error().message.c_str());
    return out;
}

} // namespace

class TstQuantize : public QObject {
    Q_OBJECT

    QTemporaryDir dir_;
    nlohmann::json index_;
    std::map<std::string, fs::path> inputs_;

private slots:
    void initTestCase();
    void outputs_are_llama_cpp_s_bytes_data();
    void outputs_are_llama_cpp_s_bytes();
    void outputs_load_and_follow_the_source();
    void error_on_random_data_is_bounded_and_ordered();
    void plan_size_is_the_file_size_and_the_mix_shows();
    void refuses_the_input_as_output();
    void cancel_leaves_no_file();
    void hostile_inputs_are_refused();
    void cli_reports_progress_and_refuses_clearly();
    void too_little_disk_space_is_refused_before_writing();
    void interrupt_leaves_no_file();
};

void TstQuantize::initTestCase() {
    QVERIFY(dir_.isValid());
    index_ = nlohmann::json::parse(test::read_text(quantize_dir() / "index.json"));
    for (const auto& [name, entry] : index_["inputs"].items()) {
        inputs_[name] = rebuild_input(entry, dir_.path().toStdString(), name);
    }
    // The requantization sources are llama.cpp's quantizations of the F16 model, which
    // Hearth's are (checked by the llama8.F16 cases).
    auto f16 = GgufFile::open(inputs_.at("llama8.F16"));
    QVERIFY(f16);
    for (const char* source : {"Q8_0", "Q6_K", "Q4_K_M"}) {
        const std::string name = std::string("llama8.") + source;
        const fs::path path = fs::path(dir_.path().toStdString()) / (name + ".gguf");
        QVERIFY(quantize_model(*f16, path, {.type = *parse_quant_file_type(source), .threads = 2}));
        inputs_[name] = path;
    }
}

void TstQuantize::outputs_are_llama_cpp_s_bytes_data() {
    QTest::addColumn<int>("case_index");
    for (size_t i = 0; i < index_["cases"].size(); ++i) {
        const auto& c = index_["cases"][i];
        const std::string tag =
            fmt::format("{}.{}.{}{}", c["model"].get<std::string>(), c["source"].get<std::string>(),
                        c["type"].get<std::string>(),
                        c["keep_output_f16"].get<bool>() ? ".keep-output-f16" : "");
        QTest::newRow(tag.c_str()) << static_cast<int>(i);
    }
}

void TstQuantize::outputs_are_llama_cpp_s_bytes() {
    QFETCH(int, case_index);
    const auto& c = index_["cases"][static_cast<size_t>(case_index)];
    auto input = GgufFile::open(
        inputs_.at(c["model"].get<std::string>() + "." + c["source"].get<std::string>()));
    QVERIFY(input);
    const auto type = parse_quant_file_type(c["type"].get<std::string>());
    QVERIFY(type);
    const fs::path out = fs::path(dir_.path().toStdString()) / "out.gguf";
    auto plan = quantize_model(
        *input, out,
        {.type = *type, .keep_output_f16 = c["keep_output_f16"].get<bool>(), .threads = 2});
    QVERIFY2(plan, plan ? "" : plan.error().message.c_str());

    // Tensor by tensor first, so that a difference names the tensor.
    auto output = GgufFile::open(out);
    QVERIFY2(output, output ? "" : output.error().message.c_str());
    const auto& expected = c["tensors"];
    QCOMPARE(output->tensors().size(), expected.size());
    for (size_t i = 0; i < expected.size(); ++i) {
        const GgufTensorInfo& t = output->tensors()[i];
        QCOMPARE(t.name, expected[i][0].get<std::string>());
        QCOMPARE(std::string(tensor_type_name(t.type)), expected[i][1].get<std::string>());
        const std::string hash = sha256(output->tensor_data(t)).substr(0, 16);
        QVERIFY2(hash == expected[i][2].get<std::string>(),
                 ("tensor " + t.name + " differs").c_str());
    }
    const std::vector<uint8_t> bytes = test::read_bytes(out);
    QCOMPARE(bytes.size(), c["size"].get<size_t>());
    QCOMPARE(plan->output_bytes, uint64_t{bytes.size()});
    QCOMPARE(sha256(bytes), c["sha256"].get<std::string>());
    // general.file_type and general.quantization_version are set.
    QCOMPARE(output->header().get_int("general.file_type").value_or(-1),
             int64_t(static_cast<uint32_t>(*type)));
    QCOMPARE(output->header().get_int("general.quantization_version").value_or(-1), int64_t{2});
    fs::remove(out);
}

void TstQuantize::outputs_load_and_follow_the_source() {
    const std::vector<float> reference = logits_of(inputs_.at("llama8.F32"));
    double mean = 0, sq = 0;
    for (float v : reference) {
        mean += v;
        sq += double(v) * v;
    }
    mean /= double(reference.size());
    const double spread = std::sqrt(sq / double(reference.size()) - mean * mean);
    QVERIFY(spread > 0.01);
    auto input = GgufFile::open(inputs_.at("llama8.F16"));
    QVERIFY(input);
    // The logits' distance from the F32 model's grows as the bits shrink.
    double previous = 0;
    for (QuantFileType type :
         {QuantFileType::Q8_0, QuantFileType::Q6_K, QuantFileType::Q4_K_M, QuantFileType::Q2_K}) {
        const fs::path out = fs::path(dir_.path().toStdString()) / "gen.gguf";
        QVERIFY(quantize_model(*input, out, {.type = type, .threads = 2}));
        const std::vector<float> logits = logits_of(out);
        QCOMPARE(logits.size(), reference.size());
        const double distance = rms(logits, reference) / spread;
        qInfo("%s: logits %.4f of the spread from F32's",
              std::string(quant_file_type_name(type)).c_str(), distance);
        QVERIFY(std::isfinite(distance));
        QVERIFY2(distance > previous, "a type with fewer bits came out closer");
        QVERIFY(distance < (type == QuantFileType::Q8_0 ? 0.02 : 0.6));
        previous = distance;
        fs::remove(out);
    }
}

void TstQuantize::error_on_random_data_is_bounded_and_ordered() {
    // Normal weights with a few outliers, as trained matrices have.
    std::mt19937 rng(7);
    std::normal_distribution<float> normal(0.0f, 1.0f);
    constexpr int64_t kRow = 1024;
    constexpr int64_t kRows = 64;
    std::vector<float> x(kRow * kRows);
    for (float& v : x)
        v = normal(rng);
    for (size_t i = 0; i < x.size(); i += 997)
        x[i] *= 6;
    double signal = 0;
    for (float v : x)
        signal += double(v) * v;
    signal = std::sqrt(signal / double(x.size()));

    // RMS error relative to the data's RMS: bound (about 15% above what ggml's quantizers give
    // on this data: 0.0057, 0.019, 0.037, 0.074, 0.156, 0.302; Q5_0 0.046, Q5_1 0.039, Q4_0
    // 0.092, Q4_1 0.080, IQ4_NL 0.079, IQ4_XS 0.080), and the order the bits promise.
    const std::vector<std::pair<TensorType, double>> bounds = {
        {TensorType::Q8_0, 0.0065}, {TensorType::Q6_K, 0.021}, {TensorType::Q5_K, 0.042},
        {TensorType::Q4_K, 0.083},  {TensorType::Q3_K, 0.175}, {TensorType::Q2_K, 0.34}};
    const std::vector<std::pair<TensorType, double>> others = {
        {TensorType::Q5_0, 0.05}, {TensorType::Q5_1, 0.05},   {TensorType::Q4_0, 0.11},
        {TensorType::Q4_1, 0.09}, {TensorType::IQ4_NL, 0.09}, {TensorType::IQ4_XS, 0.09}};
    const auto error_of = [&](TensorType type) {
        const TensorTypeTraits traits = tensor_type_traits(type);
        std::vector<uint8_t> q(
            static_cast<size_t>(kRows * kRow / traits.block_size * traits.type_size));
        auto done = quantize_rows(type, x.data(), q.data(), kRows, kRow);
        if (!done)
            qFatal("%s", done.error().message.c_str());
        std::vector<float> back(x.size());
        if (!dequantize(type, q.data(), back.data(), static_cast<int64_t>(x.size())))
            qFatal("dequantize");
        return rms(back, x) / signal;
    };
    double previous = 0;
    for (const auto& [type, bound] : bounds) {
        const double error = error_of(type);
        qInfo("%s: RMS error %.4f of the data's", std::string(tensor_type_name(type)).c_str(),
              error);
        QVERIFY2(error < bound, tensor_type_name(type).data());
        QVERIFY2(error > previous, "a type with fewer bits came out more precise");
        previous = error;
    }
    for (const auto& [type, bound] : others) {
        const double error = error_of(type);
        qInfo("%s: RMS error %.4f of the data's", std::string(tensor_type_name(type)).c_str(),
              error);
        QVERIFY2(error < bound && error > 0.001, tensor_type_name(type).data());
    }
    // A row that is not a whole number of blocks, and a type without a quantizer.
    std::vector<uint8_t> q(4096);
    QCOMPARE(quantize_rows(TensorType::Q4_K, x.data(), q.data(), 1, 32).error().code,
             ErrorCode::invalid_argument);
    QCOMPARE(quantize_rows(TensorType::IQ2_XXS, x.data(), q.data(), 1, 256).error().code,
             ErrorCode::unsupported);
}

void TstQuantize::plan_size_is_the_file_size_and_the_mix_shows() {
    auto input = GgufFile::open(inputs_.at("llama8.F16"));
    QVERIFY(input);
    auto plan = plan_quantization(*input, {.type = QuantFileType::Q4_K_M});
    QVERIFY(plan);
    // llama.cpp's use_more_bits over 8 layers: layers 0, 3, 6 and 7 get Q6_K ffn_down.
    std::string more_bits;
    for (const QuantizeTensorPlan& t : plan->tensors) {
        if (t.name.ends_with("ffn_down.weight"))
            more_bits += t.to == TensorType::Q6_K ? '6' : '4';
    }
    QCOMPARE(more_bits, std::string("64464466"));
    QVERIFY(plan->requantized_from.empty());
    auto q8 = GgufFile::open(inputs_.at("llama8.Q8_0"));
    QVERIFY(q8);
    auto requant = plan_quantization(*q8, {.type = QuantFileType::Q4_K_M});
    QVERIFY(requant);
    QCOMPARE(requant->requantized_from, std::vector<TensorType>{TensorType::Q8_0});
}

void TstQuantize::refuses_the_input_as_output() {
    auto input = GgufFile::open(inputs_.at("qwen2_tied.F16"));
    QVERIFY(input);
    const std::vector<uint8_t> before = test::read_bytes(inputs_.at("qwen2_tied.F16"));
    auto result =
        quantize_model(*input, inputs_.at("qwen2_tied.F16"), {.type = QuantFileType::Q4_0});
    QVERIFY(!result);
    QCOMPARE(result.error().code, ErrorCode::invalid_argument);
    QVERIFY(result.error().message.find("is the input") != std::string::npos);
    QVERIFY(test::read_bytes(inputs_.at("qwen2_tied.F16")) == before);
}

void TstQuantize::cancel_leaves_no_file() {
    auto input = GgufFile::open(inputs_.at("qwen2_tied.F16"));
    QVERIFY(input);
    const fs::path dir = fs::path(dir_.path().toStdString()) / "cancel";
    fs::create_directories(dir);
    size_t seen = 0;
    auto result =
        quantize_model(*input, dir / "out.gguf", {.type = QuantFileType::Q4_K_M, .threads = 1},
                       [&](const QuantizeProgress& p) {
                           ++seen;
                           return p.tensor_index < 5;
                       });
    QVERIFY(!result);
    QCOMPARE(result.error().code, ErrorCode::cancelled);
    QCOMPARE(seen, size_t{6});
    QVERIFY(fs::is_empty(dir)); // neither the output nor the temporary file
    std::atomic<bool> cancel{true};
    result = quantize_model(*input, dir / "out.gguf", {.type = QuantFileType::Q4_K_M}, {}, &cancel);
    QCOMPARE(result.error().code, ErrorCode::cancelled);
    QVERIFY(fs::is_empty(dir));
}

void TstQuantize::hostile_inputs_are_refused() {
    const fs::path dir = dir_.path().toStdString();
    const auto build = [&](const std::string& name, const test::GgufBuilder& builder) {
        const fs::path path = dir / name;
        const std::vector<uint8_t> bytes = builder.build();
        std::ofstream(path, std::ios::binary)
            .write(reinterpret_cast<const char*>(bytes.data()),
                   static_cast<std::streamsize>(bytes.size()));
        return path;
    };
    std::vector<float> weights(256 * 4, 0.25f);
    std::vector<uint8_t> data(weights.size() * 4);
    std::memcpy(data.data(), weights.data(), data.size());
    const auto model = [&](uint32_t blocks) {
        test::GgufBuilder b;
        b.str("general.architecture", "llama").u32("llama.block_count", blocks);
        return b;
    };
    // An absurd layer count, refused before anything is sized from it, naming the key.
    {
        auto b = model(1u << 30);
        b.tensor("blk.0.attn_q.weight", TensorType::F32, {256, 4}, data);
        auto file = GgufFile::open(build("layers.gguf", b));
        QVERIFY(file);
        auto plan = plan_quantization(*file, {.type = QuantFileType::Q4_K_M});
        QVERIFY(!plan);
        QVERIFY2(plan.error().message.find("llama.block_count") != std::string::npos,
                 plan.error().message.c_str());
    }
    // A non-finite weight: refused naming the tensor, and no file left.
    {
        std::vector<uint8_t> bad = data;
        const float nan = std::nanf("");
        std::memcpy(bad.data() + 40, &nan, 4);
        auto b = model(1);
        b.tensor("blk.0.attn_q.weight", TensorType::F32, {256, 4}, bad);
        auto file = GgufFile::open(build("nan.gguf", b));
        QVERIFY(file);
        auto result = quantize_model(*file, dir / "nan.out.gguf", {.type = QuantFileType::Q8_0});
        QVERIFY(!result);
        QVERIFY2(result.error().message.find("blk.0.attn_q.weight") != std::string::npos,
                 result.error().message.c_str());
        QVERIFY(!fs::exists(dir / "nan.out.gguf"));
    }
    // An expert tensor whose name has no layer in range, in a mixture-of-experts model.
    {
        auto b = model(2);
        b.u32("llama.expert_count", 4);
        b.tensor("blk.9.ffn_down.weight", TensorType::F32, {256, 4}, data);
        auto file = GgufFile::open(build("moe.gguf", b));
        QVERIFY(file);
        auto plan = plan_quantization(*file, {.type = QuantFileType::Q4_K_M});
        QVERIFY(!plan);
        QVERIFY2(plan.error().message.find("blk.9.ffn_down.weight") != std::string::npos,
                 plan.error().message.c_str());
    }
    // A truncated file never gets to the quantizer: the loader's checks refuse it.
    {
        const std::vector<uint8_t> whole = test::read_bytes(inputs_.at("qwen2_tied.F16"));
        const fs::path path = dir / "truncated.gguf";
        std::ofstream(path, std::ios::binary)
            .write(reinterpret_cast<const char*>(whole.data()),
                   static_cast<std::streamsize>(whole.size() / 2));
        QVERIFY(!GgufFile::open(path));
    }
}

void TstQuantize::cli_reports_progress_and_refuses_clearly() {
    const QString dir = dir_.filePath("cli");
    QVERIFY(QDir().mkpath(dir));
    const QString out = dir + "/out.gguf";
    const QString f16 = QString::fromStdString(inputs_.at("qwen2_tied.F16").string());
    auto result = test::run_cli({"quantize", f16, out, "q4_k_m", "--threads", "2"});
    QCOMPARE(result.exit_code, 0);
    QVERIFY2(result.err.contains("[  62/  62] output_norm.weight") || result.err.contains("/  62]"),
             result.err.constData());
    QVERIFY(result.err.contains("wrote " + out.toUtf8()));
    QVERIFY(QFile::exists(out));
    // A quantized source: said that the quality is bounded by it.
    result = test::run_cli({"quantize", QString::fromStdString(inputs_.at("llama8.Q8_0").string()),
                            dir + "/requant.gguf", "Q4_K_M"});
    QCOMPARE(result.exit_code, 0);
    QVERIFY2(result.err.contains("bounded by the source"), result.err.constData());
    // Usage errors exit 2; failures exit 1 with the cause; nothing is left behind.
    result = test::run_cli({"quantize", f16, dir + "/x.gguf", "Q7_X"});
    QCOMPARE(result.exit_code, 2);
    QVERIFY2(result.err.contains("unknown type 'Q7_X'") && result.err.contains("Q4_K_M"),
             result.err.constData());
    result = test::run_cli({"quantize", f16, dir + "/x.gguf", "Q4_0", "--imatrix", "m.dat"});
    QCOMPARE(result.exit_code, 1);
    QVERIFY2(result.err.contains("m.dat: not a readable file"), result.err.constData());
    result = test::run_cli({"quantize", f16, dir + "/missing/x.gguf", "Q4_0"});
    QCOMPARE(result.exit_code, 1);
    QVERIFY2(result.err.contains("does not exist"), result.err.constData());
    result = test::run_cli({"quantize", f16, f16, "Q4_0"});
    QCOMPARE(result.exit_code, 1);
    QVERIFY2(result.err.contains("refusing to overwrite"), result.err.constData());
    QCOMPARE(QDir(dir).entryList(QDir::Files | QDir::NoDotAndDotDot).size(), 2);
}

void TstQuantize::too_little_disk_space_is_refused_before_writing() {
    // quantize_model checks the plan's exact size (plan_size_is_the_file_size_...) against
    // the output folder's free space before it creates any file.
    const fs::path dir = dir_.path().toStdString();
    QVERIFY(quant::check_free_space(dir, 1));
    auto refused = quant::check_free_space(dir, uint64_t{1} << 62);
    QVERIFY(!refused);
    QCOMPARE(refused.error().code, ErrorCode::io);
    const std::string& message = refused.error().message;
    QVERIFY2(message.find("needs 4294967296.00 GiB") != std::string::npos &&
                 message.find("free on " + dir.string()) != std::string::npos,
             message.c_str());
}

void TstQuantize::interrupt_leaves_no_file() {
    // Without timing: hearth-cli's stderr is a pipe of one page that this test does not read
    // until it has signalled. The quantizer prints a line per tensor (272 on the default model,
    // some 18 KiB), so it blocks on a full pipe long before its last tensor, whatever the
    // machine's speed; the signal's flag is seen after the tensor in hand. The handler is
    // installed before the first line, so the signal is sent once a line has arrived.
    HEARTH_REQUIRE_DEFAULT_MODEL(model);
    const QString dir = dir_.filePath("interrupt");
    QVERIFY(QDir().mkpath(dir));
    const std::string cli = HEARTH_CLI_PATH;
    const std::string input = model.string();
    const std::string output = (dir + "/out.gguf").toStdString();
    for (const int signal : {SIGINT, SIGTERM}) {
        int fds[2];
        QCOMPARE(::pipe2(fds, O_CLOEXEC), 0);
        QVERIFY(::fcntl(fds[1], F_SETPIPE_SZ, 4096) >= 4096);
        posix_spawn_file_actions_t actions;
        posix_spawn_file_actions_init(&actions);
        posix_spawn_file_actions_adddup2(&actions, fds[1], STDERR_FILENO);
        std::vector<std::string> argv_text = {cli,    "quantize",  input, output,
                                              "Q2_K", "--threads", "1"};
        std::vector<char*> argv;
        for (std::string& a : argv_text) {
            argv.push_back(a.data());
        }
        argv.push_back(nullptr);
        pid_t pid = 0;
        const int spawned = posix_spawn(&pid, cli.c_str(), &actions, nullptr, argv.data(), environ);
        posix_spawn_file_actions_destroy(&actions);
        ::close(fds[1]);
        QCOMPARE(spawned, 0);
        std::string err;
        char buffer[256];
        // One line: the handler is installed by now. Read no more until the signal is sent.
        while (err.find('\n') == std::string::npos) {
            const ssize_t n = ::read(fds[0], buffer, 1);
            if (n <= 0) {
                break;
            }
            err.append(buffer, static_cast<size_t>(n));
        }
        QVERIFY2(err.find('\n') != std::string::npos, err.c_str());
        QCOMPARE(::kill(pid, signal), 0);
        for (ssize_t n; (n = ::read(fds[0], buffer, sizeof buffer)) != 0;) {
            if (n < 0 && errno == EINTR) {
                continue;
            }
            QVERIFY(n > 0);
            err.append(buffer, static_cast<size_t>(n));
        }
        ::close(fds[0]);
        int status = 0;
        QCOMPARE(::waitpid(pid, &status, 0), pid);
        QVERIFY2(WIFEXITED(status), err.c_str());
        QCOMPARE(WEXITSTATUS(status), 130);
        QVERIFY2(err.find("cancelled; no output written") != std::string::npos, err.c_str());
        QVERIFY(QDir(dir).entryList(QDir::Files | QDir::NoDotAndDotDot).isEmpty());
    }
}

QTEST_GUILESS_MAIN(TstQuantize)
#include "tst_quantize.moc"
