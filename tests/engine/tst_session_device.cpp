// The device choice of a Session, on any machine: device names ("cpu", "cuda:1", "auto"),
// what "auto" picks, CPU sessions reporting their device, groups of sessions, and a CUDA
// session refused with ErrorCode::device and a clear message where there is no GPU or the
// build has no CUDA (where there is one, created and reporting its GPU memory), and
// place_sessions' fall back to the CPU per policy. The GPU path itself is
// tests/kernels/tst_cuda_session.cpp.
#include "hearth/batch_generation.h"
#include "hearth/device_choice.h"
#include "hearth/gpu_layers.h"
#include "hearth/session.h"
#include "quant/blocks.h"
#include "test_support.h"

#include <QtTest>

using namespace hearth;

namespace {

std::shared_ptr<const Model> tiny_model() {
    auto model = Model::load(test::data_dir() / "arch" / "llama.gguf");
    if (!model) {
        qWarning("%s", model.error().message.c_str());
        return nullptr;
    }
    return *model;
}

SessionOptions cuda_options(int ordinal) {
    SessionOptions options;
    options.n_ctx = 32;
    options.device = DeviceKind::cuda;
    options.cuda_device = ordinal;
    return options;
}

} // namespace

class TstSessionDevice : public QObject {
    Q_OBJECT

private slots:
    void parses_device_names() {
        auto cpu = parse_device("cpu");
        QVERIFY(cpu && !cpu->automatic && cpu->kind == DeviceKind::cpu);
        auto cuda = parse_device("cuda");
        QVERIFY(cuda && cuda->kind == DeviceKind::cuda && cuda->cuda_device == 0);
        auto gpu = parse_device("gpu");
        QVERIFY(gpu && gpu->kind == DeviceKind::cuda && gpu->cuda_device == 0);
        auto second = parse_device("cuda:1");
        QVERIFY(second && second->kind == DeviceKind::cuda && second->cuda_device == 1);
        auto automatic = parse_device("auto");
        QVERIFY(automatic && automatic->automatic);
        for (const char* bad : {"", "tpu", "cuda:", "cuda:-1", "cuda:x", "cuda:1x", "CPU"}) {
            auto r = parse_device(bad);
            QVERIFY2(!r, bad);
            QCOMPARE(r.error().code, ErrorCode::invalid_argument);
            QVERIFY2(QString::fromStdString(r.error().message).contains("use cpu, cuda, cuda:N"),
                     r.error().message.c_str());
        }
        QCOMPARE(device_label(DeviceKind::cuda, 2), std::string("CUDA device 2"));
        QCOMPARE(device_label(DeviceKind::cpu, 0), std::string("CPU"));
    }

    void parses_gpu_layers() {
        QCOMPARE(*parse_gpu_layers("all"), kAllGpuLayers);
        QCOMPARE(*parse_gpu_layers("auto"), kAutoGpuLayers);
        QCOMPARE(*parse_gpu_layers("1"), 1);
        QCOMPARE(*parse_gpu_layers("48"), 48);
        for (const char* bad : {"0", "-1", "-2", "", "12x", "half", "1.5"}) {
            auto r = parse_gpu_layers(bad);
            QVERIFY2(!r, bad);
            QCOMPARE(r.error().code, ErrorCode::invalid_argument);
            QVERIFY(r.error().message.find("use all, auto or a number") != std::string::npos);
        }
        for (const int32_t n : {kAllGpuLayers, kAutoGpuLayers, 1, 33}) {
            QCOMPARE(*parse_gpu_layers(gpu_layers_label(n)), n);
        }
        // Sessions ask for as many layers as fit unless told otherwise.
        QCOMPARE(SessionOptions{}.gpu_layers, kAutoGpuLayers);
    }

    // An explicit choice stands; "auto" says why it picked what it picked, and never picks
    // CUDA for a Q8_0 cache (the CUDA backend's cache is F16).
    void chooses_a_device() {
        const auto model = tiny_model();
        QVERIFY(model);
        const DeviceChoice cpu =
            choose_device({.automatic = false, .kind = DeviceKind::cpu}, model->info(), {});
        QCOMPARE(cpu.kind, DeviceKind::cpu);
        QVERIFY(QString::fromStdString(cpu.reason).contains("as requested"));
        const DeviceChoice cuda = choose_device(
            {.automatic = false, .kind = DeviceKind::cuda, .cuda_device = 3}, model->info(), {});
        QCOMPARE(cuda.kind, DeviceKind::cuda);
        QCOMPARE(cuda.cuda_device, 3);

        const DeviceChoice automatic = choose_device({.automatic = true}, model->info(), {});
        QVERIFY(!automatic.reason.empty());
        if (automatic.kind == DeviceKind::cpu) {
            QVERIFY2(automatic.reason.starts_with("CPU: "), automatic.reason.c_str());
        } else {
            QVERIFY2(automatic.reason.starts_with("CUDA device "), automatic.reason.c_str());
        }
        qInfo("auto: %s", automatic.reason.c_str());
        SessionOptions q8;
        q8.kv_type = KvCacheType::q8_0;
        const DeviceChoice quantized = choose_device({.automatic = true}, model->info(), q8);
        QCOMPARE(quantized.kind, DeviceKind::cpu);
        QVERIFY2(QString::fromStdString(quantized.reason).contains("F16"),
                 quantized.reason.c_str());
    }

