// The int8 path's super-block layout for Q4_K, Q5_K and Q6_K (cpu/int8_ksuper.h): every ISA
// kernel at the layout's extremes (q at its maximum, scales at ±127/−128/63, mins at their
// largest, activations at −128/127) gives the portable kernel's bits and the exact integer
// result (no 16-bit saturation, no int32 overflow); and matmul() with fast numerics takes the
// layout at this process's level (run it also with HEARTH_CPU_FEATURES=avx2 for the AVX2
// kernel), giving the portable kernel's bits with 1 and 2 threads. Ragged row counts (1..70)
// through every kernel are tst_int8_gemm's raggedCallsAgree.
#include "cpu/cpu_features.h"
#include "cpu/int8_gemm.h"
#include "cpu/int8_ksuper.h"
#include "cpu/kernels.h"
#include "cpu/matmul.h"
#include "cpu/thread_pool.h"
#include "hearth/prefill_numerics.h"
#include "hearth/tensor_type.h"
#include "kernel_levels.h"
#include "random_weights.h"

#include <QObject>
#include <QtTest>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <random>
#include <string_view>
#include <vector>

using hearth::TensorType;
using namespace hearth::cpu;
namespace quant = hearth::quant;

namespace {

struct Kernel {
    const char* name;
    KSuperGemmFn fn;
};

// The layout's kernels this process runs, each once, the portable one last.
std::vector<Kernel> ksuper_kernels() {
    std::vector<Kernel> out;
    for (const Int8Kernel& k : int8_gemm_kernels()) {
        const KSuperGemmFn fn = int8_ksuper_kernel_for(k.fn);
        bool seen = false;
        for (const Kernel& o : out) {
            seen = seen || o.fn == fn;
        }
        if (!seen) {
            out.push_back({k.name, fn});
        }
    }
    return out;
}

constexpr int64_t kSuper = 3;

// Row r's integer scale and negated min of sub-block s at the extremes of a format: Q6_K-like
// (max_q 63: signed 8-bit scales per 16, min = scale) or Q4_K-like (max_q 31: 6-bit scale and
// min per 32, shared by both 16-value halves).
void extreme_scales(int max_q, int r, int s, int& scale, int& neg_min) {
    if (max_q == 63) {
        const int pick[] = {127, -128, 1, -1};
        scale = pick[(r + s) % 4];
        neg_min = -scale;
    } else {
        scale = (r + s / 2) % 3 == 0 ? 0 : 63;
        neg_min = (r + s / 2) % 2 == 0 ? -63 : 0;
    }
}

} // namespace

class TestInt8KSuper : public QObject {
    Q_OBJECT

private slots:
    void cleanup() { hearth::set_prefill_numerics(hearth::PrefillNumerics::exact); }

    void extremesAreExact() {
        std::vector<BlockKSuper8> group(static_cast<size_t>(2 * kSuper)); // two groups: 16 rows
        std::vector<quant::BlockQ8_K> x(kSuper);
        for (const int max_q : {31, 63}) {
            for (const int xv : {127, -128, -127}) {
                for (int64_t g = 0; g < 2; ++g) {
                    for (int64_t b = 0; b < kSuper; ++b) {
                        BlockKSuper8& blk = group[static_cast<size_t>(g * kSuper + b)];
                        std::memset(blk.qs, max_q, sizeof(blk.qs));
                        for (int r = 0; r < kInt8Rows; ++r) {
                            blk.d[r] = 1.0f;
                            blk.dmin[r] = 2.0f;
                            for (int s = 0; s < kKSubBlocks; ++s) {
                                int scale = 0;
                                int neg_min = 0;
                                extreme_scales(max_q, static_cast<int>(g) * 8 + r, s, scale,
                                               neg_min);
                                blk.scale[s][r][0] = blk.scale[s][r][1] =
                                    static_cast<int16_t>(scale);
                                blk.neg_min[s / 2][r][s % 2] = static_cast<int16_t>(neg_min);
                            }
                        }
                    }
                }
                for (quant::BlockQ8_K& xb : x) {
                    xb.d = 1.0f;
                    std::memset(xb.qs, xv, sizeof(xb.qs));
                    for (int16_t& sum : xb.bsums) {
                        sum = static_cast<int16_t>(16 * xv);
                    }
                }
                const KSuperActivations acts{x.data(), kSuper};
                float portable[kInt8CallRows + 1] = {};
                int8_ksuper_portable(kSuper, group.data(), acts, 1, max_q, portable, kInt8CallRows,
                                     static_cast<int>(kInt8CallRows));
                for (int row = 0; row < kInt8CallRows; ++row) {
                    // The exact integer result: per super-block Σ_s sc·16·q·x + 2 Σ_s −m·16·x.
                    int64_t want = 0;
                    for (int s = 0; s < kKSubBlocks; ++s) {
                        int scale = 0;
                        int neg_min = 0;
                        extreme_scales(max_q, row, s, scale, neg_min);
                        want += int64_t{16} * scale * max_q * xv + int64_t{2} * 16 * neg_min * xv;
                    }
                    want *= kSuper;
                    QVERIFY2(static_cast<double>(portable[row]) == static_cast<double>(want),
                             qPrintable(QStringLiteral("portable q %1 x %2 row %3: %4 vs %5")
                                            .arg(max_q)
                                            .arg(xv)
                                            .arg(row)
                                            .arg(portable[row])
                                            .arg(want)));
                }
                for (const Kernel& kernel : ksuper_kernels()) {
                    for (const int n_rows :
                         {1, static_cast<int>(kInt8Rows), 13, static_cast<int>(kInt8CallRows)}) {
                        float y[kInt8CallRows + 1] = {};
                        kernel.fn(kSuper, group.data(), acts, 1, max_q, y, kInt8CallRows, n_rows);
                        for (int r = 0; r <= kInt8CallRows; ++r) {
                            const float expect = r < n_rows ? portable[r] : 0.0f;
                            QVERIFY2(std::memcmp(&y[r], &expect, 4) == 0,
                                     qPrintable(QStringLiteral("%1 q %2 x %3 row %4/%5: %6 vs %7")
                                                    .arg(QLatin1String(kernel.name))
                                                    .arg(max_q)
                                                    .arg(xv)
                                                    .arg(r)
                                                    .arg(n_rows)
                                                    .arg(y[r])
                                                    .arg(expect)));
                        }
                    }
                }
            }
        }
    }

