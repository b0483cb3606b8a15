// gemma4 beyond its logits (tst_architectures): the KV cache and the memory plan sized layer by
// layer, the shared layers writing no cells of their own, `hearth-cli info`'s arithmetic per
// kind of layer, and what a sequence does with the cache (rewinding, a Q8_0 cache refused);
// for the mixture-of-experts model (gemma4_moe.gguf), `info`'s experts at their share.
// On tests/data/arch/gemma4.gguf: layers 0 (sliding, 2 KV heads of 16) and 1 (global, 2 KV
// heads of 32) keep caches; layers 2 and 3 read theirs.
#include "cpu/kv_cache.h"
#include "hearth/memory_plan.h"
#include "hearth/model.h"
#include "hearth/session.h"
#include "test_support.h"

#include <QtTest>
#include <nlohmann/json.hpp>

using namespace hearth;

class TestGemma4 : public QObject {
    Q_OBJECT

    std::shared_ptr<const Model> m_model;
    const std::filesystem::path m_path = test::data_dir() / "arch" / "gemma4.gguf";

private slots:
    void initTestCase() {
        auto model = Model::load(m_path, {.n_threads = 1, .on_progress = {}});
        QVERIFY2(model, model ? "" : model.error().message.c_str());
        m_model = *model;
    }

    void layer_shapes_follow_the_file() {
        const ModelInfo& info = m_model->info();
        QCOMPARE(info.layer_shapes.size(), size_t{4});
        const uint32_t head_dims[] = {16, 32, 16, 32};
        const uint32_t kv_layers[] = {0, 1, 0, 1};
        const uint32_t n_ff[] = {64, 64, 128, 128};
        for (uint32_t il = 0; il < 4; ++il) {
            const LayerShape& s = info.layer_shapes[il];
            QCOMPARE(s.sliding, il % 2 == 0);
            QCOMPARE(s.head_dim, head_dims[il]);
            QCOMPARE(s.n_rot, head_dims[il]);
            QCOMPARE(s.n_head_kv, 2u);
            QCOMPARE(s.kv_layer, kv_layers[il]);
            QCOMPARE(s.n_ff, n_ff[il]);
            QCOMPARE(info.kv_layer(il), kv_layers[il]);
        }
        // The uniform sizes are the largest layer's: they size the shared buffers.
        QCOMPARE(info.head_dim_k, 32u);
        QCOMPARE(info.n_ff, 128u);
        QCOMPARE(info.n_embd_per_layer, 8u);
        // A token reads one row of per_layer_token_embd (268 rows of 4 × 8 floats), not all.
        const GgufTensorInfo* table = m_model->file().find_tensor("per_layer_token_embd.weight");
        QVERIFY(table);
        QVERIFY(info.active_weight_bytes < info.weights_bytes - table->n_bytes + 32 * 4 + 1);
    }

    void memory_counts_only_the_layers_that_keep_a_cache() {
        const ModelInfo& info = m_model->info();
        // Layer 0: 2 × 16 keys and as many values; layer 1: 2 × 32 of each. Layers 2 and 3 add
        // nothing (all four at their own sizes would be 384).
        QCOMPARE(info.kv_elements_per_token(), uint64_t{2 * 32 + 2 * 64});
        const MemoryPlan plan = plan_memory(info, {.n_ctx = 40});
        QCOMPARE(plan.kv_bytes_per_token, 2.0 * 192);
        QCOMPARE(plan.kv_bytes, uint64_t{40 * 2 * 192});
        // The cache a session allocates is what the plan says.
        auto session = Session::create(m_model, {.n_ctx = 40});
        QVERIFY2(session, session ? "" : session.error().message.c_str());
        QCOMPARE(session->kv_cache_bytes(), plan.kv_bytes);
    }

    void shared_layers_address_their_owners_cells() {
        const ModelInfo& info = m_model->info();
        cpu::KvCache cache(info, 8);
        QCOMPARE(cache.bytes(), uint64_t{8 * 2 * 192});
        QCOMPARE(cache.k_row_bytes(0), size_t{32 * 2});
        QCOMPARE(cache.k_row_bytes(1), size_t{64 * 2});
        for (uint32_t pos : {0u, 5u}) {
            QCOMPARE(cache.k_row(2, pos), cache.k_row(0, pos));
            QCOMPARE(cache.v_row(3, pos), cache.v_row(1, pos));
            QVERIFY(cache.k_row(1, pos) != cache.k_row(0, pos));
        }
        // Layer 1's cells start after all of layer 0's (no overlap between owners).
        QCOMPARE(cache.k_row(1, 0) - cache.k_row(0, 0), ptrdiff_t{8 * 32 * 2});
        // A copy between caches skips the readers and copies the owners.
        std::vector<float> k(64, 1.5f), v(64, -0.5f);
        cache.store(1, 3, k.data(), v.data());
        cpu::KvCache other(info, 8);
        QVERIFY(other.same_layout(cache));
        other.copy_cells_from(cache, 0, 4);
        QCOMPARE(std::memcmp(other.k_row(3, 3), cache.k_row(1, 3), 64 * 2), 0);
    }

