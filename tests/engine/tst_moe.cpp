// Mixture-of-experts on the CPU (issue 17): the routing arithmetic against its definition;
// that a decoded token reads only its routed experts and a prompt batch reads each selected
// expert once (the forward pass's MoeTraffic counter, checked against the bytes the header
// says a token reads); and llama.cpp's greedy tokens on the random-weight MoE models of
// tests/data/arch/ (made by scripts/gen-arch-reference.py, which records them in index.json).
#include "cpu/moe_ffn.h"
#include "gguf_builder.h"
#include "hearth/batch_generation.h"
#include "hearth/memory_plan.h"
#include "hearth/model.h"
#include "hearth/session.h"
#include "model/model_impl.h"
#include "session/session_impl.h"
#include "test_support.h"

#include <QTemporaryDir>
#include <QtTest>
#include <algorithm>
#include <cmath>
#include <fstream>
#include <nlohmann/json.hpp>
#include <numeric>
#include <utility>

using namespace hearth;

Q_DECLARE_METATYPE(Routing)

namespace {

std::filesystem::path arch_model(const char* name) {
    return test::data_dir() / "arch" / (std::string(name) + ".gguf");
}

nlohmann::json arch_index() {
    std::ifstream in(test::data_dir() / "arch" / "index.json");
    return in ? nlohmann::json::parse(in) : nlohmann::json();
}

uint64_t matrix_bytes(const cpu::WeightMatrix& w) {
    return uint64_t(w.n_rows) * w.row_bytes;
}

// What one decoded token multiplies with, from the bound weights: the layers' attention
// matrices and routers (or dense feed-forward), qwen35moe's delta-net matrices and shared
// expert, gemma4's dense feed-forward beside its experts and per-layer embedding matrices (one
// row of its table), the output head, one embedding row; the experts apart. The delta-net's
// convolution taps are converted to float32 at load but, as a 2-D tensor of the file, counted
// at their (float32) size in the file. gemma4's V, where it is K's projection, is not a tensor.
uint64_t dense_bytes_per_token(const Model::Impl& m) {
    uint64_t bytes = matrix_bytes(m.output) + m.token_embd.row_bytes;
    if (m.gemma4.token_embd.data) {
        bytes += m.gemma4.token_embd.row_bytes + matrix_bytes(m.gemma4.model_proj);
    }
    for (const LayerWeights& L : m.layers) {
        const ExpertWeights& e = L.experts;
        const cpu::DeltaNetWeights& d = L.delta;
        for (const auto* w :
             {&L.wq, &L.wk, &L.wv, &L.wo, &L.w_gate, &L.w_up, &L.w_down, &e.router,
              &e.shared_gate_inp, &e.shared_gate, &e.shared_up, &e.shared_down, &d.w_qkv, &d.w_z,
              &d.w_beta, &d.w_alpha, &d.w_out, &L.ple_gate, &L.ple_proj}) {
            const bool v_is_k = w == &L.wv && L.v_from_k;
            bytes += w->data && !v_is_k ? matrix_bytes(*w) : 0;
        }
        bytes += d.conv.size() * sizeof(float);
    }
    return bytes;
}

} // namespace

class TestMoe : public QObject {
    Q_OBJECT

private slots:
    void routing_matches_its_definition_data() {
        QTest::addColumn<std::vector<float>>("logits");
        QTest::addColumn<int>("n_used");
        QTest::addColumn<Routing>("routing");
        const std::vector<float> eight{0.3f, -1.2f, 2.5f, 0.9f, 2.4f, -0.1f, 1.7f, 0.0f};
        std::vector<float> twenty(20);
        for (size_t i = 0; i < twenty.size(); ++i) {
            twenty[i] = 80.0f * std::sin(float(i) * 1.7f);
        }
        QTest::newRow("8 experts, top 3") << eight << 3 << Routing::softmax_top_k;
        QTest::newRow("gpt-oss: 8 experts, top 3") << eight << 3 << Routing::top_k_softmax;
        QTest::newRow("top 1 of 4")
            << std::vector<float>{-3.0f, 1.0f, 0.5f, 0.9f} << 1 << Routing::softmax_top_k;
        QTest::newRow("all 5 used")
            << std::vector<float>{1, 2, 3, 4, 5} << 5 << Routing::softmax_top_k;
        QTest::newRow("20 experts with large logits (the softmax's max shift)")
            << twenty << 4 << Routing::softmax_top_k;
        QTest::newRow("gpt-oss: 20 experts with large logits")
            << twenty << 4 << Routing::top_k_softmax;
    }

