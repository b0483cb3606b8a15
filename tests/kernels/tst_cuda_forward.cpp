// End to end on the GPU: the CUDA forward (engine/src/backend/cuda/cuda_forward.cpp) against
// the CPU forward (engine/src/cpu/forward.cpp) on the default model (greedy generation) and on
// every model of tests/data/arch/ that it runs (llama variants, qwen2, qwen3, gemma3, phi3,
// gemma2, smollm3, mistral3, qwen3moe, llama with experts, gpt-oss, qwen35, qwen35moe: logits of
// every prompt position, through prefill, single-token steps and 8-row steps, for the experts up
// to the first routing near-tie, router_margins.h); decode steps captured in CUDA graphs against
// plain launches (bit for bit); several sequences in one step against each alone; one weight
// upload shared by the forwards of a model; and the refusals: a context that does not fit, bad
// tokens, positions and slots. Without a CUDA device: "skipped: no CUDA device".
#include "backend/cuda/cuda_forward.h"
#include "cpu/forward.h"
#include "cpu/kv_cache.h"
#include "cuda_kernel_test.h"
#include "logit_compare.h"
#include "model/model_impl.h"
#include "router_margins.h"
#include "sampling.cuh"
#include "test_support.h"

#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <algorithm>
#include <optional>

using namespace cuda_test;
using namespace hearth::test;
using hearth::CudaBatchToken;
using hearth::CudaForward;
using hearth::Model;

namespace {

// tests/data/arch, or under $HEARTH_TEST_DATA_DIR (scripts/gpu-check --prebuilt runs binaries
// built in another checkout).
std::filesystem::path arch_dir() {
    const char* env = std::getenv("HEARTH_TEST_DATA_DIR");
    return (env && *env ? std::filesystem::path(env) : data_dir()) / "arch";
}

std::shared_ptr<const Model> load(const std::filesystem::path& path) {
    auto model = Model::load(path);
    if (!model) {
        qWarning("%s: %s", path.c_str(), model.error().message.c_str());
        return nullptr;
    }
    return *model;
}

// Logits of every position of `tokens` from the CPU forward.
std::vector<float> cpu_logits(const Model& model, const std::vector<int32_t>& tokens) {
    const hearth::ModelInfo& info = model.info();
    hearth::cpu::KvCache cache(info.n_layer, uint32_t(tokens.size()) + 1,
                               info.n_head_kv * info.head_dim_k, info.n_head_kv * info.head_dim_v);
    // qwen35: the sequence's recurrent state (empty for other models)
    hearth::cpu::RecurrentState state = info.recurrent_layers.empty()
                                            ? hearth::cpu::RecurrentState()
                                            : hearth::cpu::RecurrentState(info);
    hearth::cpu::Forward forward(model.impl());
    std::vector<hearth::cpu::BatchToken> batch;
    for (size_t i = 0; i < tokens.size(); ++i) {
        hearth::cpu::BatchToken t;
        t.token = tokens[i];
        t.pos = uint32_t(i);
        t.cache = &cache;
        t.want_logits = true;
        t.state = state.empty() ? nullptr : &state;
        batch.push_back(t);
    }
    std::vector<float> logits(tokens.size() * info.n_vocab);
    if (!forward.run(batch, logits.data())) {
        return {};
    }
    return logits;
}

// The reference models that the CUDA backend must run: the architectures and weight types it
// has kernels for (issue 17's routed experts of qwen3moe and llama, the grid i-quants of
// llama_iq_mix, and the dense architectures' soft caps, scaled sliding-window RoPE, NoPE layers,
// LongRoPE, fused matrices, attention temperature and YaRN's own betas, qwen35's gated
// delta-net, gpt-oss's output biases, sinks and clamped SwiGLU experts, qwen35moe's shared
// expert, and gemma4's per-layer sizes, shared KV layers, per-layer embeddings and GeGLU
// experts, included). Any other model may be refused as `unsupported`, which sends --device auto
// to the CPU; a refusal of one of these is a failure (but for a partial offload that would cut
// through gemma4's shared caches: partial_offload).
bool cuda_must_run(const QString& name) {
    static const QStringList must = {"llama",
                                     "llama_mha_linear",
                                     "llama_rope_freqs",
                                     "llama_yarn",
                                     "llama_f16",
                                     "llama_q8_0",
                                     "qwen2",
                                     "qwen3",
                                     "gemma3",
                                     "llama_q4_0",
                                     "phi3_long",
                                     "phi3_short",
                                     "gemma2",
                                     "smollm3",
                                     "mistral3",
                                     "qwen3moe",
                                     "qwen3moe_q8_0",
                                     "llama_moe",
                                     "llama_iq_mix",
                                     "qwen35",
                                     "qwen35_interval4",
                                     "gpt_oss",
                                     "qwen35moe",
                                     "qwen35moe_q8_0",
                                     "gemma4",
                                     "gemma4_moe",
                                     "gemma4_moe_q8_0"};
    return must.contains(name);
}

// Why the backend refuses `model` as unsupported with `gpu_layers` on the GPU, if it does.
std::optional<std::string> cuda_refusal(const Model& model, int32_t gpu_layers) {
    auto forward = CudaForward::create(
        model, {.n_ctx = 32, .n_seq = 1, .device = 0, .gpu_layers = gpu_layers});
    if (!forward && forward.error().code == hearth::ErrorCode::unsupported) {
        return forward.error().message;
    }
    return std::nullopt;
}

// The CPU's logits of every position of `tokens`, and how many leading positions a GPU run
// must match: all, but for a mixture-of-experts model only those before the first position
// the CPU routes through a near-tie (router_margins.h: logits within `margin` of the scale).
struct Reference {
    std::vector<float> logits;
    size_t positions = 0;
};

Reference cpu_reference(const Model& model, const std::vector<int32_t>& tokens, double margin) {
    const auto& layers = model.impl().layers;
    if (layers.empty() || layers[0].experts.empty()) {
        return {cpu_logits(model, tokens), tokens.size()};
    }
    RouterMargins margins(model.impl(), margin);
    Reference r{cpu_logits(model, tokens), tokens.size()};
    r.positions = std::min(r.positions, margins.first_near_tie());
    qInfo("routing near-ties from position %zu of %zu", r.positions, tokens.size());
    return r;
}

// The router-logit gap, relative to their scale, below which the two devices may choose
// differently: the CPU rounds the router's input to F16 (2^-11 per value, about 1e-4 of the
// logits' scale once summed) or, for 8-bit models, the layers' activations to 8 bits (1/254
// per value), and the hidden states drift apart through the layers by about the tolerance's
// order at the output. A quarter of the tolerance, at most 3e-3: on the reference prompts
// qwen3moe is then compared up to position 22 of 32 (all 11 of partial_offload's),
// qwen3moe_q8_0 up to 24 and 9, llama_moe everywhere (measured on the CPU).
double routing_margin(double tolerance) {
    return std::min(tolerance / 4, 3e-3);
}

// max |a - b| over the first `positions` rows of n_vocab logits, relative to the logit scale.
double leading_error(const std::vector<float>& a, const std::vector<float>& b, size_t positions,
                     size_t n_vocab) {
    const size_t n = std::min(a.size(), positions * n_vocab);
    return relative_error(std::span(a).first(n), std::span(b).first(n));
}

// Key and value elements of one cell over the layers [n, n_layer) the CPU keeps: each layer's
// (gemma4's widths differ, its shared layers keep none), else the model's for every layer.
uint64_t host_kv_elements(const hearth::ModelInfo& info, uint32_t n) {
    if (info.layer_shapes.empty()) {
        return uint64_t(info.n_layer - n) * info.n_head_kv * (info.head_dim_k + info.head_dim_v);
    }
    uint64_t elements = 0;
    for (uint32_t il = n; il < info.n_layer; ++il) {
        const hearth::LayerShape& shape = info.layer_shapes[il];
        elements += shape.kv_layer == il ? 2 * uint64_t(shape.n_head_kv) * shape.head_dim : 0;
    }
    return elements;
}

std::vector<CudaBatchToken> prompt_batch(const std::vector<int32_t>& tokens, uint32_t seq = 0) {
    std::vector<CudaBatchToken> batch;
    for (size_t i = 0; i < tokens.size(); ++i) {
        batch.push_back({tokens[i], uint32_t(i), seq, true});
    }
    return batch;
}

// Three prompts of 5, 3 and 10 tokens, prompt s in sequence slot s, and their tokens
// interleaved position by position into one batch. Every row wants logits when `every_row`,
// else only each prompt's last (sequence 1's comes first, then 0's, then 2's).
struct MixedPrompts {
    std::vector<std::vector<int32_t>> prompts;
    std::vector<CudaBatchToken> batch;
};

MixedPrompts mixed_prompts(bool every_row) {
    MixedPrompts m{{{1, 2, 3, 4, 5}, {9, 8, 7}, {100, 200, 30, 40, 50, 60, 70, 80, 90, 10}}, {}};
    for (size_t i = 0; i < 10; ++i) {
        for (uint32_t s = 0; s < 3; ++s) {
            if (i < m.prompts[s].size()) {
                const bool last = i + 1 == m.prompts[s].size();
                m.batch.push_back({m.prompts[s][i], uint32_t(i), s, every_row || last});
            }
        }
    }
    return m;
}

} // namespace

