// The bit comparison of the single-token (gemv) kernel tests: a kernel's result against the
// per-row kernel's, float by float, and the message that names a mismatch.
#pragma once

#include <QString>
#include <QtTest>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <vector>

namespace hearth::test {

// Whether a and b are the same float to the bit (a NaN equals its own bits, +0 is not -0).
inline bool same_bits(float a, float b) {
    return std::bit_cast<uint32_t>(a) == std::bit_cast<uint32_t>(b);
}

// "WHAT: row R gemv GOT, want WANT" (WANT: the per-row kernel's or the reference order's), the
// values to 9 significant digits (every float's bits).
inline QString gemv_mismatch(const QString& what, int64_t r, float got, float want) {
    return QString("%1: row %2 gemv %3, want %4")
        .arg(what)
        .arg(r)
        .arg(static_cast<double>(got), 0, 'g', 9)
        .arg(static_cast<double>(want), 0, 'g', 9);
}

// Fails the calling test at the first row of got whose bits differ from want's.
inline void expect_same_bits(const std::vector<float>& got, const std::vector<float>& want,
                             const QString& what) {
    QCOMPARE(got.size(), want.size());
    for (size_t r = 0; r < want.size(); ++r) {
        QVERIFY2(same_bits(got[r], want[r]),
                 qPrintable(gemv_mismatch(what, static_cast<int64_t>(r), got[r], want[r])));
    }
}

} // namespace hearth::test
