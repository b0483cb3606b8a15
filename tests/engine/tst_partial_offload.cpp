// Partial offload, the CPU side: the forward pass cut at a layer (run_to, then run_from, or
// embed then run_from) gives run()'s logits bit for bit, on the default model and the tiny
// architecture models (gemma3's sliding layers, qwen3's Q/K norms, ...), with a KV cache that
// holds only the layers the CPU runs; the KV cache over a layer subset; and the offload plan
// (plan_offload) on hand-made models whose answers are worked out here by hand.
#include "cpu/forward.h"
#include "cpu/kv_cache.h"
#include "hearth/memory_plan.h"
#include "hearth/model.h"
#include "hearth/prompt.h"
#include "model/model_impl.h"
#include "test_support.h"

#include <QtTest>
#include <algorithm>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>

using namespace hearth;

namespace {

constexpr uint64_t kMiB = 1ull << 20;
constexpr uint32_t kDecodeSteps = 4;

enum class Cut {
    none,           // run()
    same_cache,     // run_to(N) then run_from(N), one cache (embed then run_from at N = 0)
    partial_caches, // run_to(N) on a full cache, run_from(N) on a cache holding [N, n_layer)
};

std::shared_ptr<const Model> load(const std::filesystem::path& path) {
    LoadOptions options;
    options.n_threads = 2;
    auto model = Model::load(path, options);
    return model ? *model : nullptr;
}

// (gemma4's at each layer's widths, its shared layers reading their owners' cells.)
cpu::KvCache make_cache(const ModelInfo& info, uint32_t n_ctx, KvCacheType type,
                        uint32_t first_layer = 0) {
    return cpu::KvCache(info, n_ctx, type, first_layer);
}

// One batch through the forward pass, cut at layer `n` as `cut` says. `lower` holds the
// cells of layers [0, n), `upper` those of [n, n_layer) (the same cache unless partial).
Result<void> run_batch(cpu::Forward& forward, std::vector<cpu::BatchToken> batch, Cut cut,
                       uint32_t n, cpu::KvCache& lower, cpu::KvCache& upper, size_t n_embd,
                       float* logits) {
    if (cut == Cut::none) {
        for (auto& t : batch)
            t.cache = &upper;
        return forward.run(batch, logits);
    }
    std::vector<float> residual(batch.size() * n_embd);
    for (auto& t : batch)
        t.cache = &lower;
    auto first = cut == Cut::same_cache && n == 0 ? forward.embed(batch, residual.data())
                                                  : forward.run_to(batch, n, residual.data());
    if (!first)
        return first;
    for (auto& t : batch)
        t.cache = &upper;
    return forward.run_from(batch, n, residual.data(), logits);
}

// The prompt as one batch (logits for every token), then `decode` one token at a time:
// every logit, in order.
Result<std::vector<float>> run_sequence(const Model::Impl& m, Cut cut, uint32_t n, KvCacheType type,
                                        std::span<const int32_t> prompt,
                                        std::span<const int32_t> decode) {
    const ModelInfo& info = m.info;
    const uint32_t n_ctx = uint32_t(prompt.size() + decode.size());
    cpu::KvCache lower = make_cache(info, n_ctx, type);
    cpu::KvCache upper = make_cache(info, n_ctx, type, cut == Cut::partial_caches ? n : 0);
    cpu::Forward forward(m);
    std::vector<float> logits((prompt.size() + decode.size()) * info.n_vocab);
    std::vector<cpu::BatchToken> batch;
    for (size_t i = 0; i < prompt.size(); ++i)
        batch.push_back({.token = prompt[i], .pos = uint32_t(i), .want_logits = true});
    if (auto ok = run_batch(forward, batch, cut, n, lower, upper, info.n_embd, logits.data()); !ok)
        return std::unexpected(ok.error());
    for (size_t i = 0; i < decode.size(); ++i) {
        const cpu::BatchToken t{
            .token = decode[i], .pos = uint32_t(prompt.size() + i), .want_logits = true};
        float* out = logits.data() + (prompt.size() + i) * info.n_vocab;
        if (auto ok = run_batch(forward, {t}, cut, n, lower, upper, info.n_embd, out); !ok)
            return std::unexpected(ok.error());
    }
    return logits;
}

int32_t argmax(std::span<const float> logits) {
    return int32_t(std::max_element(logits.begin(), logits.end()) - logits.begin());
}

// A hand-made model for the plan: 4 layers of 100 MiB, 50 MiB of embeddings and head,
// n_embd 256, 4 heads of 64 (2 KV heads), n_ff 512.
ModelInfo planned_model(uint64_t layer_bytes = 100 * kMiB) {
    ModelInfo info;
    info.n_layer = 4;
    info.n_embd = 256;
    info.n_head = 4;
    info.n_head_kv = 2;
    info.head_dim_k = 64;
    info.head_dim_v = 64;
    info.n_ff = 512;
    info.n_vocab = 1000;
    info.n_ctx_train = 1024;
    info.layer_weight_bytes.assign(4, layer_bytes);
    info.non_layer_weight_bytes = 50 * kMiB;
    info.weights_bytes = 4 * layer_bytes + 50 * kMiB;
    return info;
}

// The GPU scratch of planned_model at 1024 tokens, by memory_plan.h's formula with R = 8 rows,
// each buffer rounded up to 256 bytes: 3R int32 = 96 -> 256; residual in and out
// 2 x 8·256·4; normed input 8·max(256, 256)·4; q 8·256·4, k 8·128·4, v 8·128·4,
// o 8·256·4; gate and up 2 x 8·512·4; attention partials 8·4 heads·(1024/256 chunks)·(2+64)·4.
constexpr uint64_t kGpuScratch =
    256 + 2 * 8192 + 8192 + 8192 + 4096 + 4096 + 8192 + 2 * 16384 + 33792;
// F16 K and V of one layer at 1024 tokens, one sequence: 2 x 1024·128·2.
constexpr uint64_t kGpuKvPerLayer = 2 * 262144;
// plan_memory's CPU scratch at 1024 tokens, batch 512, one sequence:
// 4 x (512 x (3·256 + 256 + 256 + 2·512) + 4 heads x 1024 scores + 1000 logits).
constexpr uint64_t kCpuScratch = 4 * (512 * 2304 + 4096 + 1000);
constexpr uint64_t kHeadroom = 512 * kMiB;

} // namespace