class TstCudaForward : public QObject {
    Q_OBJECT

private slots:
    void initTestCase() { CUDA_TEST_REQUIRE_DEVICE(); }

    void arch_models_data() {
        QTest::addColumn<QString>("gguf");
        QTest::addColumn<double>("tolerance");
        const QJsonObject index =
            QJsonDocument::fromJson(QByteArray::fromStdString(read_text(arch_dir() / "index.json")))
                .object();
        for (const QJsonValue& value : index.value("models").toArray()) {
            const QJsonObject m = value.toObject();
            // The CPU rounds the attention weights to F16 (2^-11 relative each; the GPU keeps
            // them float32), which alone moves the logits by up to ~1e-3 of their scale. On top,
            // it quantizes activations to the weights' dot type: F32 keeps them (2e-3 in all),
            // F16 rounds them to F16 (2^-11 per term: 4e-3), Q8_0 and Q4_0 to 8 bits (1/254:
            // 3e-2). qwen2 (biases), qwen3 (per-head norms) and gemma3 (per-head norms,
            // post-norms, scaled query, sliding-window layers, GeGLU) run the same way: their
            // extra operations are float32 on both sides, the norms' sums in double on the CPU
            // only (~1e-7 relative), well inside these bounds. So do issue 17's: gemma2's soft
            // caps (CUDA's tanhf within 2 ulps of glibc's: ~1e-7 of the cap), phi3's LongRoPE
            // factors and fused matrices (the same rows, the same products), smollm3's NoPE
            // layers, mistral3's temperature and YaRN (the CPU's own parameters and formula).
            // Mixture-of-experts models (qwen3moe, llama_moe) add no error of their own while
            // both devices choose the same experts: the router is float32 on the GPU (exact
            // weights, expf within 2 ulps of the CPU's exp), the experts' products as the dense
            // ones, the weighted sum float32 on both. A token whose k-th and (k+1)-th router
            // logits lie closer than the devices' difference may route differently, so the
            // comparison stops at the first such position (cpu_reference, routing_margin).
            // qwen35's delta-net layers are float32 on both sides too: the GPU's row dots are
            // warp tree sums where the CPU follows ggml's 4x8-lane order (~1e-6 relative,
            // carried by the state from token to token), its silu and sigmoid use expf where the
            // CPU uses ggml's exp (~2 ulps). gpt-oss's output biases and qwen35moe's shared
            // expert are float32 additions and products on both sides (the shared expert's
            // matrices are the dense feed-forward's kind, its gate's sigmoid expf again).
            // gemma4's extra operations (per-head norms at each layer's sizes, V's norm without
            // a weight, the per-layer embeddings and their GeGLU gate, the output scale, the
            // experts' GeGLU and norms) are float32 on both sides with the CPU's formulas; its
            // router input takes its two scales in the other order (one rounding apart), and
            // x · s + o · s stands for (x + o) · s: float32 roundings, far inside the bounds.
            // Refusals skip their row at run time (cuda_refusal).
            const QString type = m.value("weight_type").toString();
            const double tolerance = type == "F32" ? 2e-3 : type == "F16" ? 4e-3 : 3e-2;
            QTest::newRow(qPrintable(m.value("name").toString()))
                << m.value("gguf").toString() << tolerance;
        }
    }

