// matmul_group() (a layer's Q, K, V or gate and up in one parallel region, the
// activations converted once per weight type) against one matmul() per matrix, bit for bit:
// groups of one type (shared activations), of mixed types as Q4_K_M and Q5_K_M files mix them,
// packed and unpacked copies of one type side by side (their activations must not be shared),
// ragged row counts (1..70: the parts' rows meet inside a thread's chunk), one to many blocks per
// row, 1, 2 and 3 threads, one token (the decode path) and batches of 3 and 33 tokens (one
// conversion region and one rows region for the group; 33 spans two token tiles), at
// every kernel level this CPU has (portable, avx2, avx2 with the AVX-512 kernels), with exact
// and (above portable) with fast prefill numerics, whose int8 path (32 tokens or more) keeps
// one matmul() per target, as do the float tiles.
#include "cpu/cpu_features.h"
#include "cpu/matmul.h"
#include "cpu/repack.h"
#include "cpu/thread_pool.h"
#include "hearth/prefill_numerics.h"
#include "hearth/quant.h"
#include "hearth/tensor_type.h"
#include "quant/blocks.h"
#include "random_weights.h"

#include <QObject>
#include <QtTest>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <random>
#include <vector>

using hearth::TensorType;
using namespace hearth::cpu;
namespace quant = hearth::quant;