class TestPartialOffload : public QObject {
    Q_OBJECT

private slots:
    void cut_equals_run_data() {
        QTest::addColumn<QString>("gguf"); // empty: the default model
        QTest::addColumn<bool>("q8_0_cache");
        QTest::newRow("default model") << QString() << false;
        QTest::newRow("default model, Q8_0 cache") << QString() << true;
        std::ifstream in(test::data_dir() / "arch" / "index.json");
        QVERIFY2(in, "tests/data/arch/index.json is missing");
        const auto index = nlohmann::json::parse(in);
        for (const auto& m : index["models"]) {
            QTest::newRow(m["name"].get<std::string>().c_str())
                << QString::fromStdString(m["gguf"].get<std::string>()) << false;
        }
    }

    // run_to(N) + run_from(N), and the same with the upper layers' cells in a cache of their
    // own, equal run() bit for bit: a prompt batch, then single-token decode steps.
    void cut_equals_run() {
        QFETCH(QString, gguf);
        QFETCH(bool, q8_0_cache);
        std::vector<int32_t> prompt;
        std::shared_ptr<const Model> model;
        if (gguf.isEmpty()) {
            HEARTH_REQUIRE_DEFAULT_MODEL(path);
            model = load(path);
            QVERIFY(model);
            auto tokens = tokenize_prompt(model->tokenizer(),
                                          "The capital of France is Paris, and the capital of "
                                          "Germany is");
            QVERIFY(tokens && tokens->size() > 8);
            prompt = *tokens;
        } else {
            model = load(test::data_dir() / "arch" / gguf.toStdString());
            QVERIFY(model);
            std::ifstream in(test::data_dir() / "arch" / "index.json");
            prompt = nlohmann::json::parse(in)["tokens"].get<std::vector<int32_t>>();
        }
        const Model::Impl& m = model->impl();
        const uint32_t n_layer = m.info.n_layer;
        const size_t n_vocab = m.info.n_vocab;
        const KvCacheType type = q8_0_cache ? KvCacheType::q8_0 : KvCacheType::f16;
        if (!m.info.recurrent_layers.empty()) {
            // A hybrid model is never split between devices (CUDA refuses it): a cut is refused.
            cpu::KvCache cache = make_cache(m.info, 8, type);
            cpu::RecurrentState state(m.info);
            const std::vector<cpu::BatchToken> batch = {
                {.token = prompt[0], .pos = 0, .cache = &cache, .state = &state}};
            std::vector<float> residual(m.info.n_embd);
            cpu::Forward forward(m);
            auto cut = forward.run_to(batch, 1, residual.data());
            QVERIFY(!cut);
            QCOMPARE(cut.error().code, ErrorCode::unsupported);
            return;
        }
        // The reference: run() throughout, decoding greedily.
        std::vector<int32_t> decode;
        {
            std::vector<int32_t> tokens = prompt;
            for (uint32_t step = 0; step < kDecodeSteps; ++step) {
                auto logits = run_sequence(m, Cut::none, 0, type, tokens, {});
                QVERIFY2(logits, logits ? "" : logits.error().message.c_str());
                decode.push_back(argmax(std::span(*logits).last(n_vocab)));
                tokens.push_back(decode.back());
            }
        }
        auto reference = run_sequence(m, Cut::none, 0, type, prompt, decode);
        QVERIFY2(reference, reference ? "" : reference.error().message.c_str());

        for (uint32_t n : {0u, 1u, n_layer / 2, n_layer - 1, n_layer}) {
            for (Cut cut : {Cut::same_cache, Cut::partial_caches}) {
                if (!m.info.kv_cut_allowed(n)) {
                    // gemma4: a layer past the cut reads the cache of a layer below it, whose
                    // cells the lower side wrote. A cache holding only the upper layers is
                    // refused rather than read from the wrong cells; a full one (same_cache)
                    // would be read unwritten, which no caller does (CUDA refuses the cut).
                    if (cut == Cut::partial_caches) {
                        auto refused = run_sequence(m, cut, n, type, prompt, decode);
                        QVERIFY(!refused);
                        QCOMPARE(refused.error().code, ErrorCode::invalid_argument);
                    }
                    continue;
                }
                auto logits = run_sequence(m, cut, n, type, prompt, decode);
                QVERIFY2(logits, logits ? "" : logits.error().message.c_str());
                QCOMPARE(logits->size(), reference->size());
                QVERIFY2(std::memcmp(logits->data(), reference->data(),
                                     logits->size() * sizeof(float)) == 0,
                         qPrintable(
                             QString("cut at layer %1 of %2 (%3): logits differ from run()")
                                 .arg(n)
                                 .arg(n_layer)
                                 .arg(cut == Cut::same_cache ? "one cache" : "a cache per side")));
            }
        }
    }