    // Every position's logits of the reference prompt, GPU against CPU: through prefill, token
    // by token through single-token decode steps with CUDA graphs on and off, and through 8-row
    // steps. Prefill is never captured in a graph; decode steps are (each row count captured
    // once, then replayed with each step's tokens and positions read from device memory), so
    // the graphs-on steps must give the plain launches' bits at every position.
    void arch_models() {
        QFETCH(QString, gguf);
        QFETCH(double, tolerance);
        const auto model = load(arch_dir() / gguf.toStdString());
        QVERIFY(model);
        if (const auto why = cuda_refusal(*model, hearth::kAllGpuLayers)) {
            QVERIFY2(!cuda_must_run(QString::fromLatin1(QTest::currentDataTag())), why->c_str());
            QSKIP(qPrintable(QStringLiteral("refused on CUDA: ") + QString::fromStdString(*why)));
        }
        const QJsonObject index =
            QJsonDocument::fromJson(QByteArray::fromStdString(read_text(arch_dir() / "index.json")))
                .object();
        std::vector<int32_t> tokens;
        for (const QJsonValue& t : index.value("tokens").toArray()) {
            tokens.push_back(t.toInt());
        }
        const Reference reference = cpu_reference(*model, tokens, routing_margin(tolerance));
        const std::vector<float>& want = reference.logits;
        QVERIFY(!want.empty());
        QVERIFY2(reference.positions > 0, "the first position is a routing near-tie");
        const size_t n_vocab = model->info().n_vocab;
        {
            // The prompt in one run: the prefill path (it is longer than kPrefillMinRows).
            auto forward = CudaForward::create(*model, {.n_ctx = 64, .n_seq = 1, .device = 0});
            QVERIFY2(forward, forward ? "" : forward.error().message.c_str());
            std::vector<float> got(want.size(), NAN);
            const auto ok = (*forward)->run(prompt_batch(tokens), got.data());
            QVERIFY2(ok, ok ? "" : ok.error().message.c_str());
            const double error = leading_error(got, want, reference.positions, n_vocab);
            qInfo("%s (prefill): max |GPU - CPU| = %.2e of the logit scale", qPrintable(gguf),
                  error);
            QVERIFY2(
                error <= tolerance,
                qPrintable(QStringLiteral("prefill: error %1 > %2").arg(error).arg(tolerance)));
        }
        std::vector<float> graphs_logits;
        for (const bool graphs : {true, false}) {
            auto forward = CudaForward::create(
                *model, {.n_ctx = 64, .n_seq = 1, .device = 0, .use_graphs = graphs});
            QVERIFY2(forward, forward ? "" : forward.error().message.c_str());
            std::vector<float> got(want.size(), NAN);
            for (size_t i = 0; i < tokens.size(); ++i) {
                const CudaBatchToken t{tokens[i], uint32_t(i), 0, true};
                const auto ok = (*forward)->run(std::span(&t, 1), got.data() + i * n_vocab);
                QVERIFY2(ok, ok ? "" : ok.error().message.c_str());
            }
            if (graphs) {
                // Still "graphs": no capture failed and fell back to plain launches.
                QCOMPARE(QString::fromStdString((*forward)->graph_status()), QString("graphs"));
                graphs_logits = got;
            } else {
                QVERIFY2(
                    std::memcmp(got.data(), graphs_logits.data(), got.size() * sizeof(float)) == 0,
                    "decode steps: graphs on and off differ");
            }
            const double error = leading_error(got, want, reference.positions, n_vocab);
            qInfo("%s (1-token steps, graphs %s): max |GPU - CPU| = %.2e of the logit scale",
                  qPrintable(gguf), graphs ? "on" : "off", error);
            QVERIFY2(error <= tolerance,
                     qPrintable(QStringLiteral("steps, graphs %1: error %2 > %3")
                                    .arg(graphs ? "on" : "off")
                                    .arg(error)
                                    .arg(tolerance)));
        }
        // The prompt through the 8-row decode steps instead of prefill (flash-decoding, the
        // matrix-vector kernels): the same bound. The reference prompt is 32 tokens, so the
        // positions pass the models' sliding windows and mistral3's temperature step (16).
        auto steps = CudaForward::create(*model, {.n_ctx = 64, .n_seq = 1, .prefill_rows = 0});
        QVERIFY2(steps, steps ? "" : steps.error().message.c_str());
        std::vector<float> got(want.size(), NAN);
        const auto ok = (*steps)->run(prompt_batch(tokens), got.data());
        QVERIFY2(ok, ok ? "" : ok.error().message.c_str());
        const double error = leading_error(got, want, reference.positions, n_vocab);
        qInfo("%s (8-row steps): max |GPU - CPU| = %.2e of the logit scale", qPrintable(gguf),
              error);
        QVERIFY2(error <= tolerance,
                 qPrintable(QStringLiteral("steps: error %1 > %2").arg(error).arg(tolerance)));
    }

