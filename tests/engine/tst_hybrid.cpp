// The recurrent state of a hybrid model (qwen35, tests/data/arch/qwen35.gguf) across the ways a
// conversation moves: an edited earlier message, a regenerated reply, a next turn whose
// template re-renders the previous reply, a plain continuation, and sequences generated
// together with a shared prompt prefix. In each, the session's greedy tokens and its next
// logits must equal those of a fresh session given the same prompt: a state resumed from the
// wrong place (a recurrent state cannot be cut back to a prefix like a KV cache) changes them
// by a large fraction of their spread (the test checks that too). The forward pass must refuse
// a token at a position its sequence's state does not stand at.
#include "cpu/forward.h"
#include "hearth/batch_generation.h"
#include "hearth/memory_plan.h"
#include "hearth/model.h"
#include "hearth/session.h"
#include "model/model_impl.h"
#include "test_support.h"

#include <QtTest>
#include <cmath>
#include <fstream>
#include <nlohmann/json.hpp>

using namespace hearth;

namespace {

constexpr int32_t kProbe = 7; // the token appended after each generation for its logits

SamplingParams greedy() {
    SamplingParams p;
    p.temperature = 0.0f;
    p.repeat_penalty = 1.0f;
    return p;
}

std::vector<int32_t> concat(std::span<const int32_t> a, std::span<const int32_t> b) {
    std::vector<int32_t> out(a.begin(), a.end());
    out.insert(out.end(), b.begin(), b.end());
    return out;
}

struct Outcome {
    GenerationStats stats;
    std::vector<int32_t> tokens; // generated
    std::vector<float> next;     // logits after kProbe is appended
};

Outcome run(Session& session, std::span<const int32_t> prompt) {
    Outcome out;
    GenerateOptions options;
    options.max_tokens = 4;
    auto stats = session.generate(prompt, greedy(), options, [&](const TokenEvent& e) {
        out.tokens.push_back(e.token);
        return true;
    });
    if (!stats) {
        qFatal("generate failed: %s", stats.error().message.c_str());
    }
    out.stats = *stats;
    const int32_t probe = kProbe;
    auto logits = session.append({&probe, 1});
    if (!logits) {
        qFatal("append failed: %s", logits.error().message.c_str());
    }
    out.next.assign(logits->begin(), logits->end());
    return out;
}

double spread(std::span<const float> v) {
    double sum = 0, sum_sq = 0;
    for (float x : v) {
        sum += x;
        sum_sq += double(x) * x;
    }
    const double mean = sum / double(v.size());
    return std::sqrt(sum_sq / double(v.size()) - mean * mean);
}

double max_difference(std::span<const float> a, std::span<const float> b) {
    double worst = 0;
    for (size_t i = 0; i < a.size(); ++i) {
        worst = std::max(worst, std::abs(double(a[i]) - double(b[i])));
    }
    return worst;
}

// A resumed run agrees with a fresh one to within the kernel choice: a token prefilled alone
// uses the single-token attention kernels, in a batch the prompt ones (forward.h), which round
// differently in the last bits. A state resumed from the wrong position moves the logits by
// ~0.3 of their spread or more (wrong_state_is_detected).
constexpr double kTolerance = 1e-3;

void expect_same(const Outcome& resumed, const Outcome& fresh, const char* what) {
    QVERIFY2(resumed.tokens == fresh.tokens,
             qPrintable(QString("%1: the greedy tokens differ from a fresh session's").arg(what)));
    const double limit = kTolerance * spread(fresh.next);
    const double diff = max_difference(resumed.next, fresh.next);
    QVERIFY2(diff <= limit,
             qPrintable(QString("%1: next logits differ by %2 from a fresh session's (limit %3)")
                            .arg(what)
                            .arg(diff)
                            .arg(limit)));
}

} // namespace

class TestHybrid : public QObject {
    Q_OBJECT

    std::shared_ptr<const Model> m_model;
    std::vector<int32_t> m_tokens;

    Session session() {
        auto s = Session::create(m_model, {.n_ctx = 64, .n_batch = 512});
        if (!s) {
            qFatal("%s", s.error().message.c_str());
        }
        return std::move(*s);
    }

    Outcome fresh(std::span<const int32_t> prompt) {
        Session s = session();
        return run(s, prompt);
    }