    void routing_matches_its_definition() {
        QFETCH(std::vector<float>, logits);
        QFETCH(int, n_used);
        QFETCH(Routing, routing);
        // Both routings pick the same experts (the softmax keeps the order), and weigh them
        // p_s / Σ_S p either way: a softmax over the chosen logits gives the same ratios.
        const int n = static_cast<int>(logits.size());
        // In double: p = softmax(logits); the n_used largest, largest first; p / Σ p.
        std::vector<double> p(logits.begin(), logits.end());
        const double max = *std::ranges::max_element(p);
        double sum = 0;
        for (double& v : p) {
            v = std::exp(v - max);
            sum += v;
        }
        std::vector<int> order(static_cast<size_t>(n));
        std::iota(order.begin(), order.end(), 0);
        std::ranges::stable_sort(order, [&](int a, int b) { return p[a] > p[b]; });
        double top_sum = 0;
        for (int s = 0; s < n_used; ++s) {
            top_sum += p[order[s]] / sum;
        }

        std::vector<float> work = logits;
        std::vector<int32_t> selected(static_cast<size_t>(n_used));
        std::vector<float> weights(static_cast<size_t>(n_used));
        cpu::route_token(routing, work.data(), n, n_used, selected.data(), weights.data());
        double weight_sum = 0;
        for (int s = 0; s < n_used; ++s) {
            QCOMPARE(selected[s], order[s]);
            const double expected = p[order[s]] / sum / top_sum;
            QVERIFY2(std::abs(weights[s] - expected) <= 1e-6 * std::max(1.0, expected),
                     qPrintable(QString("slot %1: weight %2, expected %3")
                                    .arg(s)
                                    .arg(weights[s])
                                    .arg(expected)));
            weight_sum += weights[s];
        }
        QVERIFY(std::abs(weight_sum - 1.0) < 1e-6);
    }

    void routing_survives_nan_logits() {
        // NaN weights in a file give NaN router logits: the routing still picks n_used
        // distinct experts in range (the output is NaN, as llama.cpp's would be) and never
        // reads outside its arrays.
        for (const Routing routing : {Routing::softmax_top_k, Routing::top_k_softmax}) {
            std::vector<float> logits(64, NAN);
            logits[5] = 1.0f;
            logits[40] = 2.0f;
            std::vector<int32_t> selected(8);
            std::vector<float> weights(8);
            cpu::route_token(routing, logits.data(), 64, 8, selected.data(), weights.data());
            std::ranges::sort(selected);
            QVERIFY(std::ranges::adjacent_find(selected) == selected.end());
            QVERIFY(selected.front() >= 0 && selected.back() < 64);
        }
    }

    void routing_breaks_ties_to_the_lower_index() {
        // moe::ranks_before: equal scores go to the lower index, so the choice is one answer
        // whatever sorts it (the CUDA router's is the same). 40 experts: past the 16 that
        // std::sort orders by a stable insertion sort.
        for (const Routing routing : {Routing::softmax_top_k, Routing::top_k_softmax}) {
            std::vector<float> logits(40, 0.25f);
            logits[31] = 1.0f;
            logits[9] = logits[23] = 0.5f;
            std::vector<int32_t> selected(8);
            std::vector<float> weights(8);
            cpu::route_token(routing, logits.data(), 40, 8, selected.data(), weights.data());
            QCOMPARE(selected, (std::vector<int32_t>{31, 9, 23, 0, 1, 2, 3, 4}));
        }
    }