    // Every mixture-of-experts reference model either runs on CUDA, whole and partly offloaded
    // (qwen3moe, llama_moe, gpt_oss, qwen35moe, gemma4_moe: their logits are checked by
    // arch_models and partial_offload; gemma4_moe_q8_0 whole only, its layers share caches), or
    // is refused as `unsupported` for an operation other than the routed experts, which sends
    // --device auto to the CPU.
    void moe_models_run_or_are_refused_for_another_reason() {
        const QJsonObject index =
            QJsonDocument::fromJson(QByteArray::fromStdString(read_text(arch_dir() / "index.json")))
                .object();
        int n_moe = 0, n_run = 0;
        for (const QJsonValue& value : index.value("models").toArray()) {
            const QJsonObject m = value.toObject();
            if (m.value("experts").toInt() == 0) {
                continue;
            }
            ++n_moe;
            const QString name = m.value("name").toString();
            const auto model = load(arch_dir() / m.value("gguf").toString().toStdString());
            QVERIFY(model);
            for (const int32_t gpu_layers : {hearth::kAllGpuLayers, 1}) {
                auto forward = CudaForward::create(
                    *model, {.n_ctx = 64, .n_seq = 1, .device = 0, .gpu_layers = gpu_layers});
                if (cuda_must_run(name)) {
                    if (!forward && gpu_layers == 1 &&
                        forward.error().message.find("reads the KV cache of a layer among them") !=
                            std::string::npos) {
                        continue; // gemma4_moe_q8_0: no cut leaves the CPU its own caches
                    }
                    QVERIFY2(forward, forward ? "" : forward.error().message.c_str());
                    n_run += gpu_layers == 1 ? 1 : 0;
                    if (gpu_layers == hearth::kAllGpuLayers) {
                        // A decoded token reads its n_expert_used experts, not all: the
                        // header's arithmetic (matrices only) plus the norms, which weigh less
                        // than one expert of one layer.
                        const hearth::ModelInfo& info = model->info();
                        const uint64_t decode = (*forward)->memory().decode_weight_bytes;
                        const uint64_t one_expert =
                            info.expert_weight_bytes / (uint64_t(info.n_expert) * info.n_layer);
                        qInfo("%s: %llu weight bytes per decoded token of %llu on the device",
                              qPrintable(name), static_cast<unsigned long long>(decode),
                              static_cast<unsigned long long>((*forward)->memory().weights_bytes));
                        QVERIFY(decode >= info.active_weight_bytes);
                        QVERIFY(decode - info.active_weight_bytes < one_expert);
                    }
                    continue;
                }
                QVERIFY2(!forward, qPrintable(name + " runs: add it to cuda_must_run"));
                QCOMPARE(forward.error().code, hearth::ErrorCode::unsupported);
                QVERIFY2(forward.error().message.find("mixture-of-experts models") ==
                             std::string::npos,
                         forward.error().message.c_str());
            }
        }
        QVERIFY(n_moe > 0);
        // Partly offloaded: qwen3moe, qwen3moe_q8_0, llama_moe, gpt_oss, qwen35moe(_q8_0),
        // gemma4_moe.
        QCOMPARE(n_run, 7);
    }

    void partial_offload_data() { arch_models_data(); }

    // The first N layers on the GPU, the rest and the head on the CPU: every position's logits
    // within the same bound of the CPU's as the whole model on the GPU (the CPU layers add no
    // error of their own), for N = 1, half and all layers; cells copied between slots on both
    // devices; the memory report says what went where.
    void partial_offload() {
        QFETCH(QString, gguf);
        QFETCH(double, tolerance);
        const auto model = load(arch_dir() / gguf.toStdString());
        QVERIFY(model);
        if (const auto why = cuda_refusal(*model, 1)) {
            // gemma4's (and gemma4_moe_q8_0's) layers 2 and 3 read the caches of layers 0 and
            // 1: no cut leaves the CPU its own caches, and the refusal says so.
            QVERIFY2(!cuda_must_run(QString::fromLatin1(QTest::currentDataTag())) ||
                         why->find("reads the KV cache of a layer among them") != std::string::npos,
                     why->c_str());
            QSKIP(qPrintable(QStringLiteral("refused on CUDA: ") + QString::fromStdString(*why)));
        }
        const hearth::ModelInfo& info = model->info();
        // (Ids below the reference models' 268-token vocabulary.)
        const std::vector<int32_t> tokens{1, 7, 200, 42, 5, 99, 13, 8, 150, 3, 77};
        const Reference reference = cpu_reference(*model, tokens, routing_margin(tolerance));
        const std::vector<float>& want = reference.logits;
        QVERIFY(!want.empty());
        QVERIFY2(reference.positions > 0, "the first position is a routing near-tie");
        for (const uint32_t n : {1u, std::max(1u, info.n_layer / 2), info.n_layer}) {
            auto forward =
                CudaForward::create(*model, {.n_ctx = 32, .n_seq = 2, .gpu_layers = int32_t(n)});
            QVERIFY2(forward, forward ? "" : forward.error().message.c_str());
            const auto mem = (*forward)->memory();
            QCOMPARE(mem.gpu_layers, n);
            QCOMPARE(mem.n_layers, info.n_layer);
            QVERIFY(!mem.head_on_gpu);
            const uint64_t host_kv = host_kv_elements(info, n) * 32 * 2 * 2;
            QCOMPARE(mem.host_kv_bytes, host_kv);
            std::vector<float> got(want.size(), NAN);
            const auto ok = (*forward)->run(prompt_batch(tokens), got.data());
            QVERIFY2(ok, ok ? "" : ok.error().message.c_str());
            const double error = leading_error(got, want, reference.positions, info.n_vocab);
            qInfo("%s, %u of %u layers on the GPU: max |GPU - CPU| = %.2e of the logit scale",
                  qPrintable(gguf), n, info.n_layer, error);
            QVERIFY2(
                error <= tolerance,
                qPrintable(
                    QStringLiteral("%1 layers: error %2 > %3").arg(n).arg(error).arg(tolerance)));
            if (!info.recurrent_layers.empty()) {
                // qwen35: a recurrent state is not copied by cells (hybrid_sequences); a slot
                // must continue where its state stands, on both devices.
                QCOMPARE((*forward)->copy_cells(0, 1, 0, 6).error().code,
                         hearth::ErrorCode::unsupported);
                const CudaBatchToken skip{5, uint32_t(tokens.size() + 1), 0, true};
                std::vector<float> row(info.n_vocab);
                QCOMPARE((*forward)->run(std::span(&skip, 1), row.data()).error().code,
                         hearth::ErrorCode::invalid_argument);
                const CudaBatchToken next{5, uint32_t(tokens.size()), 0, true};
                QVERIFY((*forward)->run(std::span(&next, 1), row.data()));
                continue;
            }
            // Slot 1 gets slot 0's first 6 cells and goes on from there: the same logits as
            // slot 0 had at those positions.
            QVERIFY((*forward)->copy_cells(0, 1, 0, 6));
            const std::vector<int32_t> rest(tokens.begin() + 6, tokens.end());
            std::vector<CudaBatchToken> batch;
            for (size_t i = 0; i < rest.size(); ++i) {
                batch.push_back({rest[i], uint32_t(6 + i), 1, true});
            }
            std::vector<float> copied(rest.size() * info.n_vocab, NAN);
            QVERIFY((*forward)->run(batch, copied.data()));
            const std::vector<float> slot0(got.begin() + std::ptrdiff_t(6 * info.n_vocab),
                                           got.end());
            QVERIFY2(relative_error(copied, slot0) <= tolerance,
                     qPrintable(QStringLiteral("%1 layers, copied cells").arg(n)));
            // The logits are the CPU's to sample.
            const auto sampled = (*forward)->sample({}, {}, 0.5, 0);
            QVERIFY(sampled && sampled->needs_host);
        }
    }