    std::span<const int32_t> tokens(size_t from, size_t to) const {
        return std::span(m_tokens).subspan(from, to - from);
    }

private slots:
    void initTestCase() {
        auto model = Model::load(test::data_dir() / "arch" / "qwen35.gguf",
                                 {.n_threads = 2, .on_progress = {}});
        QVERIFY2(model, model ? "" : model.error().message.c_str());
        m_model = *model;
        QVERIFY(m_model->info().n_attention_layers() > 0);
        QVERIFY(m_model->info().n_attention_layers() < m_model->info().n_layer);
        std::ifstream in(test::data_dir() / "arch" / "index.json");
        m_tokens = nlohmann::json::parse(in)["tokens"].get<std::vector<int32_t>>();
        QVERIFY(m_tokens.size() >= 32);
    }

    void edited_earlier_message_starts_over() {
        // The checkpoint (before the first prompt's last token) is past the edit: the state
        // cannot be cut back to the shared 10 tokens, so the whole prompt runs again.
        Session s = session();
        run(s, tokens(0, 20));
        const auto edited = concat(tokens(0, 10), tokens(20, 28));
        const Outcome resumed = run(s, edited);
        QCOMPARE(resumed.stats.n_reused, 0);
        QCOMPARE(resumed.stats.n_prefilled, int32_t(edited.size()));
        expect_same(resumed, fresh(edited), "edited");
    }

    void regenerated_reply_resumes_from_the_checkpoint() {
        Session s = session();
        const auto prompt = tokens(0, 20);
        run(s, prompt);
        const Outcome again = run(s, prompt);
        QCOMPARE(again.stats.n_reused, int32_t(prompt.size() - 1));
        expect_same(again, fresh(prompt), "regenerated");
    }

    void next_turn_that_rewrites_the_reply_resumes_from_the_checkpoint() {
        // The next prompt holds the first one but not the reply as generated (a template that
        // drops a reasoning section): the state resumes before the first prompt's last token.
        Session s = session();
        const Outcome first = run(s, tokens(0, 20));
        std::vector<int32_t> tail(tokens(20, 26).begin(), tokens(20, 26).end());
        if (!first.tokens.empty() && tail.front() == first.tokens.front()) {
            tail.front() = (tail.front() + 1) % int32_t(m_model->info().n_vocab);
        }
        const auto next = concat(tokens(0, 20), tail);
        const Outcome resumed = run(s, next);
        QCOMPARE(resumed.stats.n_reused, 19);
        expect_same(resumed, fresh(next), "next turn");
    }

    void continuation_reuses_the_whole_state() {
        Session s = session();
        run(s, tokens(0, 20));
        const std::vector<int32_t> cached = s.cached_tokens();
        QVERIFY(cached.size() > 20);
        const auto next = concat(cached, tokens(20, 25));
        const Outcome resumed = run(s, next);
        QCOMPARE(resumed.stats.n_reused, int32_t(cached.size()));
        expect_same(resumed, fresh(next), "continuation");
    }

    void truncate_goes_back_only_as_far_as_the_state_can() {
        // generate() checkpoints the state before the prompt's last token (19 of 20): a cut
        // there or later keeps 19 tokens, one before it none; what follows is what a fresh
        // session computes.
        Session s = session();
        run(s, tokens(0, 20));
        QVERIFY(s.cached_tokens().size() > 20);
        QCOMPARE(s.truncate(19), size_t{19});
        const auto rest = tokens(19, 24);
        auto logits = s.append(rest);
        QVERIFY(logits);
        Session clean = session();
        auto want = clean.append(tokens(0, 24));
        QVERIFY(want);
        QVERIFY(std::ranges::equal(*logits, *want));
        QCOMPARE(s.truncate(10), size_t{0});
        QCOMPARE(s.truncate(5), size_t{0});
    }