    // "auto" among given devices, for a hand-made model of four 1 GiB layers and 0.5 GiB of
    // embeddings: a device that holds it all, a partial offload on one that holds two layers,
    // none where not one layer fits, and the user's GPU layers setting honoured.
    void chooses_among_devices() {
        const auto model = tiny_model();
        QVERIFY(model);
        ModelInfo info = model->info();
        constexpr uint64_t GiB = 1ull << 30;
        info.n_layer = 4;
        info.layer_weight_bytes.assign(4, GiB);
        info.non_layer_weight_bytes = GiB / 2;
        info.weights_bytes = 4 * GiB + GiB / 2;
        auto gpu = [](int index, uint64_t free) {
            CudaDeviceInfo d;
            d.index = index;
            d.name = "Test GPU";
            d.total_bytes = free;
            d.free_bytes = free;
            return d;
        };
        const DeviceRequest automatic{.automatic = true};
        SessionOptions options;
        options.n_ctx = 256;

        const std::vector<CudaDeviceInfo> small{gpu(0, 3 * GiB)};
        DeviceChoice c = choose_device_among(automatic, info, options, small);
        QCOMPARE(c.kind, DeviceKind::cuda);
        QVERIFY2(c.reason.find("partial offload, 2 of 4 layers on the GPU") != std::string::npos,
                 c.reason.c_str());

        const std::vector<CudaDeviceInfo> two{gpu(0, 3 * GiB), gpu(1, 10 * GiB)};
        c = choose_device_among(automatic, info, options, two);
        QCOMPARE(c.kind, DeviceKind::cuda);
        QCOMPARE(c.cuda_device, 1);
        QVERIFY2(c.reason.find("partial") == std::string::npos, c.reason.c_str());

        SessionOptions whole = options;
        whole.gpu_layers = kAllGpuLayers;
        c = choose_device_among(automatic, info, whole, small);
        QCOMPARE(c.kind, DeviceKind::cpu);
        QVERIFY2(c.reason.find("GPU layers: all") != std::string::npos, c.reason.c_str());

        SessionOptions one = options;
        one.gpu_layers = 1;
        c = choose_device_among(automatic, info, one, two);
        QCOMPARE(c.kind, DeviceKind::cuda);
        QCOMPARE(c.cuda_device, 0);
        QVERIFY2(c.reason.find("1 of 4 layers on the GPU") != std::string::npos, c.reason.c_str());

        c = choose_device_among(automatic, info, options, std::vector{gpu(0, 256ull << 20)});
        QCOMPARE(c.kind, DeviceKind::cpu);
        QVERIFY2(c.reason.find("not one layer") != std::string::npos, c.reason.c_str());

        const Result<std::vector<CudaDeviceInfo>> broken =
            std::unexpected(Error{ErrorCode::device, "no CUDA device: driver too old"});
        c = choose_device_among(automatic, info, options, broken);
        QCOMPARE(c.kind, DeviceKind::cpu);
        QVERIFY2(c.reason.find("driver too old") != std::string::npos, c.reason.c_str());
    }

    void cpu_session_reports_its_device() {
        const auto model = tiny_model();
        QVERIFY(model);
        auto session = Session::create(model, {.n_ctx = 32});
        QVERIFY(session);
        QCOMPARE(session->device(), DeviceKind::cpu);
        QCOMPARE(session->cuda_device(), -1);
        QVERIFY(!session->gpu_memory());
        QVERIFY(session->kv_cache_bytes() > 0);
    }

    // Without a usable GPU (this build has no CUDA, or the machine no device) a CUDA session
    // is refused with `device` and a message that says CUDA; with one, it is created on it.
    void cuda_session_without_a_device() {
        const auto model = tiny_model();
        QVERIFY(model);
        auto session = Session::create(model, cuda_options(0));
        if (session) {
            qInfo("a CUDA device is present: the session runs on it");
            QCOMPARE(session->device(), DeviceKind::cuda);
            QCOMPARE(session->cuda_device(), 0);
            QVERIFY(session->gpu_memory() && session->gpu_memory()->weights_bytes > 0);
            return;
        }
        QCOMPARE(session.error().code, ErrorCode::device);
        const QString message = QString::fromStdString(session.error().message);
        qInfo("refused: %s", qPrintable(message));
        QVERIFY2(message.contains("CUDA"), qPrintable(message));
        QVERIFY2(message.contains("no CUDA device") || message.contains("built without CUDA") ||
                     message.contains("driver"),
                 qPrintable(message));
        auto group = Session::create_group(model, cuda_options(0), 2);
        QVERIFY(!group);
        QCOMPARE(group.error().code, ErrorCode::device);
    }