    // embed() is run_to(0): the residual stream entering layer 0, embedding scale and all.
    void embed_is_run_to_zero() {
        auto model = load(test::data_dir() / "arch" / "gemma3.gguf"); // scales its embeddings
        QVERIFY(model);
        const Model::Impl& m = model->impl();
        cpu::KvCache cache = make_cache(m.info, 8, KvCacheType::f16);
        std::vector<cpu::BatchToken> batch;
        for (uint32_t i = 0; i < 3; ++i)
            batch.push_back({.token = int32_t(7 * i + 1), .pos = i, .cache = &cache});
        cpu::Forward forward(m);
        std::vector<float> embedded(3 * m.info.n_embd), ran(3 * m.info.n_embd, -1.0f);
        QVERIFY(forward.embed(batch, embedded.data()));
        QVERIFY(forward.run_to(batch, 0, ran.data()));
        QVERIFY(std::memcmp(embedded.data(), ran.data(), ran.size() * sizeof(float)) == 0);
        QVERIFY(std::any_of(ran.begin(), ran.end(), [](float x) { return x != 0.0f; }));
    }

    void bad_cuts_are_refused() {
        auto model = load(test::data_dir() / "arch" / "llama.gguf");
        QVERIFY(model);
        const Model::Impl& m = model->impl();
        const ModelInfo& info = m.info;
        QVERIFY(info.n_layer >= 2);
        cpu::Forward forward(m);
        std::vector<float> residual(info.n_embd), logits(info.n_vocab);
        cpu::KvCache upper = make_cache(info, 8, KvCacheType::f16, 1);
        const cpu::BatchToken t{.token = 3, .pos = 0, .cache = &upper, .want_logits = true};

        // A cache without layer 0 cannot serve run() or run_to(1), nor run_from(0).
        for (auto result :
             {forward.run({&t, 1}, logits.data()), forward.run_to({&t, 1}, 1, residual.data()),
              forward.run_from({&t, 1}, 0, residual.data(), logits.data())}) {
            QVERIFY(!result);
            QCOMPARE(result.error().code, ErrorCode::invalid_argument);
            QVERIFY2(result.error().message.find("holds layers [1, ") != std::string::npos,
                     result.error().message.c_str());
        }
        // ...but it serves run_from(1) and run_to(0).
        QVERIFY(forward.run_to({&t, 1}, 0, residual.data()));
        QVERIFY(forward.run_from({&t, 1}, 1, residual.data(), logits.data()));

        auto past = forward.run_from({&t, 1}, info.n_layer + 1, residual.data(), logits.data());
        QVERIFY(!past);
        QCOMPARE(past.error().code, ErrorCode::invalid_argument);
        QVERIFY2(past.error().message.find("past the model's") != std::string::npos,
                 past.error().message.c_str());
        auto past_to = forward.run_to({&t, 1}, info.n_layer + 1, residual.data());
        QVERIFY(!past_to);
        QCOMPARE(past_to.error().code, ErrorCode::invalid_argument);

        const cpu::BatchToken bad{.token = int32_t(info.n_vocab), .pos = 0, .cache = &upper};
        auto embedded = forward.embed({&bad, 1}, residual.data());
        QVERIFY(!embedded);
        QCOMPARE(embedded.error().code, ErrorCode::invalid_argument);
        QVERIFY2(embedded.error().message.find("outside the vocabulary") != std::string::npos,
                 embedded.error().message.c_str());

        const cpu::BatchToken late{.token = 3, .pos = 8, .cache = &upper, .want_logits = true};
        auto full = forward.run_from({&late, 1}, 1, residual.data(), logits.data());
        QVERIFY(!full);
        QCOMPARE(full.error().code, ErrorCode::context_full);
    }