    // matmul() with fast numerics, 40 tokens (≥ kInt8MinTokens; a ragged tile), 37 rows: the
    // portable kernel's bits through this process's best kernel, 1 and 2 threads.
    void matmulGivesThePortableBits() {
        if (const char* why = hearth::test::avx2_level_unavailable("the int8 path")) {
            QSKIP(why);
        }
        constexpr int64_t kRowsHere = 37;
        constexpr int64_t kTok = 40;
        ThreadPool one(1), two(2);
        const hearth::test::WeightTypeCase cases[] = {
            {TensorType::Q4_K, offsetof(quant::BlockQ4_K, d), offsetof(quant::BlockQ4_K, dmin),
             768},
            {TensorType::Q5_K, offsetof(quant::BlockQ5_K, d), offsetof(quant::BlockQ5_K, dmin),
             512},
            {TensorType::Q6_K, offsetof(quant::BlockQ6_K, d), -1, 768},
        };
        for (const auto& c : cases) {
            std::mt19937 rng(91 + static_cast<unsigned>(c.type));
            const auto bytes = hearth::test::random_weight_rows(c, kRowsHere, c.n_cols, rng,
                                                                hearth::test::ScaleDraw::edges);
            const auto traits = hearth::tensor_type_traits(c.type);
            const WeightMatrix w{c.type, bytes.data(), c.n_cols, kRowsHere,
                                 static_cast<size_t>(c.n_cols / traits.block_size) *
                                     traits.type_size};
            std::normal_distribution<float> normal(0.0f, 1.0f);
            std::vector<float> x(static_cast<size_t>(kTok * c.n_cols));
            for (size_t i = 0; i < x.size(); ++i) {
                x[i] = i % 97 == 5 ? -60.0f : normal(rng);
            }
            std::vector<float> portable(static_cast<size_t>(kTok * kRowsHere));
            matmul_ksuper(w, x.data(), kTok, c.n_cols, portable.data(), kRowsHere, one,
                          &int8_ksuper_portable);
            hearth::set_prefill_numerics(hearth::PrefillNumerics::fast);
            QVERIFY(use_int8_gemm(w, kTok, MatmulOp::mul_mat));
            std::vector<uint8_t> scratch(static_cast<size_t>(kTok) *
                                         activation_row_bytes(c.type, c.n_cols));
            for (ThreadPool* pool : {&one, &two}) {
                std::vector<float> y(portable.size(), -1.0f);
                matmul(w, x.data(), kTok, c.n_cols, y.data(), kRowsHere, scratch.data(), *pool);
                const std::string_view name = hearth::tensor_type_name(c.type);
                QVERIFY2(std::memcmp(y.data(), portable.data(), y.size() * 4) == 0,
                         qPrintable(QString::fromLatin1(name.data(),
                                                        static_cast<qsizetype>(name.size()))));
            }
            hearth::set_prefill_numerics(hearth::PrefillNumerics::exact);
        }
        qInfo("matmul()'s kernel here: %s", int8_gemm_kernels().front().name);
    }
};

QTEST_GUILESS_MAIN(TestInt8KSuper)
#include "tst_int8_ksuper.moc"