    void decode_reads_only_the_routed_experts() {
        for (const char* name : {"qwen3moe", "qwen3moe_q8_0", "gpt_oss", "llama_moe", "qwen35moe",
                                 "qwen35moe_q8_0", "gemma4_moe", "gemma4_moe_q8_0"}) {
            auto model = Model::load(arch_model(name), {.n_threads = 2, .on_progress = {}});
            QVERIFY2(model, model ? "" : model.error().message.c_str());
            const ModelInfo& info = (*model)->info();
            const Model::Impl& m = (*model)->impl();
            QVERIFY(info.n_expert > info.n_expert_used);
            const uint64_t per_expert = m.layers[0].experts.bytes_per_expert();
            QVERIFY(per_expert > 0);
            // The header's arithmetic and the bound weights agree on what a token reads.
            QCOMPARE(info.expert_weight_bytes, uint64_t{info.n_layer} * info.n_expert * per_expert);
            QCOMPARE(info.active_weight_bytes, dense_bytes_per_token(m) + uint64_t{info.n_layer} *
                                                                              info.n_expert_used *
                                                                              per_expert);

            auto session = Session::create(*model, {.n_ctx = 64});
            QVERIFY2(session, session ? "" : session.error().message.c_str());
            const cpu::MoeTraffic& traffic = SessionAccess::impl(*session).forward.moe_traffic();
            const std::vector<int32_t> tokens = {5, 77, 260, 12, 199, 40, 3, 101};
            for (size_t i = 0; i < tokens.size(); ++i) {
                const cpu::MoeTraffic before = traffic;
                QVERIFY(session->append(std::span(tokens).subspan(i, 1)));
                // Each layer: the token's n_expert_used distinct experts, each read once.
                QCOMPARE(traffic.expert_loads - before.expert_loads,
                         uint64_t{info.n_layer} * info.n_expert_used);
                QCOMPARE(traffic.expert_bytes - before.expert_bytes,
                         info.expert_weight_bytes / info.n_expert * info.n_expert_used);
                QCOMPARE(traffic.routed_tokens - before.routed_tokens, uint64_t{info.n_layer});
            }
            qInfo("%s: a decoded token reads %llu of %llu expert bytes, %llu bytes of weights in "
                  "all",
                  name,
                  static_cast<unsigned long long>(info.expert_weight_bytes / info.n_expert *
                                                  info.n_expert_used),
                  static_cast<unsigned long long>(info.expert_weight_bytes),
                  static_cast<unsigned long long>(info.active_weight_bytes));
        }
    }

    void prefill_reads_each_selected_expert_once() {
        auto model = Model::load(arch_model("qwen3moe"), {.n_threads = 2, .on_progress = {}});
        QVERIFY2(model, model ? "" : model.error().message.c_str());
        const ModelInfo& info = (*model)->info();
        const uint64_t per_expert = (*model)->impl().layers[0].experts.bytes_per_expert();
        auto session = Session::create(*model, {.n_ctx = 64});
        QVERIFY(session);
        std::vector<int32_t> tokens(32);
        for (size_t i = 0; i < tokens.size(); ++i) {
            tokens[i] = static_cast<int32_t>((i * 37 + 11) % info.n_vocab);
        }
        QVERIFY(session->append(tokens));
        const cpu::MoeTraffic& traffic = SessionAccess::impl(*session).forward.moe_traffic();
        // One batch: each layer reads each expert some token chose once, not once per token
        // (32 tokens × 3 routed = 96 uses a layer, over 8 experts).
        QCOMPARE(traffic.routed_tokens, uint64_t{info.n_layer} * tokens.size());
        QVERIFY(traffic.expert_loads >= uint64_t{info.n_layer} * info.n_expert_used);
        QVERIFY2(traffic.expert_loads <= uint64_t{info.n_layer} * info.n_expert,
                 qPrintable(QString("%1 expert loads").arg(traffic.expert_loads)));
        QCOMPARE(traffic.expert_bytes, traffic.expert_loads * per_expert);
    }