namespace {

using TypeCase = hearth::test::WeightTypeCase;

TypeCase type_case(TensorType type) {
    switch (type) {
    case TensorType::Q4_0:
        return {type, offsetof(quant::BlockQ4_0, d), -1};
    case TensorType::Q4_1:
        return {type, offsetof(quant::BlockQ4_1, d), offsetof(quant::BlockQ4_1, m)};
    case TensorType::Q5_0:
        return {type, offsetof(quant::BlockQ5_0, d), -1};
    case TensorType::Q5_1:
        return {type, offsetof(quant::BlockQ5_1, d), offsetof(quant::BlockQ5_1, m)};
    case TensorType::Q8_0:
        return {type, offsetof(quant::BlockQ8_0, d), -1};
    case TensorType::IQ4_NL:
        return {type, offsetof(quant::BlockIQ4_NL, d), -1};
    case TensorType::Q4_K:
        return {type, offsetof(quant::BlockQ4_K, d), offsetof(quant::BlockQ4_K, dmin)};
    case TensorType::Q5_K:
        return {type, offsetof(quant::BlockQ5_K, d), offsetof(quant::BlockQ5_K, dmin)};
    case TensorType::Q6_K:
        return {type, offsetof(quant::BlockQ6_K, d), -1};
    default:
        return {type, -1, -1}; // F16; F32 and BF16 are drawn below
    }
}

// A group's matrix: its type and whether it has the 8-row packed copy.
struct Member {
    TensorType type;
    bool packed = false;
};

struct Group {
    const char* name;
    std::vector<Member> members;
};

const Group kGroups[] = {
    {"Q4_1 qkv", {{TensorType::Q4_1}, {TensorType::Q4_1}, {TensorType::Q4_1}}},
    {"Q4_K_M qkv", {{TensorType::Q4_K, true}, {TensorType::Q4_K, true}, {TensorType::Q6_K}}},
    {"Q5_K_M qkv", {{TensorType::Q5_K}, {TensorType::Q5_K}, {TensorType::Q6_K}}},
    {"Q4_0 packed and not",
     {{TensorType::Q4_0, true}, {TensorType::Q4_0}, {TensorType::Q4_0, true}}},
    {"Q4_K packed and not", {{TensorType::Q4_K}, {TensorType::Q4_K, true}}},
    {"Q8_0 gate up", {{TensorType::Q8_0}, {TensorType::Q8_0}}},
    {"F16 gate up", {{TensorType::F16}, {TensorType::F16}}},
    {"BF16 F32", {{TensorType::BF16}, {TensorType::F32}, {TensorType::BF16}}},
    {"four 32-value types",
     {{TensorType::Q5_0}, {TensorType::IQ4_NL}, {TensorType::Q8_0}, {TensorType::Q5_1}}},
};

// Weights of n_rows × n_cols: random bytes with modest scales; F32 and BF16 normal values.
std::vector<uint8_t> random_rows(TensorType type, int64_t n_rows, int64_t n_cols,
                                 std::mt19937& rng) {
    if (type != TensorType::F32 && type != TensorType::BF16) {
        return hearth::test::random_weight_rows(type_case(type), n_rows, n_cols, rng);
    }
    std::normal_distribution<float> value(0.0f, 0.05f);
    const auto n = static_cast<size_t>(n_rows * n_cols);
    std::vector<uint8_t> bytes(n * (type == TensorType::F32 ? 4 : 2));
    for (size_t i = 0; i < n; ++i) {
        const float v = value(rng);
        if (type == TensorType::F32) {
            std::memcpy(bytes.data() + 4 * i, &v, 4);
        } else {
            const auto bf16 = static_cast<uint16_t>(std::bit_cast<uint32_t>(v) >> 16);
            std::memcpy(bytes.data() + 2 * i, &bf16, 2);
        }
    }
    return bytes;
}

// The columns every member's block size divides (F16 and BF16 by 8, for tinyBLAS's order).
int64_t column_block(const Group& g) {
    int64_t block = 8;
    for (const Member& m : g.members) {
        block = std::max<int64_t>(block, hearth::tensor_type_traits(m.type).block_size);
    }
    return block;
}

struct Matrix {
    std::vector<uint8_t> bytes, packed_copy;
    WeightMatrix w;
};

// Checks matmul_group against one matmul() per member for one shape, under the current level.
void check_group(const Group& g, int64_t n_cols, int first_rows, int64_t n_tokens, int n_threads,
                 std::mt19937& rng) {
    static const int64_t kRows[] = {1, 5, 8, 13, 23, 37, 70, 3, 16, 9};
    std::vector<Matrix> matrices(g.members.size());
    for (size_t i = 0; i < g.members.size(); ++i) {
        const Member& m = g.members[i];
        const int64_t n_rows = kRows[(static_cast<size_t>(first_rows) + 3 * i) % std::size(kRows)];
        const auto traits = hearth::tensor_type_traits(m.type);
        Matrix& mat = matrices[i];
        mat.bytes = random_rows(m.type, n_rows, n_cols, rng);
        mat.w = WeightMatrix{m.type, mat.bytes.data(), n_cols, n_rows,
                             static_cast<size_t>(n_cols / traits.block_size) * traits.type_size};
        if (m.packed && repack_supported(m.type)) {
            mat.packed_copy.resize(repacked_bytes(m.type, n_rows, n_cols));
            repack_rows(mat.w, mat.packed_copy.data());
            mat.w.packed = mat.packed_copy.data();
        }
    }
    const int64_t x_stride = n_cols + 5;
    std::vector<float> x(static_cast<size_t>(n_tokens * x_stride));
    std::normal_distribution<float> normal(0.0f, 1.0f);
    for (float& v : x) {
        v = normal(rng);
    }
    x.at(static_cast<size_t>(first_rows % n_cols)) = 11.0f; // an outlier
    size_t scratch_bytes = 0;
    for (const Matrix& mat : matrices) {
        scratch_bytes = std::max(scratch_bytes, activation_row_bytes(mat.w.type, n_cols));
    }
    std::vector<uint8_t> scratch(static_cast<size_t>(n_tokens) * scratch_bytes + 64);
    ThreadPool pool(n_threads);
    std::vector<std::vector<float>> want(matrices.size()), got(matrices.size());
    std::vector<MatmulTarget> targets;
    for (size_t i = 0; i < matrices.size(); ++i) {
        const WeightMatrix& w = matrices[i].w;
        const int64_t y_stride = w.n_rows + static_cast<int64_t>(i); // some with a gap
        want[i].assign(static_cast<size_t>(n_tokens * y_stride), -7.0f);
        got[i] = want[i];
        matmul(w, x.data(), n_tokens, x_stride, want[i].data(), y_stride, scratch.data(), pool);
        targets.push_back({&w, got[i].data(), y_stride});
    }
    matmul_group(targets, x.data(), n_tokens, x_stride, scratch.data(), pool);
    for (size_t i = 0; i < matrices.size(); ++i) {
        for (size_t j = 0; j < want[i].size(); ++j) {
            const float e = want[i][j], o = got[i][j];
            QVERIFY2(std::bit_cast<uint32_t>(o) == std::bit_cast<uint32_t>(e),
                     qPrintable(QString("%1 (%2): member %3 (%4 rows) × %5 cols, %6 tokens, %7 "
                                        "threads: value %8 is %9, matmul() gives %10")
                                    .arg(g.name)
                                    .arg(kernel_level_name(kernel_level()))
                                    .arg(i)
                                    .arg(matrices[i].w.n_rows)
                                    .arg(n_cols)
                                    .arg(n_tokens)
                                    .arg(n_threads)
                                    .arg(j)
                                    .arg(static_cast<double>(o), 0, 'g', 9)
                                    .arg(static_cast<double>(e), 0, 'g', 9)));
        }
    }
}

void check_group_shapes(const Group& g) {
    std::mt19937 rng(5 + static_cast<unsigned>(g.members.size()));
    const int64_t block = column_block(g);
    int first_rows = 0;
    for (const int64_t n_cols : {block, 3 * block, 2304 / block * block + 2 * block}) {
        for (const int n_threads : {1, 2, 3}) {
            for (const int64_t n_tokens : {1, 1, 3, 33}) {
                check_group(g, n_cols, first_rows++, n_tokens, n_threads, rng);
                if (QTest::currentTestFailed()) {
                    return;
                }
            }
        }
    }
}

// The kernel levels this CPU has: portable, avx2 (AVX-512 kernels off), avx2 with them.
struct Level {
    const char* name;
    KernelLevel level;
    bool avx512;
};

const Level kLevels[] = {{"portable", KernelLevel::portable, false},
                         {"avx2", KernelLevel::avx2, false},
                         {"avx512", KernelLevel::avx2, true}};

} // namespace