    void reused_prefix_reproduces_the_generation() {
        // A second prompt that shares only a prefix with the first rewrites the cells past it;
        // the shared layers must read the owners' new cells, not stale ones: the greedy
        // continuation is then the one a fresh session makes.
        SamplingParams greedy;
        greedy.temperature = 0.0f;
        greedy.repeat_penalty = 1.0f;
        const std::vector<int32_t> first = {5, 17, 42, 99, 3, 7, 250, 11, 64, 128};
        const std::vector<int32_t> second = {5, 17, 42, 99, 200, 201, 202, 30};
        auto run = [&](Session& session, const std::vector<int32_t>& prompt) {
            std::vector<int32_t> out;
            auto stats = session.generate(prompt, greedy, {.max_tokens = 12, .stop_strings = {}},
                                          [&](const TokenEvent& e) {
                                              if (e.token >= 0) {
                                                  out.push_back(e.token);
                                              }
                                              return true;
                                          });
            return stats ? out : std::vector<int32_t>{-1};
        };
        auto reused = Session::create(m_model, {.n_ctx = 40});
        auto fresh = Session::create(m_model, {.n_ctx = 40});
        QVERIFY(reused && fresh);
        QCOMPARE(run(*reused, first).size(), size_t{12});
        const std::vector<int32_t> expected = run(*fresh, second);
        QCOMPARE(expected.size(), size_t{12});
        QCOMPARE(run(*reused, second), expected);
        QVERIFY(reused->n_tokens_computed() < first.size() + 12 + second.size() + 12);
    }

    void q8_0_cache_needs_heads_of_32() {
        // The sliding layers' heads of 16 cannot be Q8_0 blocks: refused, naming the F16 way.
        auto session = Session::create(m_model, {.n_ctx = 32, .kv_type = KvCacheType::q8_0});
        QVERIFY(!session);
        QCOMPARE(session.error().code, ErrorCode::unsupported);
        QVERIFY2(session.error().message.find("use an F16 cache") != std::string::npos,
                 session.error().message.c_str());
    }

    void cli_info_prints_each_kind_of_layer() {
        const QString path = QString::fromStdString(m_path.string());
        const auto text = test::run_cli({"info", path, "--ctx", "40"});
        QVERIFY2(text.exit_code == 0, text.err.constData());
        QVERIFY2(text.out.contains("KV cache per token     384 B"), text.out.constData());
        QVERIFY2(text.out.contains("sliding-window       128 B  (1 of 2 layers keep one: 2 × 2 "
                                   "KV heads × 16 head size"),
                 text.out.constData());
        QVERIFY2(text.out.contains("global               256 B  (1 of 2 layers keep one: 2 × 2 "
                                   "KV heads × 32 head size"),
                 text.out.constData());
        QVERIFY2(text.out.contains("layers 2, 3 read the caches of layers 0, 1"),
                 text.out.constData());
        const auto json = test::run_cli({"info", path, "--ctx", "40", "--json"});
        QVERIFY2(json.exit_code == 0, json.err.constData());
        const auto out = nlohmann::json::parse(json.out.toStdString());
        const auto& kinds = out["memory"]["layer_kinds"];
        QCOMPARE(kinds["kinds"].size(), size_t{2});
        QCOMPARE(kinds["kinds"][1]["kv_bytes_per_token"].get<double>(), 256.0);
        QCOMPARE(kinds["shared_kv"]["3"].get<uint32_t>(), 1u);
        QCOMPARE(out["memory"]["kv_bytes"].get<uint64_t>(), uint64_t{40 * 384});
    }

    void cli_info_counts_the_routed_experts() {
        // tests/data/arch/gemma4_moe.gguf (the 26B-A4B's layout): 3 layers, each with a dense
        // feed-forward of 64 beside 8 experts of 16 (gate and up fused, F32), 2 per token. An
        // expert is 3 × 16 × 64 floats; a token reads 2 of the 8 in each layer.
        const QString path =
            QString::fromStdString((test::data_dir() / "arch" / "gemma4_moe.gguf").string());
        const auto text = test::run_cli({"info", path});
        QVERIFY2(text.exit_code == 0, text.err.constData());
        QVERIFY2(text.out.contains("feed-forward size      64\n"), text.out.constData());
        QVERIFY2(text.out.contains("experts                8 per layer, 2 routed per token, 16 "
                                   "wide; 288.00 KiB of weights (72.00 KiB a token)"),
                 text.out.constData());
        QVERIFY2(text.out.contains("(the experts at 2 of 8)"), text.out.constData());
        const auto json = test::run_cli({"info", path, "--json"});
        QVERIFY2(json.exit_code == 0, json.err.constData());
        const auto out = nlohmann::json::parse(json.out.toStdString());
        constexpr uint64_t kExpertBytes = 3 * 16 * 64 * 4;
        QCOMPARE(out["experts"]["bytes"].get<uint64_t>(), 3 * 8 * kExpertBytes);
        // The dense parts are read whole, the experts at 2 of 8.
        const auto active = out["active_weight_bytes"].get<uint64_t>();
        auto model = Model::load(test::data_dir() / "arch" / "gemma4_moe.gguf",
                                 {.n_threads = 1, .on_progress = {}});
        QVERIFY(model);
        const ModelInfo& info = (*model)->info();
        QCOMPARE(active, info.active_weight_bytes);
        QVERIFY(active + 3 * 6 * kExpertBytes <= info.weights_bytes);
        QVERIFY(active + 3 * 6 * kExpertBytes > info.weights_bytes - info.weights_bytes / 10);
    }
};

QTEST_GUILESS_MAIN(TestGemma4)
#include "tst_gemma4.moc"