    void qwen35moe_memory_and_parameters() {
        // The hybrid MoE: a recurrent state per sequence for its delta-net layers, a KV cache for
        // its attention layers only; the shared expert counted whole in the active parameters
        // (every token uses it), the routed experts at n_expert_used / n_expert.
        for (const char* name : {"qwen35moe", "qwen35moe_q8_0"}) {
            auto model = Model::load(arch_model(name), {.n_threads = 2, .on_progress = {}});
            QVERIFY2(model, model ? "" : model.error().message.c_str());
            const ModelInfo& info = (*model)->info();
            const bool explicit_widths = std::string(name) == "qwen35moe";
            // qwen35moe states both widths; qwen35moe_q8_0 takes feed_forward_length's.
            QCOMPARE(info.n_ff_exp, explicit_widths ? 8u : info.n_ff / info.n_expert_used);
            QCOMPARE(info.n_ff_shexp, explicit_widths ? 16u : info.n_ff);
            QCOMPARE(info.n_attention_layers(), explicit_widths ? 2u : 1u);

            const MemoryPlan plan = plan_memory(info, {.n_ctx = 64, .n_seq = 2});
            QCOMPARE(plan.kv_bytes_per_token, double(info.n_attention_layers()) * info.n_head_kv *
                                                  (info.head_dim_k + info.head_dim_v) * 2);
            const LinearAttentionInfo& la = info.linear_attention;
            const uint64_t state_per_layer = (uint64_t{la.d_conv - 1} * la.conv_channels() +
                                              uint64_t{la.n_v_heads} * la.d_state * la.d_state) *
                                             sizeof(float);
            QCOMPARE(plan.recurrent_bytes_per_seq,
                     2 * (info.n_layer - info.n_attention_layers()) * state_per_layer);
            auto session = Session::create(*model, {.n_ctx = 64});
            QVERIFY(session);
            QCOMPARE(session->kv_cache_bytes(),
                     uint64_t(plan.kv_bytes_per_token) * 64 + plan.recurrent_bytes_per_seq);

            // Routed experts: n_layer × 3 matrices of n_expert × n_embd × width. The shared
            // expert and its gate input are dense parameters, active for every token.
            const uint64_t routed =
                uint64_t{info.n_layer} * 3 * info.n_expert * info.n_embd * info.n_ff_exp;
            QCOMPARE(info.expert_params, routed);
            QCOMPARE(info.n_active_params,
                     info.n_params - routed + routed / info.n_expert * info.n_expert_used);
            const Model::Impl& m = (*model)->impl();
            for (const LayerWeights& L : m.layers) {
                QVERIFY(L.experts.has_shared_expert());
                QCOMPARE(L.experts.shared_gate.n_rows, int64_t{info.n_ff_shexp});
                QCOMPARE(L.experts.shared_gate_inp.n_rows, int64_t{1});
            }

            // `hearth-cli info --json` reports the same figures.
            const auto cli = test::run_cli(
                {"info", QString::fromStdString(arch_model(name).string()), "--json"});
            QCOMPARE(cli.exit_code, 0);
            const auto json = nlohmann::json::parse(cli.out.toStdString());
            QCOMPARE(json["experts"]["n_ff_shexp"].get<uint32_t>(), info.n_ff_shexp);
            QCOMPARE(json["n_active_params"].get<uint64_t>(), info.n_active_params);
            QCOMPARE(json["active_weight_bytes"].get<uint64_t>(), info.active_weight_bytes);
            QCOMPARE(json["memory"]["recurrent_bytes_per_seq"].get<uint64_t>(),
                     plan_memory(info, {}).recurrent_bytes_per_seq);
        }
    }