    void wrong_state_is_detected() {
        // The check's power: the probe after the edited prompt, with its own KV cache but the
        // recurrent state of another prompt of the same length (what a state cut back like a
        // KV cache would be), gives logits far past the tolerance.
        const Model::Impl& m = m_model->impl();
        const ModelInfo& info = m.info;
        cpu::Forward forward(m);
        auto make_cache = [&] {
            return cpu::KvCache(info.n_layer, 32, info.n_head_kv * info.head_dim_k,
                                info.n_head_kv * info.head_dim_v, KvCacheType::f16, 0,
                                info.recurrent_layers);
        };
        cpu::KvCache cache = make_cache(), other_cache = make_cache();
        cpu::RecurrentState state(info), other_state(info);
        const auto edited = concat(tokens(0, 10), tokens(20, 28));
        const auto other = tokens(0, edited.size());
        std::vector<float> logits(info.n_vocab);
        auto prefill = [&](std::span<const int32_t> prompt, cpu::KvCache& c,
                           cpu::RecurrentState& st) {
            std::vector<cpu::BatchToken> batch;
            for (size_t i = 0; i < prompt.size(); ++i) {
                batch.push_back({.token = prompt[i],
                                 .pos = uint32_t(i),
                                 .cache = &c,
                                 .want_logits = i + 1 == prompt.size(),
                                 .state = &st});
            }
            return forward.run(batch, logits.data());
        };
        QVERIFY(prefill(edited, cache, state));
        QVERIFY(prefill(other, other_cache, other_state));
        auto probe = [&](cpu::RecurrentState& st) {
            std::vector<cpu::BatchToken> batch = {{.token = kProbe,
                                                   .pos = uint32_t(edited.size()),
                                                   .cache = &cache,
                                                   .want_logits = true,
                                                   .state = &st}};
            std::vector<float> out(info.n_vocab);
            if (!forward.run(batch, out.data())) {
                out.clear();
            }
            return out;
        };
        const std::vector<float> right = probe(state);
        const std::vector<float> wrong = probe(other_state);
        QCOMPARE(right.size(), size_t(info.n_vocab));
        QCOMPARE(wrong.size(), size_t(info.n_vocab));
        const double diff = max_difference(right, wrong);
        QVERIFY2(diff > 0.1 * spread(right), qPrintable(QString::number(diff)));
        // And the right one is what a session computes.
        Session s = session();
        std::vector<float> evaluated;
        const auto with_probe = concat(edited, std::vector<int32_t>{kProbe});
        QVERIFY(s.evaluate(with_probe, [&](size_t position, std::span<const float> l) {
            if (position + 1 == with_probe.size()) {
                evaluated.assign(l.begin(), l.end());
            }
        }));
        QVERIFY(max_difference(evaluated, right) <= kTolerance * spread(right));
    }

    void sequences_generated_together_match_each_alone() {
        const std::vector<std::vector<int32_t>> prompts = {
            concat(tokens(0, 12), tokens(12, 16)),
            concat(tokens(0, 12), tokens(20, 26)),
            concat(tokens(0, 12), tokens(26, 30)),
        };
        auto group = Session::create_group(m_model, {.n_ctx = 64, .n_batch = 512}, 3);
        QVERIFY2(group, group ? "" : group.error().message.c_str());
        // The first sequence has a longer cached prefix than the shared one: it cannot give
        // its state to the others (it stands past the prefix), which then compute their own.
        run((*group)[0], concat(tokens(0, 14), tokens(16, 18)));
        for (int round = 0; round < 2; ++round) {
            std::vector<std::vector<int32_t>> generated(prompts.size());
            std::vector<SequenceRequest> requests;
            GenerateOptions options;
            options.max_tokens = 4;
            for (size_t i = 0; i < prompts.size(); ++i) {
                requests.push_back({.session = &(*group)[i],
                                    .prompt = prompts[i],
                                    .sampling = greedy(),
                                    .options = options,
                                    .on_token = [&generated, i](const TokenEvent& e) {
                                        generated[i].push_back(e.token);
                                        return true;
                                    }});
            }
            auto result = generate_together(requests);
            QVERIFY2(result, result ? "" : result.error().message.c_str());
            // The first round computes the shared prefix once; the second finds each prompt
            // in its own cache and resumes each state from its checkpoint.
            QCOMPARE(result->n_shared_prefix, round == 0 ? 12 : 0);
            for (size_t i = 0; i < prompts.size(); ++i) {
                const GenerationStats& stats = result->sequences[i];
                if (round == 0) {
                    // Its cache was past the prefix: sequence 0 started over and computed the
                    // prefix for the others, whose states took it.
                    QCOMPARE(stats.n_reused, 0);
                    QCOMPARE(stats.n_shared, i == 0 ? 0 : 12);
                } else {
                    QCOMPARE(stats.n_reused, int32_t(prompts[i].size() - 1));
                }
            }
            for (size_t i = 0; i < prompts.size(); ++i) {
                Outcome together;
                together.tokens = generated[i];
                const int32_t probe = kProbe;
                auto logits = (*group)[i].append({&probe, 1});
                QVERIFY(logits);
                together.next.assign(logits->begin(), logits->end());
                expect_same(together, fresh(prompts[i]),
                            qPrintable(QString("round %1, sequence %2").arg(round).arg(i)));
            }
        }
    }