    // The CUDA entry points are those of the build: with the CUDA backend none answers as
    // hearth_cuda_stub does (a caller silently getting the stub is the bug a per-file define
    // allowed); without it, each fails with `device` and "built without CUDA".
    void cuda_entry_points_match_the_build() {
        const bool built_with_cuda = HEARTH_TEST_BUILT_WITH_CUDA;
        QCOMPARE(cuda_backend_available(), built_with_cuda);
        const quant::BlockQ4_0 zero_block{};
        std::vector<float> values(quant::QK4_0);
        std::vector<uint16_t> halves(quant::QK4_0);
        const auto model = tiny_model();
        QVERIFY(model);
        std::vector<Error> failures;
        if (auto devices = list_cuda_devices(); !devices) {
            failures.push_back(devices.error());
        }
        if (auto ok = cuda_dequantize(TensorType::Q4_0, &zero_block, values.data(), quant::QK4_0);
            !ok) {
            failures.push_back(ok.error());
        }
        if (auto ok =
                cuda_dequantize_f16(TensorType::Q4_0, &zero_block, halves.data(), quant::QK4_0);
            !ok) {
            failures.push_back(ok.error());
        }
        if (auto gbs = measure_copy_bandwidth_gbs(0, size_t{1} << 20, 1); !gbs) {
            failures.push_back(gbs.error());
        }
        if (auto session = Session::create(model, cuda_options(0)); !session) {
            failures.push_back(session.error());
        }
        if (!built_with_cuda) {
            QCOMPARE(failures.size(), size_t{5});
        }
        for (const Error& failure : failures) {
            const QString message = QString::fromStdString(failure.message);
            qInfo("%s", qPrintable(message));
            QCOMPARE(message.contains("built without CUDA"), !built_with_cuda);
            if (!built_with_cuda) {
                QCOMPARE(failure.code, ErrorCode::device);
            }
        }
    }

    // A device number no machine has is refused whatever the machine.
    void cuda_device_that_does_not_exist() {
        const auto model = tiny_model();
        QVERIFY(model);
        auto session = Session::create(model, cuda_options(4096));
        QVERIFY(!session);
        QCOMPARE(session.error().code, ErrorCode::device);
        QVERIFY2(QString::fromStdString(session.error().message).contains("CUDA"),
                 session.error().message.c_str());
    }

    // place_sessions: a CPU request is made as asked, "auto" reports its choice as the note.
    void places_sessions_as_chosen() {
        const auto model = tiny_model();
        QVERIFY(model);
        const SessionOptions options{.n_ctx = 32};
        for (const FallbackPolicy policy :
             {FallbackPolicy::only_when_automatic, FallbackPolicy::always}) {
            Placement cpu = place_sessions(model, options, {.kind = DeviceKind::cpu}, 2, policy);
            QVERIFY2(cpu.sessions, cpu.sessions ? "" : cpu.sessions.error().message.c_str());
            QCOMPARE(cpu.sessions->size(), size_t(2));
            QCOMPARE(cpu.sessions->front().device(), DeviceKind::cpu);
            QCOMPARE(cpu.options.device, DeviceKind::cpu);
            QCOMPARE(cpu.options.n_ctx, 32u);
            QVERIFY(!cpu.fell_back);
            QVERIFY(cpu.cuda_error.empty());
            QCOMPARE(cpu.note, std::string("CPU: as requested"));
            QCOMPARE(cpu.note, cpu.choice.reason);
        }
        Placement automatic = place_sessions(model, options, {.automatic = true}, 1,
                                             FallbackPolicy::only_when_automatic);
        QVERIFY2(automatic.sessions,
                 automatic.sessions ? "" : automatic.sessions.error().message.c_str());
        QCOMPARE(automatic.sessions->size(), size_t(1));
        QCOMPARE(automatic.options.device, automatic.sessions->front().device());
        if (automatic.fell_back) { // a GPU that was chosen and then failed
            QCOMPARE(automatic.choice.kind, DeviceKind::cuda);
            QCOMPARE(automatic.note, "CPU: CUDA failed: " + automatic.cuda_error);
        } else {
            QCOMPARE(automatic.note, automatic.choice.reason);
            QCOMPARE(automatic.options.device, automatic.choice.kind);
        }
        // A bad count fails as create_group does, after the choice is made.
        Placement none =
            place_sessions(model, options, {.kind = DeviceKind::cpu}, 0, FallbackPolicy::always);
        QVERIFY(!none.sessions);
        QCOMPARE(none.sessions.error().code, ErrorCode::invalid_argument);
        QCOMPARE(none.note, std::string("CPU: as requested"));
        Placement nothing =
            place_sessions(nullptr, options, {.automatic = true}, 1, FallbackPolicy::always);
        QVERIFY(!nothing.sessions);
        QCOMPARE(nothing.sessions.error().code, ErrorCode::invalid_argument);
        QCOMPARE(nothing.sessions.error().message, std::string("no model"));
    }