    // A cache from a first layer holds (n_layer - first) / n_layer of the cells, addressed
    // by absolute layer, and copies between such caches copy the layers held.
    void kv_cache_over_a_layer_subset() {
        for (KvCacheType type : {KvCacheType::f16, KvCacheType::q8_0}) {
            const cpu::KvCache full(30, 64, 192, 192, type);
            for (uint32_t first : {0u, 1u, 15u, 29u, 30u}) {
                const cpu::KvCache part(30, 64, 192, 192, type, first);
                QCOMPARE(part.first_layer(), first);
                QCOMPARE(part.bytes() * 30, full.bytes() * (30 - first));
                QCOMPARE(part.same_layout(full), first == 0);
                QVERIFY(part.holds_layers(first, 30));
                QCOMPARE(part.holds_layers(0, 30), first == 0);
            }
            QCOMPARE(cpu::KvCache(30, 64, 192, 192, type, 31).bytes(), uint64_t{0}); // clamped
        }
        cpu::KvCache a(4, 16, 32, 32, KvCacheType::f16, 2);
        cpu::KvCache b(4, 16, 32, 32, KvCacheType::f16, 2);
        std::vector<float> k(32), v(32);
        for (uint32_t layer = 2; layer < 4; ++layer) {
            for (uint32_t pos = 0; pos < 16; ++pos) {
                std::fill(k.begin(), k.end(), float(layer * 100 + pos));
                std::fill(v.begin(), v.end(), -float(layer * 100 + pos));
                a.store(layer, pos, k.data(), v.data());
            }
        }
        QVERIFY(a.k_row(3, 0) - a.k_row(2, 0) == ptrdiff_t(16 * a.k_row_bytes()));
        b.copy_cells_from(a, 0, 5);
        for (uint32_t layer = 2; layer < 4; ++layer) {
            QVERIFY(std::memcmp(b.k_row(layer, 0), a.k_row(layer, 0), 5 * a.k_row_bytes()) == 0);
            QVERIFY(std::memcmp(b.v_row(layer, 0), a.v_row(layer, 0), 5 * a.v_row_bytes()) == 0);
            QVERIFY(std::memcmp(b.k_row(layer, 5), a.k_row(layer, 5), a.k_row_bytes()) != 0);
        }
    }