    // Auto: the whole model when it fits; within a memory budget that holds about half the
    // weights, as many layers as fit, the rest on the CPU, with the same logits.
    void partial_offload_auto() {
        const auto model = load(arch_dir() / "llama_q4_0.gguf");
        QVERIFY(model);
        const hearth::ModelInfo& info = model->info();
        hearth::CudaMemoryReport whole;
        {
            auto forward =
                CudaForward::create(*model, {.n_ctx = 32, .gpu_layers = hearth::kAutoGpuLayers});
            QVERIFY2(forward, forward ? "" : forward.error().message.c_str());
            whole = (*forward)->memory();
            QCOMPARE(whole.gpu_layers, info.n_layer);
            QVERIFY(whole.head_on_gpu);
        }
        const std::vector<int32_t> tokens{3, 14, 15, 92, 65, 35};
        const auto want = cpu_logits(*model, tokens);
        const uint64_t budget =
            (512ull << 20) + whole.scratch_bytes + whole.kv_bytes + whole.weights_bytes / 2;
        auto forward = CudaForward::create(
            *model, {.n_ctx = 32, .gpu_layers = hearth::kAutoGpuLayers, .memory_budget = budget});
        QVERIFY2(forward, forward ? "" : forward.error().message.c_str());
        const auto mem = (*forward)->memory();
        qInfo("budget %.1f MiB: %u of %u layers on the GPU", budget / 1048576.0, mem.gpu_layers,
              info.n_layer);
        QVERIFY(!mem.head_on_gpu);
        QVERIFY(mem.gpu_layers >= 1 && mem.gpu_layers < info.n_layer);
        std::vector<float> got(want.size(), NAN);
        QVERIFY((*forward)->run(prompt_batch(tokens), got.data()));
        QVERIFY2(relative_error(got, want) <= 3e-2, "auto partial offload logits");

        // The same budget for the whole model is refused with the arithmetic and the layers
        // that would fit; an explicit count that does not fit names the most that would.
        auto refused = CudaForward::create(*model, {.n_ctx = 32, .memory_budget = budget});
        QVERIFY(!refused);
        QCOMPARE(refused.error().code, hearth::ErrorCode::out_of_memory);
        QVERIFY2(QString::fromStdString(refused.error().message)
                     .contains(QStringLiteral("%1 of %2 layers would fit")
                                   .arg(mem.gpu_layers)
                                   .arg(info.n_layer)),
                 refused.error().message.c_str());
        auto too_many = CudaForward::create(
            *model, {.n_ctx = 32, .gpu_layers = int32_t(info.n_layer), .memory_budget = budget});
        QVERIFY(!too_many);
        QCOMPARE(too_many.error().code, hearth::ErrorCode::out_of_memory);
        auto none = CudaForward::create(*model, {.n_ctx = 32, .gpu_layers = 0});
        QVERIFY(!none);
        QCOMPARE(none.error().code, hearth::ErrorCode::invalid_argument);
    }