class TestMatmulGroup : public QObject {
    Q_OBJECT

private slots:
    void cleanupTestCase() {
        set_kernel_level(max_kernel_level());
        set_avx512_kernels(true);
        hearth::set_prefill_numerics(hearth::PrefillNumerics::exact);
    }

    void same_bits_as_one_matmul_each_data() {
        QTest::addColumn<int>("level");
        QTest::addColumn<int>("group");
        QTest::addColumn<bool>("fast");
        for (const bool fast : {false, true}) {
            // The portable level has no int8 path: fast numerics change nothing there.
            for (size_t l = fast ? 1 : 0; l < std::size(kLevels); ++l) {
                for (size_t i = 0; i < std::size(kGroups); ++i) {
                    QTest::newRow(qPrintable(QString("%1 %2%3")
                                                 .arg(kLevels[l].name, kGroups[i].name)
                                                 .arg(fast ? ", fast prefill" : "")))
                        << static_cast<int>(l) << static_cast<int>(i) << fast;
                }
            }
        }
    }

    void same_bits_as_one_matmul_each() {
        QFETCH(int, level);
        QFETCH(int, group);
        QFETCH(bool, fast);
        hearth::set_prefill_numerics(fast ? hearth::PrefillNumerics::fast
                                          : hearth::PrefillNumerics::exact);
        const Level& l = kLevels[static_cast<size_t>(level)];
        if (max_kernel_level() < l.level || !set_kernel_level(l.level)) {
            QSKIP("this CPU lacks the kernel level (or HEARTH_CPU_FEATURES turned it off)");
        }
        if (!set_avx512_kernels(l.avx512) && l.avx512) {
            QSKIP("this CPU lacks AVX512F/BW/VL + VNNI (or HEARTH_CPU_FEATURES turned them off)");
        }
        check_group_shapes(kGroups[static_cast<size_t>(group)]);
    }
};

QTEST_APPLESS_MAIN(TestMatmulGroup)
#include "tst_matmul_group.moc"