    // ModelInfo's per-layer split of the weights, on the default model.
    void model_info_splits_the_weights() {
        HEARTH_REQUIRE_DEFAULT_MODEL(path);
        auto model = load(path);
        QVERIFY(model);
        const ModelInfo& info = model->info();
        QCOMPARE(info.layer_weight_bytes.size(), size_t{info.n_layer});
        uint64_t sum = info.non_layer_weight_bytes;
        for (uint64_t bytes : info.layer_weight_bytes) {
            QVERIFY(bytes > 0);
            sum += bytes;
        }
        QCOMPARE(sum, info.weights_bytes);
        // The rest is the embedding table (tied to the output), 49152 x 576 in Q8_0 (34 bytes
        // per 32 values), and the F32 output norm.
        QCOMPARE(info.non_layer_weight_bytes, uint64_t{49152} * 576 / 32 * 34 + 576 * 4);
    }

    void plan_all_layers_fit() {
        auto plan = plan_offload(planned_model(), {.gpu_free_bytes = 8192 * kMiB});
        QVERIFY2(plan, plan ? "" : plan.error().message.c_str());
        QCOMPARE(plan->n_gpu_layers, 4u);
        QCOMPARE(plan->max_gpu_layers, 4u);
        QCOMPARE(plan->n_ctx, 1024u);
        QCOMPARE(plan->gpu.weights, 400 * kMiB);
        QCOMPARE(plan->gpu.kv, 4 * kGpuKvPerLayer);
        QCOMPARE(kGpuScratch, uint64_t{115968});
        QCOMPARE(plan->gpu.scratch, kGpuScratch);
        QCOMPARE(plan->cpu.weights, 50 * kMiB);
        QCOMPARE(plan->cpu.kv, uint64_t{0});
        QCOMPARE(plan->cpu.scratch, kCpuScratch);
        QCOMPARE(plan->gpu_headroom_bytes, kHeadroom);
    }

    void plan_no_layer_fits() {
        // Less than one layer's 100 MiB above the headroom.
        auto plan = plan_offload(planned_model(), {.gpu_free_bytes = kHeadroom + 100 * kMiB});
        QVERIFY2(plan, plan ? "" : plan.error().message.c_str());
        QCOMPARE(plan->n_gpu_layers, 0u);
        QCOMPARE(plan->gpu.total(), uint64_t{0}); // an unused GPU needs no scratch either
        QCOMPARE(plan->cpu.weights, 450 * kMiB);
        QCOMPARE(plan->cpu.kv, 4 * uint64_t{1024} * (128 + 128) * 2);
        QCOMPARE(QString::fromStdString(plan->summary),
                 QString("0 of 4 layers on the GPU (0 B), 4 on the CPU (456.52 MiB)"));
    }