    void fused_gate_up_experts_compute_the_same() {
        // llama.cpp's converter may fuse each layer's ffn_gate_exps and ffn_up_exps into one
        // ffn_gate_up_exps (--fuse-gate-up-exps): expert e's gate rows, then its up rows. The
        // same weights fused must give the same logits, and a fused tensor of another width is
        // refused naming it.
        auto original = GgufFile::open(arch_model("qwen35moe"));
        QVERIFY(original);
        std::vector<test::TensorRecord> records;
        std::vector<std::vector<uint8_t>> storage(original->header().tensors.size());
        for (const test::TensorRecord& r : test::tensor_records(*original)) {
            if (r.name.ends_with("ffn_up_exps.weight")) {
                continue; // joined to its gate below
            }
            if (!r.name.ends_with("ffn_gate_exps.weight")) {
                records.push_back(r);
                continue;
            }
            const std::string prefix = r.name.substr(0, r.name.find("ffn_gate_exps"));
            const GgufTensorInfo* up = original->find_tensor(prefix + "ffn_up_exps.weight");
            QVERIFY(up);
            const auto gate_bytes = r.data;
            const auto up_bytes = original->tensor_data(*up);
            const size_t per_expert = gate_bytes.size() / r.dims[2];
            std::vector<uint8_t>& fused = storage[records.size()];
            for (size_t e = 0; e < r.dims[2]; ++e) {
                fused.insert(fused.end(), gate_bytes.begin() + e * per_expert,
                             gate_bytes.begin() + (e + 1) * per_expert);
                fused.insert(fused.end(), up_bytes.begin() + e * per_expert,
                             up_bytes.begin() + (e + 1) * per_expert);
            }
            records.push_back({.name = prefix + "ffn_gate_up_exps.weight",
                               .type = r.type,
                               .dims = {r.dims[0], 2 * r.dims[1], r.dims[2]},
                               .data = fused});
        }
        QTemporaryDir dir;
        const auto path = std::filesystem::path(dir.path().toStdString()) / "fused.gguf";
        test::write_file(path, test::serialize_gguf(original->metadata(), records));
        auto last_logits = [](const std::filesystem::path& file) {
            auto model = Model::load(file, {.n_threads = 2, .on_progress = {}});
            if (!model) {
                qWarning("%s", model.error().message.c_str());
                return std::vector<float>{};
            }
            auto session = Session::create(*model, {.n_ctx = 16});
            const int32_t tokens[] = {5, 77, 260, 12};
            auto logits = session ? session->append(tokens) : Result<std::span<const float>>{};
            return logits ? std::vector<float>(logits->begin(), logits->end())
                          : std::vector<float>{};
        };
        const auto fused = last_logits(path);
        QVERIFY(!fused.empty());
        QCOMPARE(fused, last_logits(arch_model("qwen35moe")));

        auto wrong = records;
        auto target =
            std::ranges::find(wrong, "blk.0.ffn_gate_up_exps.weight", &test::TensorRecord::name);
        QVERIFY(target != wrong.end());
        target->dims = {target->dims[0], target->dims[1] / 2, target->dims[2] * 2};
        const auto wrong_path = std::filesystem::path(dir.path().toStdString()) / "wrong.gguf";
        test::write_file(wrong_path, test::serialize_gguf(original->metadata(), wrong));
        auto refused = Model::load(wrong_path, {.n_threads = 1, .on_progress = {}});
        QVERIFY(!refused);
        QVERIFY2(refused.error().message.find("tensor 'blk.0.ffn_gate_up_exps.weight' has shape") !=
                     std::string::npos,
                 refused.error().message.c_str());
    }