    void forward_refuses_a_position_the_state_is_not_at() {
        const Model::Impl& m = m_model->impl();
        const ModelInfo& info = m.info;
        cpu::Forward forward(m);
        cpu::KvCache cache(info.n_layer, 16, info.n_head_kv * info.head_dim_k,
                           info.n_head_kv * info.head_dim_v, KvCacheType::f16, 0,
                           info.recurrent_layers);
        cpu::RecurrentState state(info);
        std::vector<float> logits(3 * size_t{info.n_vocab}); // every token wants its logits
        auto token = [&](uint32_t pos) {
            return cpu::BatchToken{
                .token = 5, .pos = pos, .cache = &cache, .want_logits = true, .state = &state};
        };
        std::vector<cpu::BatchToken> batch = {token(0), token(1), token(2)};
        QVERIFY(forward.run(batch, logits.data()));
        QCOMPARE(state.position(), 3u);
        for (uint32_t pos : {1u, 2u, 4u}) {
            batch = {token(pos)};
            auto ok = forward.run(batch, logits.data());
            QVERIFY(!ok);
            QVERIFY2(ok.error().message.find("recurrent state stands at position 3") !=
                         std::string::npos,
                     ok.error().message.c_str());
        }
        batch = {token(3), token(5)}; // a gap inside one sequence
        QVERIFY(!forward.run(batch, logits.data()));
        batch = {cpu::BatchToken{.token = 5, .pos = 3, .cache = &cache, .want_logits = true}};
        auto without = forward.run(batch, logits.data());
        QVERIFY(!without);
        QVERIFY2(without.error().message.find("without its sequence's recurrent state") !=
                     std::string::npos,
                 without.error().message.c_str());
        batch = {token(0)}; // position 0 starts the sequence over
        QVERIFY(forward.run(batch, logits.data()));
        QCOMPARE(state.position(), 1u);
    }

    // The CPU part of a partial offload (Forward::run_from after the GPU's layers): it keeps
    // its layers' states and positions as run() does, so embed + run_from(0) over a prompt and
    // a continuation gives run()'s logits bit for bit and leaves the state at the same place;
    // a position the state is not at is refused; the first layers cannot run alone (run_to).
    void run_from_keeps_the_state_of_its_layers() {
        const Model::Impl& m = m_model->impl();
        const ModelInfo& info = m.info;
        const size_t n_vocab = info.n_vocab, n_embd = info.n_embd;
        auto make_cache = [&] {
            return cpu::KvCache(info.n_layer, 16, info.n_head_kv * info.head_dim_k,
                                info.n_head_kv * info.head_dim_v, KvCacheType::f16, 0,
                                info.recurrent_layers);
        };
        cpu::KvCache whole_cache = make_cache(), cut_cache = make_cache();
        cpu::RecurrentState whole_state(info), cut_state(info);
        auto batch_of = [&](std::span<const int32_t> ids, uint32_t first, cpu::KvCache& c,
                            cpu::RecurrentState& st) {
            std::vector<cpu::BatchToken> batch;
            for (size_t i = 0; i < ids.size(); ++i) {
                batch.push_back({.token = ids[i],
                                 .pos = first + uint32_t(i),
                                 .cache = &c,
                                 .want_logits = true,
                                 .state = &st});
            }
            return batch;
        };
        cpu::Forward whole(m), cut(m);
        const auto prompt = tokens(0, 6), more = tokens(6, 9);
        for (const auto& [ids, first] : {std::pair{prompt, 0u}, std::pair{more, 6u}}) {
            std::vector<float> want(ids.size() * n_vocab), got(ids.size() * n_vocab);
            std::vector<float> residual(ids.size() * n_embd);
            const auto a = batch_of(ids, first, whole_cache, whole_state);
            const auto b = batch_of(ids, first, cut_cache, cut_state);
            QVERIFY(whole.run(a, want.data()));
            QVERIFY(cut.embed(b, residual.data()));
            QVERIFY(cut.run_from(b, 0, residual.data(), got.data()));
            QVERIFY(got == want);
            QCOMPARE(cut_state.position(), whole_state.position());
        }
        QCOMPARE(cut_state.position(), 9u);
        std::vector<float> residual(n_embd), logits(n_vocab);
        const std::vector<int32_t> one = {5};
        const auto behind = batch_of(one, 4, cut_cache, cut_state);
        QVERIFY(cut.embed(behind, residual.data()));
        QCOMPARE(cut.run_from(behind, 1, residual.data(), logits.data()).error().code,
                 ErrorCode::invalid_argument);
        const auto refused = cut.run_to(behind, 1, residual.data());
        QVERIFY(!refused);
        QCOMPARE(refused.error().code, ErrorCode::unsupported);
    }

