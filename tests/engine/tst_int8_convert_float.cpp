// The float weights' conversion to the int8 prefill layout (cpu/int8_gemm.h): the AVX2 group
// version (int8_convert_float_group_avx2, 8 rows at a time) against the portable definition
// (int8_convert_float_row_portable, its rows interleaved here as the layout states), every byte
// of every block, scales, mins and padding rows included. F16, BF16 and F32 weights; ragged
// groups (1..8 rows of the last group, matrices of 1..19 rows and 37), widths of 1, 2, 25 and 65
// blocks; values normal and extreme: blocks all equal, all zeros of both signs, tiny ranges (a
// few units in the last place), huge values and ranges (an F32 range that overflows to inf),
// and blocks holding +inf, -inf, both, NaN, all NaN, subnormals. Also int8_convert_group's
// choice: the group version where the CPU has AVX2, with the same bits.
#include "cpu/cpu_features.h"
#include "cpu/int8_convert_float.h"
#include "cpu/int8_gemm.h"
#include "cpu/kernels.h"
#include "hearth/quant.h"
#include "hearth/tensor_type.h"
#include "kernel_levels.h"

#include <QObject>
#include <QtTest>
#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <random>
#include <vector>

using hearth::TensorType;
using namespace hearth::cpu;

namespace {

constexpr float kInf = std::numeric_limits<float>::infinity();
constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();

// Block kinds: the first is ordinary weights, the rest the edges.
constexpr int kBlockKinds = 12;

// Value i of a block of kind `kind` (of a row's block number `block`), before its rounding to
// the stored type.
float block_value(int kind, int i, std::mt19937& rng) {
    std::normal_distribution<float> normal(0.0f, 0.02f);
    switch (kind) {
    case 1: // all equal
        return 0.0125f;
    case 2: // zeros of both signs
        return i % 3 == 0 ? -0.0f : 0.0f;
    case 3: // a tiny range: a few steps of the stored type around 1
        return 1.0f + static_cast<float>(i % 4) * 0.0078125f;
    case 4: // huge values, one of each sign (F32: a range past the largest float)
        return i == 7 ? 3e38f : i == 19 ? -3e38f : 1000.0f * normal(rng);
    case 5: // +inf among normal values
        return i == 3 ? kInf : normal(rng);
    case 6: // -inf
        return i == 30 ? -kInf : normal(rng);
    case 7: // both infinities
        return i == 0 ? kInf : i == 31 ? -kInf : normal(rng);
    case 8: // a NaN, first, then normal values
        return i == 0 ? kNaN : normal(rng);
    case 9: // all NaN
        return kNaN;
    case 10: // subnormals (in F16 and BF16 too) and a zero
        return i == 5 ? 0.0f : static_cast<float>(i % 7) * 1e-40f + (i % 2 == 0 ? 1e-7f : 0.0f);
    case 11: // all positive with one outlier
        return i == 13 ? 40.0f : 3.0f + normal(rng);
    default:
        return normal(rng);
    }
}

// n_rows rows of n_cols weights stored as `type`, block kinds mixed across rows and blocks.
std::vector<uint8_t> weights(TensorType type, int64_t n_rows, int64_t n_cols, std::mt19937& rng) {
    std::vector<float> v(static_cast<size_t>(n_rows * n_cols));
    for (int64_t r = 0; r < n_rows; ++r) {
        for (int64_t b = 0; b < n_cols / kInt8Block; ++b) {
            const int kind = static_cast<int>((3 * r + b) % kBlockKinds);
            for (int i = 0; i < kInt8Block; ++i) {
                v[static_cast<size_t>(r * n_cols + kInt8Block * b + i)] = block_value(kind, i, rng);
            }
        }
    }
    if (type == TensorType::F32) {
        std::vector<uint8_t> bytes(v.size() * 4);
        std::memcpy(bytes.data(), v.data(), bytes.size());
        return bytes;
    }
    std::vector<uint16_t> halves(v.size());
    for (size_t i = 0; i < v.size(); ++i) {
        halves[i] = type == TensorType::F16
                        ? hearth::fp32_to_fp16(v[i])
                        : static_cast<uint16_t>(std::bit_cast<uint32_t>(v[i]) >> 16);
    }
    std::vector<uint8_t> bytes(halves.size() * 2);
    std::memcpy(bytes.data(), halves.data(), bytes.size());
    return bytes;
}

// The group of rows [row0, row0 + 8) by the definition: each row through the portable version,
// interleaved as int8_gemm.h lays the blocks out; rows past n_rows all zero.
std::vector<BlockInt8x8> portable_group(const WeightMatrix& w, int64_t row0) {
    const int64_t n_blocks = w.n_cols / kInt8Block;
    std::vector<BlockInt8x8> group(static_cast<size_t>(n_blocks));
    std::memset(group.data(), 0, group.size() * sizeof(BlockInt8x8));
    std::vector<uint8_t> q(static_cast<size_t>(w.n_cols));
    std::vector<float> scale(static_cast<size_t>(n_blocks)), min(static_cast<size_t>(n_blocks));
    for (int r = 0; r < kInt8Rows && row0 + r < w.n_rows; ++r) {
        int8_convert_float_row_portable(
            w.type, static_cast<const uint8_t*>(w.data) + (row0 + r) * w.row_bytes, w.n_cols,
            q.data(), scale.data(), min.data());
        for (int64_t b = 0; b < n_blocks; ++b) {
            BlockInt8x8& blk = group[static_cast<size_t>(b)];
            for (int h = 0; h < 2; ++h) {
                blk.scale[h][r] = scale[static_cast<size_t>(b)];
                blk.min[h][r] = min[static_cast<size_t>(b)];
            }
            for (int i = 0; i < kInt8Block; ++i) {
                blk.qs[32 * (i / 4) + 4 * r + i % 4] = q[static_cast<size_t>(32 * b + i)];
            }
        }
    }
    return group;
}

QString describe(TensorType type, int64_t n_rows, int64_t n_cols, int64_t row0, size_t byte) {
    const auto name = hearth::tensor_type_name(type);
    return QStringLiteral("%1, %2 × %3, group at row %4: first difference at byte %5 of the group")
        .arg(QString::fromLatin1(name.data(), static_cast<qsizetype>(name.size())))
        .arg(n_rows)
        .arg(n_cols)
        .arg(row0)
        .arg(byte);
}

} // namespace