    // Greedy generation on the default model: the same tokens as the CPU, or a divergence only
    // after a near-tie (the CPU's top two logits within 0.25: the CPU's 8-bit activations move
    // this Q4_1 model's logits by ~1e-2 of their scale), and logits within 3e-2 of the scale.
    void default_model_greedy() {
        HEARTH_REQUIRE_DEFAULT_MODEL(path);
        const auto model = load(path);
        QVERIFY(model);
        const auto prompt = model->tokenizer().encode("The capital of France is");
        QVERIFY(prompt && !prompt->empty());
        const size_t n_vocab = model->info().n_vocab;
        auto forward = CudaForward::create(*model, {.n_ctx = 128});
        QVERIFY2(forward, forward ? "" : forward.error().message.c_str());
        const auto mem = (*forward)->memory();
        qInfo("weights %.1f MiB, KV %.1f MiB, scratch %.1f MiB of %.1f GiB (%s)",
              mem.weights_bytes / 1048576.0, mem.kv_bytes / 1048576.0,
              mem.scratch_bytes / 1048576.0, mem.device_total_bytes / 1073741824.0,
              (*forward)->graph_status().c_str());
        QVERIFY(mem.weights_bytes > 0 && mem.kv_bytes > 0 && mem.scratch_bytes > 0);

        std::vector<int32_t> cpu_tokens = *prompt, gpu_tokens = *prompt;
        const hearth::ModelInfo& info = model->info();
        hearth::cpu::KvCache cache(info.n_layer, 128, info.n_head_kv * info.head_dim_k,
                                   info.n_head_kv * info.head_dim_v);
        hearth::cpu::Forward cpu(model->impl());
        std::vector<float> cpu_out(n_vocab), gpu_out(n_vocab);
        bool near_tie = false;
        for (int step = 0; step < 32 && !near_tie; ++step) {
            // CPU: the whole prompt first, then one token per step.
            std::vector<hearth::cpu::BatchToken> batch;
            const size_t from = step == 0 ? 0 : cpu_tokens.size() - 1;
            for (size_t i = from; i < cpu_tokens.size(); ++i) {
                hearth::cpu::BatchToken t;
                t.token = cpu_tokens[i];
                t.pos = uint32_t(i);
                t.cache = &cache;
                t.want_logits = i + 1 == cpu_tokens.size();
                batch.push_back(t);
            }
            QVERIFY(cpu.run(batch, cpu_out.data()));
            std::vector<CudaBatchToken> gpu_batch;
            for (size_t i = from; i < gpu_tokens.size(); ++i) {
                gpu_batch.push_back({gpu_tokens[i], uint32_t(i), 0, i + 1 == gpu_tokens.size()});
            }
            const auto ok = (*forward)->run(gpu_batch, gpu_out.data());
            QVERIFY2(ok, ok ? "" : ok.error().message.c_str());
            const int32_t c = argmax(cpu_out.data(), n_vocab);
            const int32_t g = argmax(gpu_out.data(), n_vocab);
            near_tie = top2_gap(cpu_out) < 0.25f;
            const double error = relative_error(gpu_out, cpu_out);
            QVERIFY2(error <= 3e-2,
                     qPrintable(QStringLiteral("step %1: logits differ by %2 of the scale")
                                    .arg(step)
                                    .arg(error)));
            if (!near_tie) {
                QVERIFY2(
                    c == g,
                    qPrintable(QStringLiteral("step %1: CPU %2, GPU %3").arg(step).arg(c).arg(g)));
            }
            cpu_tokens.push_back(c);
            gpu_tokens.push_back(g);
        }
    }

    // Perplexity of the default model over the first 4 windows of 512 tokens of
    // tests/data/generation/genesis.txt, scored as llama.cpp's perplexity tool scores (the
    // second half of each window): the GPU's within 0.1% of the CPU's.
    void default_model_perplexity() {
        HEARTH_REQUIRE_DEFAULT_MODEL(path);
        const auto model = load(path);
        QVERIFY(model);
        const char* env = std::getenv("HEARTH_TEST_DATA_DIR");
        const auto text_path =
            (env && *env ? std::filesystem::path(env) : data_dir()) / "generation" / "genesis.txt";
        auto tokens = model->tokenizer().encode(read_text(text_path),
                                                {.add_special = true, .parse_special = false});
        QVERIFY(tokens);
        constexpr uint32_t n_ctx = 512;
        constexpr size_t n_windows = 4;
        QVERIFY(tokens->size() >= n_windows * n_ctx);
        const hearth::ModelInfo& info = model->info();
        const size_t n_vocab = info.n_vocab;
        auto gpu = CudaForward::create(*model, {.n_ctx = n_ctx});
        QVERIFY2(gpu, gpu ? "" : gpu.error().message.c_str());
        hearth::cpu::Forward cpu(model->impl());
        double nll_cpu = 0, nll_gpu = 0;
        size_t count = 0;
        std::vector<float> cpu_out(n_ctx * n_vocab), gpu_out(n_ctx * n_vocab);
        auto score = [&](const std::vector<float>& logits, const std::vector<int32_t>& window,
                         size_t i) {
            const float* row = logits.data() + i * n_vocab;
            const float m = *std::max_element(row, row + n_vocab);
            double sum = 0;
            for (size_t v = 0; v < n_vocab; ++v) {
                sum += std::exp(double(row[v] - m));
            }
            return -(double(row[size_t(window[i + 1])] - m) - std::log(sum));
        };
        for (size_t w = 0; w < n_windows; ++w) {
            const std::vector<int32_t> window(tokens->begin() + std::ptrdiff_t(w * n_ctx),
                                              tokens->begin() + std::ptrdiff_t((w + 1) * n_ctx));
            hearth::cpu::KvCache cache(info.n_layer, n_ctx, info.n_head_kv * info.head_dim_k,
                                       info.n_head_kv * info.head_dim_v);
            std::vector<hearth::cpu::BatchToken> batch;
            for (size_t i = 0; i < window.size(); ++i) {
                hearth::cpu::BatchToken t;
                t.token = window[i];
                t.pos = uint32_t(i);
                t.cache = &cache;
                t.want_logits = true;
                batch.push_back(t);
            }
            QVERIFY(cpu.run(batch, cpu_out.data()));
            const auto ok = (*gpu)->run(prompt_batch(window), gpu_out.data());
            QVERIFY2(ok, ok ? "" : ok.error().message.c_str());
            for (size_t i = n_ctx / 2; i + 1 < n_ctx; ++i) {
                nll_cpu += score(cpu_out, window, i);
                nll_gpu += score(gpu_out, window, i);
                ++count;
            }
        }
        const double ppl_cpu = std::exp(nll_cpu / double(count));
        const double ppl_gpu = std::exp(nll_gpu / double(count));
        qInfo("perplexity over %zu tokens: GPU %.4f, CPU %.4f (%.3f%% apart)", count, ppl_gpu,
              ppl_cpu, 100 * std::abs(ppl_gpu - ppl_cpu) / ppl_cpu);
        QVERIFY2(std::abs(ppl_gpu - ppl_cpu) / ppl_cpu < 0.001,
                 qPrintable(QStringLiteral("GPU %1 vs CPU %2").arg(ppl_gpu).arg(ppl_cpu)));
    }