    // A CUDA device no machine has: the CLI's policy fails with the CUDA error (only "auto"
    // falls back), the app's runs on the CPU and says why.
    void falls_back_per_policy() {
        const auto model = tiny_model();
        QVERIFY(model);
        const DeviceRequest missing{.kind = DeviceKind::cuda, .cuda_device = 4096};
        const SessionOptions options{.n_ctx = 32};

        Placement strict =
            place_sessions(model, options, missing, 2, FallbackPolicy::only_when_automatic);
        QVERIFY(!strict.sessions);
        QCOMPARE(strict.sessions.error().code, ErrorCode::device);
        QVERIFY2(strict.sessions.error().message.find("CUDA") != std::string::npos,
                 strict.sessions.error().message.c_str());
        QVERIFY(!strict.fell_back);
        QVERIFY(strict.cuda_error.empty());
        QCOMPARE(strict.choice.kind, DeviceKind::cuda);
        QCOMPARE(strict.note, std::string("CUDA device 4096: as requested"));
        QCOMPARE(strict.options.device, DeviceKind::cuda);
        QCOMPARE(strict.options.cuda_device, 4096);

        Placement lenient = place_sessions(model, options, missing, 2, FallbackPolicy::always);
        QVERIFY2(lenient.sessions,
                 lenient.sessions ? "" : lenient.sessions.error().message.c_str());
        QCOMPARE(lenient.sessions->size(), size_t(2));
        QCOMPARE(lenient.sessions->front().device(), DeviceKind::cpu);
        QVERIFY(lenient.fell_back);
        QCOMPARE(lenient.choice.kind, DeviceKind::cuda);
        QCOMPARE(lenient.options.device, DeviceKind::cpu);
        // The CUDA attempt's error, word for word, as the note's reason.
        QCOMPARE(lenient.cuda_error, strict.sessions.error().message);
        QCOMPARE(lenient.note, "CPU: CUDA failed: " + strict.sessions.error().message);

        // Where the CPU cannot make them either, its error is the answer.
        SessionOptions too_long = options;
        too_long.n_ctx = model->info().n_ctx_train + 1;
        Placement neither = place_sessions(model, too_long, missing, 1, FallbackPolicy::always);
        QVERIFY(!neither.sessions);
        QVERIFY(neither.fell_back);
        QCOMPARE(neither.options.device, DeviceKind::cpu);
        QCOMPARE(neither.sessions.error().code, ErrorCode::invalid_argument);
    }

    // A group on the CPU is independent sessions; it generates together as they do alone.
    void cpu_group() {
        const auto model = tiny_model();
        QVERIFY(model);
        for (size_t bad : {size_t(0), kMaxSequencesTogether + 1}) {
            auto none = Session::create_group(model, {.n_ctx = 32}, bad);
            QVERIFY(!none);
            QCOMPARE(none.error().code, ErrorCode::invalid_argument);
        }
        auto group = Session::create_group(model, {.n_ctx = 32}, 2);
        QVERIFY(group);
        QCOMPARE(group->size(), size_t(2));
        SamplingParams greedy;
        greedy.temperature = 0;
        const std::vector<int32_t> prompts[] = {{1, 2, 3, 4}, {1, 2, 9}};
        std::vector<SequenceRequest> requests;
        for (size_t i = 0; i < 2; ++i) {
            requests.push_back({.session = &(*group)[i],
                                .prompt = prompts[i],
                                .sampling = greedy,
                                .options = {.max_tokens = 6, .stop_strings = {}},
                                .on_token = {}});
        }
        auto together = generate_together(requests);
        QVERIFY2(together, together ? "" : together.error().message.c_str());
        for (size_t i = 0; i < 2; ++i) {
            auto alone = Session::create(model, {.n_ctx = 32});
            QVERIFY(alone);
            auto stats = alone->generate(prompts[i], greedy, {.max_tokens = 6, .stop_strings = {}});
            QVERIFY(stats);
            QCOMPARE((*group)[i].cached_tokens(), alone->cached_tokens());
        }
    }
};

QTEST_APPLESS_MAIN(TstSessionDevice)
#include "tst_session_device.moc"
