// The CUDA backend's host-side decisions, which need no device and so run on every CUDA build:
// which reference architectures it refuses, whole and partly offloaded (gemma4's cut through
// its shared KV caches included) (check_architecture runs before the first CUDA
// call, so a model it runs fails later, on the missing device, not as `unsupported`), the
// fused QKV upload's q buffer width, the shared expert's place in the memory plan, and the
// LongRoPE factor set a context picks (the function the CPU and CUDA forwards share).
#include "backend/cuda/cuda_forward.h"
#include "backend/cuda/cuda_weights.h"
#include "cpu/rope.h"
#include "model/model_impl.h"
#include "test_support.h"

#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QTest>

using hearth::CudaForward;
using hearth::Model;
using namespace hearth::test;

namespace {

std::filesystem::path arch_dir() {
    const char* env = std::getenv("HEARTH_TEST_DATA_DIR");
    return (env && *env ? std::filesystem::path(env) : data_dir()) / "arch";
}

std::shared_ptr<const Model> load(const QString& gguf) {
    auto model = Model::load(arch_dir() / gguf.toStdString());
    return model ? *model : nullptr;
}

} // namespace

class TstCudaHost : public QObject {
    Q_OBJECT

private slots:
    void refusals_data() {
        QTest::addColumn<QString>("gguf");
        QTest::addColumn<bool>("refused");
        QTest::addColumn<bool>("partial_refused");
        const QJsonObject index =
            QJsonDocument::fromJson(QByteArray::fromStdString(read_text(arch_dir() / "index.json")))
                .object();
        for (const QJsonValue& value : index.value("models").toArray()) {
            const QJsonObject m = value.toObject();
            const QString arch = m.value("architecture").toString();
            // Refused by architecture: none. Everything (the routed experts of qwen3moe and
            // llama, gpt-oss's output biases and clamped SwiGLU experts, the hybrid qwen35,
            // qwen35moe's shared expert, the grid i-quants, gemma4 and its GeGLU experts) must get
            // past check_architecture. Partly offloaded, gemma4 and gemma4_moe_q8_0 are refused:
            // their layers 2 and 3 read the caches of layers 0 and 1, so no cut leaves the CPU
            // its own caches (gemma4_moe shares none).
            const QString name = m.value("name").toString();
            const bool refused = false;
            const bool shares_kv = name == "gemma4" || name == "gemma4_moe_q8_0";
            QTest::newRow(qPrintable(name))
                << m.value("gguf").toString() << refused << (refused || shares_kv);
        }
    }

    // Whole and partly offloaded: a refusal is `unsupported`; anything else got past
    // check_architecture (and fails on this machine only for want of a device, or runs).
    void refusals() {
        QFETCH(QString, gguf);
        QFETCH(bool, refused);
        QFETCH(bool, partial_refused);
        const auto model = load(gguf);
        QVERIFY(model);
        for (const int32_t gpu_layers : {hearth::kAllGpuLayers, 1}) {
            auto forward = CudaForward::create(
                *model, {.n_ctx = 32, .n_seq = 1, .device = 0, .gpu_layers = gpu_layers});
            const bool unsupported =
                !forward && forward.error().code == hearth::ErrorCode::unsupported;
            const bool expected = gpu_layers == 1 ? partial_refused : refused;
            QVERIFY2(unsupported == expected, forward ? "runs" : forward.error().message.c_str());
            if (unsupported && !refused) { // gemma4's cut: the reason, and the way out
                QVERIFY2(forward.error().message.find("reads the KV cache of a layer among "
                                                      "them; it runs whole on the GPU or on the "
                                                      "CPU") != std::string::npos,
                         forward.error().message.c_str());
            }
        }
    }

    // A gemma4 layer whose heads are larger than the attention kernels take is refused by name
    // (LIMITS.md: gemma4 on CUDA), before any CUDA call. The loaded model is this test's own:
    // one layer's head size is raised in place (the file itself cannot hold such a layer at the
    // reference model's widths).
    void gemma4_heads_past_the_kernels_are_refused() {
        const auto model = load("gemma4.gguf");
        QVERIFY(model);
        auto& shapes = const_cast<hearth::Model::Impl&>(model->impl()).info.layer_shapes;
        QVERIFY(shapes.size() > 1);
        shapes[1].head_dim = 512;
        auto forward = CudaForward::create(*model, {.n_ctx = 32, .n_seq = 1, .device = 0});
        QVERIFY(!forward);
        QCOMPARE(forward.error().code, hearth::ErrorCode::unsupported);
        QVERIFY2(forward.error().message.find("heads of at most 256 values (this model's layer "
                                              "1: 512") != std::string::npos,
                 forward.error().message.c_str());
    }