class TestInt8ConvertFloat : public QObject {
    Q_OBJECT

private slots:
    void groupVersionMatchesDefinition() {
        if (const char* why = hearth::test::avx2_level_unavailable("the AVX2 float conversion")) {
            QSKIP(why);
        }
        int groups = 0;
        for (TensorType type : {TensorType::F16, TensorType::BF16, TensorType::F32}) {
            const size_t width = type == TensorType::F32 ? 4 : 2;
            std::mt19937 rng(7 + static_cast<unsigned>(type));
            for (int64_t n_cols : {32, 64, 800, 2080}) {
                for (int64_t n_rows = 1; n_rows <= 37; n_rows += n_rows < 19 ? 1 : 18) {
                    const auto bytes = weights(type, n_rows, n_cols, rng);
                    const WeightMatrix w{type, bytes.data(), n_cols, n_rows,
                                         static_cast<size_t>(n_cols) * width};
                    const size_t n_blocks = static_cast<size_t>(n_cols / kInt8Block);
                    for (int64_t row0 = 0; row0 < n_rows; row0 += kInt8Rows) {
                        const auto want = portable_group(w, row0);
                        // Filled with a pattern first, so a byte left unwritten shows.
                        std::vector<BlockInt8x8> got(n_blocks), chosen(n_blocks);
                        std::memset(got.data(), 0xa5, n_blocks * sizeof(BlockInt8x8));
                        std::memset(chosen.data(), 0x5a, n_blocks * sizeof(BlockInt8x8));
                        const auto rows = static_cast<int>(std::min<int64_t>(8, n_rows - row0));
                        int8_convert_float_group_avx2(type, bytes.data() + row0 * w.row_bytes,
                                                      w.row_bytes, n_cols, rows, got.data());
                        int8_convert_group(w, row0, chosen.data());
                        const auto* a = reinterpret_cast<const uint8_t*>(want.data());
                        const auto* b = reinterpret_cast<const uint8_t*>(got.data());
                        const auto* c = reinterpret_cast<const uint8_t*>(chosen.data());
                        const size_t size = n_blocks * sizeof(BlockInt8x8);
                        size_t first = 0;
                        while (first < size && a[first] == b[first] && a[first] == c[first]) {
                            ++first;
                        }
                        QVERIFY2(first == size,
                                 qPrintable(describe(type, n_rows, n_cols, row0, first)));
                        ++groups;
                    }
                }
            }
        }
        qInfo("%d groups equal to the definition, byte for byte", groups);
    }

    // The definition on the edges, value by value: what each kind of block turns into.
    void definitionOnExtremes() {
        std::mt19937 rng(3);
        uint8_t q[kInt8Block];
        float scale = 0.0f;
        float min = 0.0f;
        const auto convert = [&](int kind) {
            float v[kInt8Block];
            for (int i = 0; i < kInt8Block; ++i) {
                v[i] = block_value(kind, i, rng);
            }
            int8_convert_float_row_portable(TensorType::F32, v, kInt8Block, q, &scale, &min);
        };
        // All equal: no range, every q 0, the value carried by the min alone.
        convert(1);
        QCOMPARE(scale, 0.0f);
        QCOMPARE(min, -0.0125f);
        QCOMPARE(std::count(q, q + kInt8Block, 0), kInt8Block);
        // Zeros of both signs: +0 scale and min (their bits do not depend on the zeros' order).
        convert(2);
        QCOMPARE(std::bit_cast<uint32_t>(scale), 0u);
        QCOMPARE(std::bit_cast<uint32_t>(min), 0u);
        // A NaN is left out of the range and gets q 0; the rest still spans 0..255.
        convert(8);
        QVERIFY(std::isfinite(scale) && scale > 0.0f);
        QCOMPARE(q[0], uint8_t{0});
        QCOMPARE(*std::max_element(q + 1, q + kInt8Block), uint8_t{255});
        QCOMPARE(*std::min_element(q + 1, q + kInt8Block), uint8_t{0});
        // All NaN: no value taken, lo = +inf, so min = -inf and the outputs are not finite.
        convert(9);
        QCOMPARE(scale, 0.0f);
        QCOMPARE(min, -kInf);
        // Both infinities: an infinite range, every q 0 (inf × 0 is NaN, rounded to 0).
        convert(7);
        QCOMPARE(scale, kInf);
        QCOMPARE(std::count(q, q + kInt8Block, 0), kInt8Block);
        // A range past the largest float: inf, so the scale is inf and every q 0.
        convert(4);
        QCOMPARE(scale, kInf);
        QCOMPARE(std::count(q, q + kInt8Block, 0), kInt8Block);
    }
};

QTEST_GUILESS_MAIN(TestInt8ConvertFloat)
#include "tst_int8_convert_float.moc"