    // Two layers need exactly the free memory: they fit; one byte less, one layer does.
    void plan_at_the_boundary() {
        const uint64_t two_layers = 2 * (100 * kMiB + kGpuKvPerLayer) + kGpuScratch + kHeadroom;
        auto plan = plan_offload(planned_model(), {.gpu_free_bytes = two_layers});
        QVERIFY2(plan, plan ? "" : plan.error().message.c_str());
        QCOMPARE(plan->n_gpu_layers, 2u);
        QCOMPARE(plan->gpu.total() + plan->gpu_headroom_bytes, two_layers);
        // 200 MiB + 1 MiB + 115,968 B on the GPU; 50 + 200 + 1 MiB + 4,738,976 B on the CPU.
        QCOMPARE(QString::fromStdString(plan->summary),
                 QString("2 of 4 layers on the GPU (201.11 MiB), 2 on the CPU (255.52 MiB)"));
        auto less = plan_offload(planned_model(), {.gpu_free_bytes = two_layers - 1});
        QVERIFY(less);
        QCOMPARE(less->n_gpu_layers, 1u);
        QCOMPARE(less->gpu.weights, 100 * kMiB);
        QCOMPARE(less->cpu.weights, 350 * kMiB);
    }

    // gemma4: layer 3 reads layer 1's cache. A cut at 2 or 3 would leave it on the CPU without
    // those cells: the plan takes 1 layer where 2 or 3 fit, and all 4 where they do.
    void plan_does_not_cut_shared_caches() {
        ModelInfo info = planned_model();
        const LayerShape own{.n_head = 4, .n_head_kv = 2, .head_dim = 64, .n_rot = 64, .n_ff = 512};
        info.layer_shapes.assign(4, own);
        for (uint32_t il = 0; il < 4; ++il) {
            info.layer_shapes[il].kv_layer = il == 3 ? 1 : il;
        }
        QVERIFY(info.kv_cut_allowed(0) && info.kv_cut_allowed(1) && info.kv_cut_allowed(4));
        QVERIFY(!info.kv_cut_allowed(2) && !info.kv_cut_allowed(3));
        for (const uint64_t layers : {2, 3}) {
            const uint64_t free = layers * (100 * kMiB + kGpuKvPerLayer) + kGpuScratch + kHeadroom;
            auto plan = plan_offload(info, {.gpu_free_bytes = free});
            QVERIFY2(plan, plan ? "" : plan.error().message.c_str());
            QCOMPARE(plan->max_gpu_layers, 1u);
            QCOMPARE(plan->n_gpu_layers, 1u);
        }
        auto all = plan_offload(info, {.gpu_free_bytes = 8192 * kMiB});
        QVERIFY(all);
        QCOMPARE(all->n_gpu_layers, 4u);
    }

    void plan_override() {
        const uint64_t two_layers = 2 * (100 * kMiB + kGpuKvPerLayer) + kGpuScratch + kHeadroom;
        // Fewer than fit, and more than the model has (clamped).
        auto one = plan_offload(planned_model(), {.gpu_free_bytes = two_layers, .n_gpu_layers = 1});
        QVERIFY(one);
        QCOMPARE(one->n_gpu_layers, 1u);
        QCOMPARE(one->max_gpu_layers, 2u);
        auto all =
            plan_offload(planned_model(), {.gpu_free_bytes = 8192 * kMiB, .n_gpu_layers = 99});
        QVERIFY(all);
        QCOMPARE(all->n_gpu_layers, 4u);
        // Too many: the arithmetic and the most that fit; no smaller context helps, the
        // weights alone are too large.
        auto three =
            plan_offload(planned_model(), {.gpu_free_bytes = two_layers, .n_gpu_layers = 3});
        QVERIFY(!three);
        QCOMPARE(three.error().code, ErrorCode::out_of_memory);
        const QString message = QString::fromStdString(three.error().message);
        QVERIFY2(message.startsWith("3 layers on the GPU need 813.61 MiB: weights 300.00 MiB + "
                                    "KV cache 1.50 MiB (1024 tokens x 1 sequences) + scratch "
                                    "113.25 KiB + headroom 512.00 MiB, but 713.11 MiB is free; "
                                    "at most 2 layers fit"),
                 qPrintable(message));
        QVERIFY2(!message.contains("context"), qPrintable(message));
    }