    void qwen35moe_sequences_together_match_each_alone() {
        // Three sequences of the hybrid MoE in one batch (their tokens routed to experts together,
        // each with its own recurrent state) against each generated alone: the same greedy tokens,
        // and the logits after them within the kernels' rounding (1e-3 of their spread; a state or
        // an expert output mixed up between sequences moves them by a large part of it).
        auto model = Model::load(arch_model("qwen35moe"), {.n_threads = 2, .on_progress = {}});
        QVERIFY2(model, model ? "" : model.error().message.c_str());
        const auto all = arch_index()["tokens"].get<std::vector<int32_t>>();
        const std::vector<std::vector<int32_t>> prompts = {{all.begin(), all.begin() + 9},
                                                           {all.begin() + 9, all.begin() + 14},
                                                           {all.begin() + 14, all.begin() + 26}};
        SamplingParams greedy;
        greedy.temperature = 0.0f;
        greedy.repeat_penalty = 1.0f;
        GenerateOptions options;
        options.max_tokens = 6;
        const int32_t probe = 7;
        auto group = Session::create_group(*model, {.n_ctx = 64, .n_batch = 512}, 3);
        QVERIFY2(group, group ? "" : group.error().message.c_str());
        std::vector<std::vector<int32_t>> together(prompts.size());
        std::vector<SequenceRequest> requests;
        for (size_t i = 0; i < prompts.size(); ++i) {
            requests.push_back({.session = &(*group)[i],
                                .prompt = prompts[i],
                                .sampling = greedy,
                                .options = options,
                                .on_token = [&together, i](const TokenEvent& e) {
                                    together[i].push_back(e.token);
                                    return true;
                                }});
        }
        auto result = generate_together(requests);
        QVERIFY2(result, result ? "" : result.error().message.c_str());
        for (size_t i = 0; i < prompts.size(); ++i) {
            auto alone = Session::create(*model, {.n_ctx = 64, .n_batch = 512});
            QVERIFY(alone);
            std::vector<int32_t> tokens;
            QVERIFY(alone->generate(prompts[i], greedy, options, [&](const TokenEvent& e) {
                tokens.push_back(e.token);
                return true;
            }));
            QCOMPARE(together[i], tokens);
            auto next_together = (*group)[i].append({&probe, 1});
            QVERIFY(next_together);
            const std::vector<float> a(next_together->begin(), next_together->end());
            auto next_alone = alone->append({&probe, 1});
            QVERIFY(next_alone);
            double sum = 0, sum_sq = 0, worst = 0;
            for (size_t v = 0; v < a.size(); ++v) {
                sum += (*next_alone)[v];
                sum_sq += double((*next_alone)[v]) * (*next_alone)[v];
                worst = std::max(worst, std::abs(double(a[v]) - double((*next_alone)[v])));
            }
            const double mean = sum / double(a.size());
            const double spread = std::sqrt(sum_sq / double(a.size()) - mean * mean);
            QVERIFY2(worst <= 1e-3 * spread,
                     qPrintable(QString("sequence %1: logits differ by %2 (spread %3)")
                                    .arg(i)
                                    .arg(worst)
                                    .arg(spread)));
        }
    }

    void attention_sinks_in_every_attention_path() {
        // gpt-oss's sink logits join the softmax of the F16-cache attention (checked against
        // llama.cpp in tst_architectures) and of the Q8_0-cache flash attention: the two caches
        // agree within the Q8_0 rounding, far closer than either is to the model without sinks.
        auto model = Model::load(arch_model("gpt_oss"), {.n_threads = 2, .on_progress = {}});
        QVERIFY2(model, model ? "" : model.error().message.c_str());
        const auto index = arch_index();
        const auto tokens = index["tokens"].get<std::vector<int32_t>>();
        auto last_logits = [&](KvCacheType type) {
            auto session = Session::create(*model, {.n_ctx = 64, .kv_type = type});
            if (!session) {
                qWarning("%s", session.error().message.c_str());
                return std::vector<float>{};
            }
            auto logits = session->append(tokens);
            return logits ? std::vector<float>(logits->begin(), logits->end())
                          : std::vector<float>{};
        };
        auto max_difference = [](const std::vector<float>& a, const std::vector<float>& b) {
            double d = 0;
            for (size_t i = 0; i < a.size(); ++i) {
                d = std::max(d, std::abs(double(a[i]) - double(b[i])));
            }
            return d;
        };
        const auto f16 = last_logits(KvCacheType::f16);
        const auto q8 = last_logits(KvCacheType::q8_0);
        QVERIFY(!f16.empty() && f16.size() == q8.size());
        // The same model with its sinks emptied (the engine then leaves them out).
        auto& layers = const_cast<Model::Impl&>((*model)->impl()).layers;
        std::vector<std::vector<float>> sinks;
        for (auto& layer : layers) {
            sinks.push_back(std::exchange(layer.attn_sinks, {}));
        }
        const auto f16_without = last_logits(KvCacheType::f16);
        const auto q8_without = last_logits(KvCacheType::q8_0);
        for (size_t il = 0; il < layers.size(); ++il) {
            layers[il].attn_sinks = std::move(sinks[il]);
        }
        const double caches = max_difference(f16, q8);
        const double sinks_f16 = max_difference(f16, f16_without);
        const double sinks_q8 = max_difference(q8, q8_without);
        qInfo("F16 vs Q8_0 cache %.2e; without sinks: F16 %.2e, Q8_0 %.2e", caches, sinks_f16,
              sinks_q8);
        QVERIFY2(caches * 10 < sinks_f16 && caches * 10 < sinks_q8,
                 qPrintable(QString("caches differ by %1, the sinks move the logits by %2 / %3")
                                .arg(caches)
                                .arg(sinks_f16)
                                .arg(sinks_q8)));
    }

