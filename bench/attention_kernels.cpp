// The F16 attention products at depth, one-at-a-time (ggml_numerics.h) against tiled
// (attention_tiles.h), in thread CPU time so that a loaded machine skews it less: one KV
// head's group of query heads over 4,608 cells, head size 64. Built by hand against a build
// directory (docs/PERFORMANCE.md, "Attention at depth"):
//   g++ -O2 -std=c++23 -mavx2 -mfma -mf16c -Iengine/src -Iengine/include
//       bench/attention_kernels.cpp build/engine/libhearth_cpu.a build/engine/libhearth_base.a
//   ./a.out GROUP ORDER   (GROUP: query heads per KV head; ORDER 1: tinyBLAS, 0: vec_dot_f16)
#include "cpu/attention_tiles.h"
#include "cpu/ggml_numerics.h"
#include "hearth/quant.h"

#include <cstdio>
#include <ctime>
#include <random>
#include <vector>
using namespace hearth;
using namespace hearth::cpu;
static double cpu_s() {
    timespec t;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}
int main(int argc, char** argv) {
    const int n_kv = 4608, dim = 64, group = argc > 1 ? atoi(argv[1]) : 8, n_kv_head = 4;
    const bool tb = argc > 2 ? atoi(argv[2]) : 1;
    const int64_t stride = n_kv_head * dim;
    std::mt19937 rng(1);
    std::uniform_real_distribution<float> u(-1, 1);
    std::vector<uint16_t> K(n_kv * stride), V(n_kv * stride), q(group * dim), p16(n_kv);
    for (auto& x : K)
        x = fp32_to_fp16(u(rng));
    for (auto& x : V)
        x = fp32_to_fp16(u(rng));
    for (auto& x : q)
        x = fp32_to_fp16(u(rng));
    std::vector<float> w(n_kv);
    for (int j = 0; j < n_kv; ++j) {
        p16[j] = fp32_to_fp16(std::abs(u(rng)) / n_kv);
        w[j] = fp16_to_fp32(p16[j]);
    }
    std::vector<float> s(group * n_kv), out(group * dim);
    const int reps = 20;
    const int last = n_kv - 1;
    double t0 = cpu_s();
    for (int it = 0; it < reps; ++it)
        for (int r = 0; r < group; ++r) {
            for (int j = 0; j <= last; ++j)
                s[r * n_kv + j] =
                    tb ? ggml::tinyblas_dot_f16(dim, K.data() + j * stride, q.data() + r * dim)
                       : ggml::vec_dot_f16(dim, K.data() + j * stride, q.data() + r * dim);
        }
    double t1 = cpu_s();
    for (int it = 0; it < reps; ++it)
        for (int r = 0; r < group; ++r)
            ggml::weighted_rows_f16(tb, dim, V.data(), stride, 0, last, n_kv, p16.data(),
                                    out.data() + r * dim);
    double t2 = cpu_s();
    auto order = tb ? ggml::DotOrder::tinyblas : ggml::DotOrder::vec_dot;
    for (int it = 0; it < reps; ++it)
        for (int r0 = 0; r0 < group; r0 += 4) {
            int nq = std::min(4, group - r0);
            const uint16_t* qs[4];
            float* ss[4];
            for (int r = 0; r < nq; ++r) {
                qs[r] = q.data() + (r0 + r) * dim;
                ss[r] = s.data() + (r0 + r) * n_kv;
            }
            ggml::key_dots_f16(order, dim, qs, nq, K.data(), stride, 0, last, ss);
        }
    double t3 = cpu_s();
    for (int it = 0; it < reps; ++it)
        for (int r0 = 0; r0 < group; r0 += 4) {
            int nq = std::min(4, group - r0);
            const float* ws[4];
            float* os[4];
            for (int r = 0; r < nq; ++r) {
                ws[r] = w.data();
                os[r] = out.data() + (r0 + r) * dim;
            }
            ggml::weighted_rows_f16_tiled(order, dim, V.data(), stride, 0, last, n_kv, ws, nq, os);
        }
    double t4 = cpu_s();
    double per = reps * group * double(n_kv) * dim * 2;
    printf("group %d %s: kq old %.2f GFLOP/s new %.2f (x%.2f) | kqv old %.2f new %.2f (x%.2f)\n",
           group, tb ? "tinyblas" : "vec_dot", per / (t1 - t0) / 1e9, per / (t3 - t2) / 1e9,
           (t1 - t0) / (t3 - t2), per / (t2 - t1) / 1e9, per / (t4 - t3) / 1e9,
           (t2 - t1) / (t4 - t3));
}