    // Four sequences: four times the KV cache per layer (2 MiB), and a context at which the
    // requested layers would fit.
    void plan_several_sequences() {
        const ModelInfo info = planned_model(1 * kMiB);
        const uint64_t kv = 4 * kGpuKvPerLayer;
        const uint64_t two_layers = 2 * (1 * kMiB + kv) + kGpuScratch + kHeadroom;
        auto plan = plan_offload(info, {.n_seq = 4, .gpu_free_bytes = two_layers});
        QVERIFY2(plan, plan ? "" : plan.error().message.c_str());
        QCOMPARE(plan->n_gpu_layers, 2u);
        QCOMPARE(plan->gpu.kv, 2 * kv);
        QCOMPARE(plan->gpu.scratch, kGpuScratch); // R rows, whatever the sequences
        QCOMPARE(plan->cpu.kv, 2 * kv);
        QCOMPARE(plan->cpu.scratch, kCpuScratch + 4 * 3 * 1000); // a row of logits each
        // All four layers at a context of c tokens: 4 MiB of weights + 4 x 2048 B of KV per
        // token + a scratch of 82,176 B + 8,448 B per 256-token chunk of attention partials,
        // within 6 MiB + 115,968 B: 8192·c + 8448·ceil(c/256) <= 2,130,944 up to c = 258.
        auto four =
            plan_offload(info, {.n_seq = 4, .gpu_free_bytes = two_layers, .n_gpu_layers = 4});
        QVERIFY(!four);
        QCOMPARE(four.error().code, ErrorCode::out_of_memory);
        QVERIFY2(four.error().message.ends_with(
                     "at most 2 layers fit, or 4 at a context of at most 258 tokens"),
                 four.error().message.c_str());
        auto at_258 = plan_offload(
            info, {.n_ctx = 258, .n_seq = 4, .gpu_free_bytes = two_layers, .n_gpu_layers = 4});
        QVERIFY2(at_258, at_258 ? "" : at_258.error().message.c_str());
        auto at_259 = plan_offload(
            info, {.n_ctx = 259, .n_seq = 4, .gpu_free_bytes = two_layers, .n_gpu_layers = 4});
        QVERIFY(!at_259);
    }