    void greedy_matches_llama_cpp_data() {
        QTest::addColumn<QString>("gguf");
        QTest::addColumn<std::vector<int32_t>>("prompt");
        QTest::addColumn<std::vector<int32_t>>("expected");
        QTest::addColumn<std::vector<double>>("gaps");
        const auto index = arch_index();
        if (index.is_null()) {
            QTest::newRow("index.json missing") << QString() << std::vector<int32_t>{}
                                                << std::vector<int32_t>{} << std::vector<double>{};
            return;
        }
        bool any = false;
        for (const auto& m : index["models"]) {
            if (m.contains("greedy")) {
                any = true;
                QTest::newRow(m["name"].get<std::string>().c_str())
                    << QString::fromStdString(m["gguf"].get<std::string>())
                    << m["greedy"]["prompt"].get<std::vector<int32_t>>()
                    << m["greedy"]["tokens"].get<std::vector<int32_t>>()
                    << m["greedy"]["gaps"].get<std::vector<double>>();
            }
        }
        if (!any) {
            QTest::newRow("no greedy tokens in index.json")
                << QString() << std::vector<int32_t>{} << std::vector<int32_t>{}
                << std::vector<double>{};
        }
    }

    void greedy_matches_llama_cpp() {
        // llama.cpp's procedure: the prompt as one batch, then one token at a time, each the
        // argmax of the last logits. A step whose two best logits were within kNearTie in
        // llama.cpp may go either way; none of these does.
        constexpr double kNearTie = 1e-4;
        QFETCH(QString, gguf);
        QFETCH(std::vector<int32_t>, prompt);
        QFETCH(std::vector<int32_t>, expected);
        QFETCH(std::vector<double>, gaps);
        QVERIFY2(!gguf.isEmpty(), "tests/data/arch/index.json is missing or records no greedy "
                                  "tokens: run scripts/gen-arch-reference.py");
        auto model = Model::load(test::data_dir() / "arch" / gguf.toStdString(),
                                 {.n_threads = 2, .on_progress = {}});
        QVERIFY2(model, model ? "" : model.error().message.c_str());
        auto session = Session::create(*model, {.n_ctx = 64});
        QVERIFY(session);
        auto logits = session->append(prompt);
        for (size_t step = 0; step < expected.size(); ++step) {
            QVERIFY2(logits, logits ? "" : logits.error().message.c_str());
            const auto best =
                static_cast<int32_t>(std::ranges::max_element(*logits) - logits->begin());
            if (best != expected[step]) {
                QVERIFY2(gaps[step] < kNearTie,
                         qPrintable(QString("step %1: token %2, llama.cpp's %3 (its margin %4)")
                                        .arg(step)
                                        .arg(best)
                                        .arg(expected[step])
                                        .arg(gaps[step])));
                return;
            }
            logits = session->append(std::span(&best, 1));
        }
    }
};

QTEST_APPLESS_MAIN(TestMoe)
#include "tst_moe.moc"