    void memory_plan_counts_the_state_and_only_attention_layers() {
        const ModelInfo& info = m_model->info();
        const uint32_t n_attention = info.n_attention_layers();
        const MemoryPlan plan = plan_memory(info, {.n_ctx = 64, .n_seq = 3});
        QCOMPARE(plan.n_attention_layers, n_attention);
        QCOMPARE(plan.kv_bytes_per_token,
                 double(n_attention) * info.n_head_kv * (info.head_dim_k + info.head_dim_v) * 2);
        const LinearAttentionInfo& la = info.linear_attention;
        const uint64_t per_layer = (uint64_t{la.d_conv - 1} * la.conv_channels() +
                                    uint64_t{la.n_v_heads} * la.d_state * la.d_state) *
                                   4;
        QCOMPARE(plan.recurrent_bytes_per_seq, 2 * (info.n_layer - n_attention) * per_layer);
        QCOMPARE(plan.recurrent_bytes, 3 * plan.recurrent_bytes_per_seq);
        // Fixed whatever the context; the KV cache grows with it.
        const MemoryPlan longer = plan_memory(info, {.n_ctx = 256, .n_seq = 3});
        QCOMPARE(longer.recurrent_bytes, plan.recurrent_bytes);
        QCOMPARE(longer.kv_bytes, 4 * plan.kv_bytes);
        // A session holds exactly that: the cache of the attention layers and the state.
        Session s = session();
        QCOMPARE(s.kv_cache_bytes(),
                 uint64_t(plan.kv_bytes_per_token) * 64 + plan.recurrent_bytes_per_seq);
    }

    // The split's arithmetic (plan_offload, what the app and `info` show for the GPU) as the
    // CUDA forward allocates it: on the GPU, KV cells for the attention layers only and the
    // recurrent layers' states; on the CPU, its layers' cells and a whole cpu::RecurrentState
    // per sequence (live and checkpoint).
    void offload_plan_counts_the_states_where_they_live() {
        const ModelInfo& info = m_model->info();
        const LinearAttentionInfo& la = info.linear_attention;
        const uint32_t n_ctx = 64, n_seq = 3;
        auto align = [](uint64_t n) { return (n + 255) / 256 * 256; };
        const uint64_t cells = uint64_t{n_seq} * n_ctx;
        const uint64_t kv_layer = align(cells * info.n_head_kv * info.head_dim_k * 2) +
                                  align(cells * info.n_head_kv * info.head_dim_v * 2);
        const uint64_t state_layer = align(uint64_t{n_seq} * la.conv_state_floats() * 4) +
                                     align(uint64_t{n_seq} * la.ssm_state_floats() * 4);
        for (uint32_t n = 1; n <= info.n_layer; ++n) {
            auto plan = plan_offload(info, {.n_ctx = n_ctx,
                                            .n_seq = n_seq,
                                            .gpu_free_bytes = uint64_t{1} << 40,
                                            .n_gpu_layers = n});
            QVERIFY2(plan, plan ? "" : plan.error().message.c_str());
            uint64_t want_gpu = 0;
            for (uint32_t il = 0; il < n; ++il) {
                want_gpu += info.is_recurrent(il) ? state_layer : kv_layer;
            }
            QCOMPARE(plan->gpu.kv, want_gpu);
            QCOMPARE(plan->cpu.kv, uint64_t{info.n_layer - n} * cells * info.n_head_kv *
                                           (info.head_dim_k + info.head_dim_v) * 2 +
                                       uint64_t{n_seq} * 2 * info.recurrent_state_bytes());
        }
    }
};

QTEST_APPLESS_MAIN(TestHybrid)
#include "tst_hybrid.moc"