    // phi3's attn_qkv goes up as one matrix: the q buffer holds q | k | v. A layer with Q/K
    // norms (qwen3, gemma3) keeps three products and a q buffer of the queries alone.
    void q_buffer_width() {
        for (const auto& [gguf, fused] :
             {std::pair{"phi3_long.gguf", true}, std::pair{"phi3_short.gguf", true},
              std::pair{"qwen3.gguf", false}, std::pair{"gemma3.gguf", false}}) {
            const auto model = load(QString::fromLatin1(gguf));
            QVERIFY(model);
            const hearth::ModelInfo& info = model->info();
            const size_t q = size_t(info.n_head) * info.head_dim_k;
            const size_t kv = size_t(info.n_head_kv) * (info.head_dim_k + info.head_dim_v);
            QCOMPARE(hearth::cuda_detail::q_buffer_width(model->impl()), fused ? q + kv : q);
        }
    }

    // qwen35moe's shared expert is planned with the routed ones: its four matrices in the
    // weights' arena (each aligned as the upload takes it), and its four buffers in the MoE
    // scratch of the step's and prefill's rows.
    void shared_expert_planned() {
        using hearth::cuda_detail::align_up;
        for (const char* gguf : {"qwen35moe.gguf", "qwen35moe_q8_0.gguf"}) {
            const auto model = load(QString::fromLatin1(gguf));
            QVERIFY(model);
            const hearth::ModelInfo& info = model->info();
            QVERIFY(info.n_ff_shexp > 0);
            for (const hearth::LayerWeights& L : model->impl().layers) {
                QVERIFY(L.experts.has_shared_expert());
                hearth::ExpertWeights routed_only = L.experts;
                uint64_t shared = 0;
                for (hearth::cpu::WeightMatrix* w :
                     {&routed_only.shared_gate_inp, &routed_only.shared_gate,
                      &routed_only.shared_up, &routed_only.shared_down}) {
                    shared += align_up(size_t(w->n_rows) * w->row_bytes);
                    *w = {};
                }
                QCOMPARE(hearth::cuda_detail::plan_expert_bytes(L.experts),
                         hearth::cuda_detail::plan_expert_bytes(routed_only) + shared);
            }
            hearth::ModelInfo no_shared = info;
            no_shared.n_ff_shexp = 0;
            for (const size_t rows : {size_t{8}, size_t{512}}) {
                const uint64_t buffers = 2 * align_up(rows * info.n_ff_shexp * sizeof(float)) +
                                         align_up(rows * info.n_embd * sizeof(float)) +
                                         align_up(rows * sizeof(float));
                QCOMPARE(hearth::cuda_detail::moe_scratch_bytes(info, rows),
                         hearth::cuda_detail::moe_scratch_bytes(no_shared, rows) + buffers);
            }
        }
    }

    // The set the CPU's cache and the CUDA forward pick by the context (padded to 256, as
    // llama.cpp pads it, against the original context: 128 for phi3_long, 256 for phi3_short).
    void longrope_factor_set() {
        const auto long_model = load("phi3_long.gguf");
        const auto short_model = load("phi3_short.gguf");
        const auto llama = load("llama.gguf");
        QVERIFY(long_model && short_model && llama);
        const auto& L = long_model->impl();
        const auto& S = short_model->impl();
        QVERIFY(!L.rope_factors_long.empty() && !S.rope_factors_short.empty());
        QCOMPARE(hearth::cpu::longrope_factor_set(L, 64), &L.rope_factors_long);
        QCOMPARE(hearth::cpu::longrope_factor_set(S, 64), &S.rope_factors_short);
        QCOMPARE(hearth::cpu::longrope_factor_set(S, 256), &S.rope_factors_short);
        QCOMPARE(hearth::cpu::longrope_factor_set(S, 257), &S.rope_factors_long);
        QCOMPARE(hearth::cpu::longrope_factor_set(llama->impl(), 64), nullptr);
    }
};

QTEST_APPLESS_MAIN(TstCudaHost)
#include "tst_cuda_host.moc"