    // Rows of different sequences in one step give what each gives alone, bit for bit.
    void sequences_are_independent() {
        const auto model = load(arch_dir() / "llama.gguf");
        QVERIFY(model);
        const size_t n_vocab = model->info().n_vocab;
        const auto [prompts, mixed] = mixed_prompts(false);
        auto together = CudaForward::create(*model, {.n_ctx = 32, .n_seq = 3});
        auto alone = CudaForward::create(*model, {.n_ctx = 32, .n_seq = 3});
        QVERIFY(together && alone);
        std::vector<float> mixed_out(3 * n_vocab), alone_out(3 * n_vocab);
        QVERIFY((*together)->run(mixed, mixed_out.data()));
        // The mixed batch emits logits in batch order: sequence 1 ends first, then 0, then 2.
        const uint32_t order[] = {1, 0, 2};
        for (size_t k = 0; k < 3; ++k) {
            const uint32_t s = order[k];
            std::vector<float> all(prompts[s].size() * n_vocab);
            QVERIFY((*alone)->run(prompt_batch(prompts[s], s), all.data()));
            std::copy_n(all.end() - std::ptrdiff_t(n_vocab), n_vocab,
                        alone_out.begin() + std::ptrdiff_t(k * n_vocab));
        }
        QVERIFY(std::memcmp(mixed_out.data(), alone_out.data(), mixed_out.size() * sizeof(float)) ==
                0);
    }

    // qwen35 on the GPU: sequences mixed in one step give what each gives alone, bit for bit (no
    // kernel of the delta-net mixes rows); each alone within the F32 bound of the CPU's logits
    // at every position; a slot taken over by a new sequence at position 0 starts its state
    // over (the same bits as a fresh slot); a sequence continued token by token after its
    // prompt keeps the CPU's logits; a position its state is not at is refused.
    void hybrid_sequences() {
        const auto model = load(arch_dir() / "qwen35.gguf");
        QVERIFY(model);
        const size_t n_vocab = model->info().n_vocab;
        const auto [prompts, mixed] = mixed_prompts(true);
        auto together = CudaForward::create(*model, {.n_ctx = 32, .n_seq = 3});
        auto alone = CudaForward::create(*model, {.n_ctx = 32, .n_seq = 3});
        QVERIFY2(together, together ? "" : together.error().message.c_str());
        QVERIFY(alone);
        QVERIFY((*together)->memory().recurrent_bytes > 0);
        std::vector<std::vector<float>> mixed_rows(3);
        std::vector<float> mixed_out(mixed.size() * n_vocab);
        QVERIFY((*together)->run(mixed, mixed_out.data()));
        for (size_t r = 0; r < mixed.size(); ++r) {
            auto& rows = mixed_rows[mixed[r].seq];
            rows.insert(rows.end(), mixed_out.begin() + std::ptrdiff_t(r * n_vocab),
                        mixed_out.begin() + std::ptrdiff_t((r + 1) * n_vocab));
        }
        for (uint32_t s = 0; s < 3; ++s) {
            std::vector<float> all(prompts[s].size() * n_vocab);
            QVERIFY((*alone)->run(prompt_batch(prompts[s], s), all.data()));
            QVERIFY(all == mixed_rows[s]);
            const auto want = cpu_logits(*model, prompts[s]);
            QVERIFY(!want.empty());
            const double error = relative_error(all, want);
            qInfo("qwen35 sequence %u: max |GPU - CPU| = %.2e of the logit scale", s, error);
            QVERIFY2(error <= 2e-3, qPrintable(QStringLiteral("error %1").arg(error)));
        }
        // Slot 2 (10 tokens in) starts prompt 0 over: the bits of a fresh slot.
        std::vector<float> fresh(prompts[0].size() * n_vocab);
        QVERIFY((*together)->run(prompt_batch(prompts[0], 2), fresh.data()));
        QVERIFY(fresh == mixed_rows[0]);
        // Slot 1 continues token by token: the CPU's logits for the longer prompt.
        std::vector<int32_t> longer = prompts[1];
        std::vector<float> got;
        for (const int32_t token : {11, 12, 13}) {
            std::vector<float> row(n_vocab);
            const CudaBatchToken t{token, uint32_t(longer.size()), 1, true};
            QVERIFY((*together)->run(std::span(&t, 1), row.data()));
            longer.push_back(token);
            got.insert(got.end(), row.begin(), row.end());
        }
        const auto want = cpu_logits(*model, longer);
        QVERIFY(!want.empty());
        const std::vector<float> want_tail(want.end() - std::ptrdiff_t(3 * n_vocab), want.end());
        QVERIFY(relative_error(got, want_tail) <= 2e-3);
        QCOMPARE((*together)->copy_cells(1, 0, 0, 2).error().code, hearth::ErrorCode::unsupported);
        // A position its state does not stand at is refused, naming both; position 0 is not.
        const CudaBatchToken behind{5, 2, 1, true};
        std::vector<float> row(n_vocab);
        const auto refused = (*together)->run(std::span(&behind, 1), row.data());
        QVERIFY(!refused);
        QCOMPARE(refused.error().code, hearth::ErrorCode::invalid_argument);
        QVERIFY2(refused.error().message.find("stands at position 6") != std::string::npos,
                 refused.error().message.c_str());
        const CudaBatchToken restart{5, 0, 1, true};
        QVERIFY((*together)->run(std::span(&restart, 1), row.data()));
    }

