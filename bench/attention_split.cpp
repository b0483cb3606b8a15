// One decode token's F16 attention at depth, one layer, dealt by GQA group against split by
// cells (cpu/attention_ggml.h, AttentionSplit), in thread CPU time on one thread (the pool runs
// inline), so that a loaded machine skews it less. Built by hand against a build directory
// (docs/PERFORMANCE.md, "Attention at depth"):
//   g++ -O2 -std=c++23 -Iengine/src -Iengine/include bench/attention_split.cpp
//       build/engine/libhearth_cpu.a build/engine/libhearth_base.a -lpthread
//   ./a.out N_HEAD_KV GROUP DEPTH
#include "cpu/attention_ggml.h"
#include "cpu/kv_cache.h"
#include "cpu/thread_pool.h"

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <random>
#include <vector>
using namespace hearth::cpu;
static double cpu_s() {
    timespec t;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
    return double(t.tv_sec) + double(t.tv_nsec) * 1e-9;
}
int main(int argc, char** argv) {
    const int n_head_kv = argc > 1 ? atoi(argv[1]) : 3, group = argc > 2 ? atoi(argv[2]) : 3;
    const uint32_t depth = argc > 3 ? uint32_t(atoi(argv[3])) : 4096;
    const int dim = 64, n_head = n_head_kv * group;
    std::mt19937 rng(1);
    std::uniform_real_distribution<float> u(-1, 1);
    const uint32_t width = uint32_t(n_head_kv * dim);
    KvCache cache(1, depth + 1, width, width);
    std::vector<float> k(width), v(width), q(size_t(n_head) * dim), out(q.size());
    for (uint32_t c = 0; c <= depth; ++c) {
        for (auto& x : k)
            x = u(rng);
        for (auto& x : v)
            x = u(rng);
        cache.store(0, c, k.data(), v.data());
    }
    for (auto& x : q)
        x = u(rng);
    const BatchToken token{.pos = depth, .cache = &cache};
    const LayerAttention a{.layer = 0,
                           .n_head = n_head,
                           .head_dim_k = dim,
                           .head_dim_v = dim,
                           .group = group,
                           .q_width = q.size(),
                           .o_width = q.size(),
                           .v_width = int64_t(width),
                           .sliding = false,
                           .sliding_window = 0,
                           .sinks = nullptr,
                           .q_scale = 1.0f,
                           .score_scale = 0.125f,
                           .soft_cap = ScoreSoftCap(0.0),
                           .n_kv_max = (depth + 32) / 32 * 32,
                           .batch_tinyblas = false,
                           .q_all = q.data(),
                           .attn_out = out.data()};
    ThreadPool pool(1);
    const int reps = 200;
    for (auto split : {AttentionSplit::by_group, AttentionSplit::by_cells}) {
        attention_ggml_layer(a, {&token, 1}, pool, split); // warm
        const double t0 = cpu_s();
        for (int i = 0; i < reps; ++i)
            attention_ggml_layer(a, {&token, 1}, pool, split);
        const double us = (cpu_s() - t0) / reps * 1e6;
        std::printf("%s: %.1f us per layer (%d KV heads x %d, depth %u)\n",
                    split == AttentionSplit::by_group ? "by_group" : "by_cells", us, n_head_kv,
                    group, depth);
    }
}