    // With host memory checked: the CPU part must fit too, which takes the fewest GPU layers.
    void plan_host_memory() {
        // Two CPU layers with their F16 KV cache (as large as the GPU's here), and the rest.
        const uint64_t host = 50 * kMiB + 2 * (100 * kMiB + kGpuKvPerLayer) + kCpuScratch;
        const uint64_t two_layers = 2 * (100 * kMiB + kGpuKvPerLayer) + kGpuScratch + kHeadroom;
        auto ok = plan_offload(planned_model(),
                               {.gpu_free_bytes = 8192 * kMiB, .host_available_bytes = host});
        QVERIFY(ok);
        QCOMPARE(ok->n_gpu_layers, 4u);
        // Asked for no GPU layer: the CPU part needs two fewer layers.
        auto none = plan_offload(
            planned_model(),
            {.gpu_free_bytes = 8192 * kMiB, .host_available_bytes = host, .n_gpu_layers = 0});
        QVERIFY(!none);
        QCOMPARE(none.error().code, ErrorCode::out_of_memory);
        QVERIFY2(none.error().message.ends_with("at least 2 layers on the GPU would fit"),
                 none.error().message.c_str());
        // One byte short of two GPU layers: neither side fits at 1024 tokens; at 1023 the two
        // layers' KV cache is 1 KiB smaller, and both do.
        auto tight = plan_offload(planned_model(),
                                  {.gpu_free_bytes = two_layers - 1, .host_available_bytes = host});
        QVERIFY(!tight);
        QVERIFY2(tight.error().message.starts_with("with 1 layers on the GPU, the CPU part needs"),
                 tight.error().message.c_str());
        QVERIFY2(tight.error().message.ends_with(
                     "at least 2 layers on the GPU would fit, but at most 1 fit the GPU; a "
                     "context of at most 1023 tokens would"),
                 tight.error().message.c_str());
        // The embeddings alone are larger than the host memory.
        auto tiny = plan_offload(planned_model(),
                                 {.gpu_free_bytes = 8192 * kMiB, .host_available_bytes = kMiB});
        QVERIFY(!tiny);
        QVERIFY2(tiny.error().message.ends_with("no split fits; no context would"),
                 tiny.error().message.c_str());
    }

    // hearth-cli info --gpu-free: the plan for that much free GPU memory, as plan_offload
    // makes it. SmolLM2-135M at 8192 tokens: 30 layers of 2.11 MiB of weights and 6 MiB of KV
    // cache (8192 x 3 KV heads x 64 x 2 (K, V) x 2 bytes); 600 MiB free less 512 MiB of
    // headroom and 792.25 KiB of scratch leaves 87.2 MiB, 10 layers' worth.
    void cli_info_prints_the_plan() {
        HEARTH_REQUIRE_DEFAULT_MODEL(path);
        const QString model = test::default_model_arg();
        const auto result =
            test::run_cli({"info", model, "--ctx", "8192", "--gpu-free", "600MiB", "--json"});
        QVERIFY2(result.exit_code == 0, result.err.constData());
        const auto out = nlohmann::json::parse(result.out.toStdString());
        const auto& offload = out["offload"];
        QCOMPARE(offload["n_gpu_layers"].get<uint32_t>(), 10u);
        QCOMPARE(offload["gpu_free_bytes"].get<uint64_t>(), 600 * kMiB);
        auto loaded = load(path);
        QVERIFY(loaded);
        auto plan = plan_offload(loaded->info(), {.n_ctx = 8192, .gpu_free_bytes = 600 * kMiB});
        QVERIFY(plan);
        QCOMPARE(offload["summary"].get<std::string>(), plan->summary);
        QCOMPARE(offload["gpu"]["kv_bytes"].get<uint64_t>(), 10 * 6 * kMiB);

        const auto text = test::run_cli(
            {"info", model, "--ctx", "8192", "--gpu-free", "600MiB", "--gpu-layers", "25"});
        QVERIFY2(text.exit_code == 0, text.err.constData());
        QVERIFY2(text.out.contains("will not fit           25 layers on the GPU need") &&
                     text.out.contains("at most 10 layers fit"),
                 text.out.constData());
        test::expect_cli_usage_error({"info", model, "--gpu-free", "4x"},
                                     "--gpu-free: expected a size such as 4GiB");
        test::expect_cli_usage_error({"info", model, "--gpu-layers", "3"},
                                     "--gpu-layers needs --gpu-free");
    }

    void plan_needs_layer_sizes() {
        ModelInfo info = planned_model();
        info.layer_weight_bytes.clear();
        auto plan = plan_offload(info, {.gpu_free_bytes = 8192 * kMiB});
        QVERIFY(!plan);
        QCOMPARE(plan.error().code, ErrorCode::invalid_argument);
        QVERIFY2(plan.error().message.find("per-layer weight sizes") != std::string::npos,
                 plan.error().message.c_str());
    }
};

QTEST_APPLESS_MAIN(TestPartialOffload)
#include "tst_partial_offload.moc"