    // sample() draws on the GPU from the last step's logits what hearth::Sampler draws from the
    // same logits on the host, with the same seed; only the token (and the top candidates)
    // comes back.
    void gpu_sampling_matches_cpu_sampler() {
        const auto model = load(arch_dir() / "llama_q8_0.gguf");
        QVERIFY(model);
        const size_t n_vocab = model->info().n_vocab;
        auto forward = CudaForward::create(*model, {.n_ctx = 32});
        QVERIFY(forward);
        QCOMPARE((*forward)->sample({}, {}, 0.5).error().code, hearth::ErrorCode::invalid_argument);
        const std::vector<int32_t> prompt = {5, 17, 17, 200, 3, 17, 42};
        std::vector<float> logits(prompt.size() * n_vocab);
        QVERIFY((*forward)->run(prompt_batch(prompt), logits.data()));
        const std::span<const float> last(logits.data() + (prompt.size() - 1) * n_vocab, n_vocab);
        for (uint64_t seed = 1; seed <= 20; ++seed) {
            hearth::SamplingParams params;
            params.temperature = seed % 5 == 0 ? 0.0f : 0.9f;
            params.top_k = seed % 3 == 0 ? 0 : 20;
            params.top_p = seed % 2 == 0 ? 0.8f : 1.0f;
            params.min_p = seed % 4 == 0 ? 0.05f : 0.0f;
            params.repeat_penalty = 1.3f;
            params.seed = seed;
            hearth::Sampler cpu(params);
            const int32_t want = cpu.sample(last, prompt);
            std::mt19937 rng(static_cast<std::mt19937::result_type>(seed));
            const uint32_t high = rng();
            const uint32_t low = rng();
            const auto got =
                (*forward)->sample(params, prompt, hearth::kernels::sample_uniform(high, low), 5);
            QVERIFY2(got, got ? "" : got.error().message.c_str());
            QVERIFY(!got->needs_host); // 268 tokens: always within the GPU's 1024 candidates
            QCOMPARE(got->token, want);
            QVERIFY(!got->top.empty());
            // The candidates come sorted by probability; greedy reports its token alone.
            if (params.temperature <= 0.0f) {
                QCOMPARE(got->top.size(), size_t(1));
                QCOMPARE(got->top.front().token, want);
            }
            for (size_t i = 1; i < got->top.size(); ++i) {
                QVERIFY(got->top[i].probability <= got->top[i - 1].probability);
            }
        }
    }

    // Forwards of one model on one device share one upload of the weights while any of them
    // lives; a forward created after all are gone uploads again.
    void weights_are_shared() {
        const auto model = load(arch_dir() / "gemma3.gguf");
        QVERIFY(model);
        const auto other = load(arch_dir() / "qwen3.gguf");
        QVERIFY(other);
        auto first = CudaForward::create(*model, {.n_ctx = 16});
        QVERIFY2(first, first ? "" : first.error().message.c_str());
        QVERIFY(!(*first)->memory().weights_shared);
        auto second = CudaForward::create(*model, {.n_ctx = 16, .n_seq = 2});
        QVERIFY2(second, second ? "" : second.error().message.c_str());
        QVERIFY((*second)->memory().weights_shared);
        QCOMPARE((*second)->memory().weights_bytes, (*first)->memory().weights_bytes);
        auto unrelated = CudaForward::create(*other, {.n_ctx = 16});
        QVERIFY(unrelated && !(*unrelated)->memory().weights_shared);

        // The same tokens through both give the same logits, bit for bit.
        const std::vector<int32_t> tokens{1, 5, 9, 2};
        std::vector<float> a(tokens.size() * model->info().n_vocab, NAN), b(a.size(), NAN);
        QVERIFY((*first)->run(prompt_batch(tokens), a.data()));
        QVERIFY((*second)->run(prompt_batch(tokens, 1), b.data()));
        QVERIFY(std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0);

        first->reset();
        second->reset();
        auto again = CudaForward::create(*model, {.n_ctx = 16});
        QVERIFY(again && !(*again)->memory().weights_shared);
    }

    void refusals() {
        const auto model = load(arch_dir() / "llama.gguf");
        QVERIFY(model);
        // A context whose KV cache cannot fit: refused before allocating, with the arithmetic.
        auto r = CudaForward::create(*model, {.n_ctx = 2000000000u, .n_seq = 8});
        QVERIFY(!r);
        QCOMPARE(r.error().code, hearth::ErrorCode::out_of_memory);
        QVERIFY2(QString::fromStdString(r.error().message).contains("would fit"),
                 r.error().message.c_str());

        auto forward = CudaForward::create(*model, {.n_ctx = 8, .n_seq = 2});
        QVERIFY(forward);
        std::vector<float> out(model->info().n_vocab);
        const CudaBatchToken bad_token{int32_t(model->info().n_vocab), 0, 0, true};
        QCOMPARE((*forward)->run({&bad_token, 1}, out.data()).error().code,
                 hearth::ErrorCode::invalid_argument);
        const CudaBatchToken bad_slot{1, 0, 2, true};
        QCOMPARE((*forward)->run({&bad_slot, 1}, out.data()).error().code,
                 hearth::ErrorCode::invalid_argument);
        const CudaBatchToken past_end{1, 8, 0, true};
        QCOMPARE((*forward)->run({&past_end, 1}, out.data()).error().code,
                 hearth::ErrorCode::context_full);
        const CudaBatchToken fine{1, 0, 0, true};
        QVERIFY((*forward)->run({&fine, 1}, out.data()));
    }
};

QTEST_APPLESS_MAIN(TstCudaForward)
#include "tst_cuda_forward.moc"
