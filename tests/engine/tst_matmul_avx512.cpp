// The AVX-512 single-token kernels (vec_dot_avx512.cpp, gemv_q4_1_avx512.cpp,
// repack_avx512.cpp) against the AVX2 ones, bit for bit, through matmul(): every type that has
// one, packed and unpacked, on ragged shapes (row counts that are not multiples of the 2-, 4-
// and 8-row register groups or of the 8-row packed groups, one block per row up to many), one
// and two threads (chunk boundaries), random weight bytes (every quant value, -128 in Q8_0
// included) and activations with an outlier. The AVX2 kernels are held to ggml's bits by
// tst_matmul, tst_matmul_lowbit_ggml and the architecture references, so equal bits here mean
// ggml's bits. The kernels' software prefetch (gemv_prefetch.h) reaches past the last row: a
// matrix that ends where a mapping does, before an inaccessible page, must run all the same.
#include "cpu/cpu_features.h"
#include "cpu/kernels.h"
#include "cpu/matmul.h"
#include "cpu/repack.h"
#include "cpu/thread_pool.h"
#include "hearth/quant.h"
#include "hearth/tensor_type.h"
#include "kernel_levels.h"
#include "quant/blocks.h"
#include "random_weights.h"

#include <QObject>
#include <QtTest>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <random>
#include <sys/mman.h>
#include <unistd.h>
#include <vector>

using hearth::TensorType;
using namespace hearth::cpu;
namespace quant = hearth::quant;

namespace {

using TypeCase = hearth::test::WeightTypeCase;

const TypeCase kCases[] = {
    {TensorType::Q4_0, offsetof(quant::BlockQ4_0, d), -1},
    {TensorType::Q4_1, offsetof(quant::BlockQ4_1, d), offsetof(quant::BlockQ4_1, m)},
    {TensorType::Q5_0, offsetof(quant::BlockQ5_0, d), -1},
    {TensorType::Q5_1, offsetof(quant::BlockQ5_1, d), offsetof(quant::BlockQ5_1, m)},
    {TensorType::Q8_0, offsetof(quant::BlockQ8_0, d), -1},
    {TensorType::IQ4_NL, offsetof(quant::BlockIQ4_NL, d), -1},
    {TensorType::Q4_K, offsetof(quant::BlockQ4_K, d), offsetof(quant::BlockQ4_K, dmin)},
    {TensorType::Q5_K, offsetof(quant::BlockQ5_K, d), offsetof(quant::BlockQ5_K, dmin)},
    {TensorType::Q6_K, offsetof(quant::BlockQ6_K, d), -1},
    {TensorType::F16, -1, -1},
};

QString type_name(TensorType type) {
    const std::string_view name = hearth::tensor_type_name(type);
    return QString::fromLatin1(name.data(), static_cast<qsizetype>(name.size()));
}

// y for one token with the AVX-512 kernels on or off.
std::vector<float> run(const WeightMatrix& w, const std::vector<float>& x, ThreadPool& pool,
                       bool avx512) {
    set_avx512_kernels(avx512);
    std::vector<uint8_t> scratch(activation_row_bytes(w.type, w.n_cols));
    std::vector<float> y(static_cast<size_t>(w.n_rows), -1.0f);
    matmul(w, x.data(), 1, w.n_cols, y.data(), w.n_rows, scratch.data(), pool);
    return y;
}

void check_type(const TypeCase& c, bool packed) {
    // F16: multiples of 8 columns, which take tinyBLAS's order when the rows are a multiple
    // of 4 (the other row counts keep vec_dot's, with no AVX-512 kernel).
    const int64_t traits_block = hearth::tensor_type_traits(c.type).block_size;
    const int64_t block = c.type == TensorType::F16 ? 8 : traits_block;
    std::mt19937 rng(91 + static_cast<unsigned>(c.type));
    ThreadPool one(1), two(2);
    for (const int64_t n_cols : {block, 3 * block, 2304 / block * block + 2 * block}) {
        for (const int64_t n_rows : {1, 2, 3, 4, 5, 8, 9, 12, 13, 16, 23, 31, 37, 70}) {
            const auto traits = hearth::tensor_type_traits(c.type);
            const size_t row_bytes = static_cast<size_t>(n_cols / traits_block) * traits.type_size;
            const std::vector<uint8_t> bytes =
                hearth::test::random_weight_rows(c, n_rows, n_cols, rng);
            WeightMatrix w{c.type, bytes.data(), n_cols, n_rows, row_bytes};
            std::vector<uint8_t> packed_copy;
            if (packed) {
                packed_copy.resize(repacked_bytes(c.type, n_rows, n_cols));
                repack_rows(w, packed_copy.data());
                w.packed = packed_copy.data();
            }
            std::vector<float> x(static_cast<size_t>(n_cols));
            std::normal_distribution<float> normal(0.0f, 1.0f);
            for (float& v : x) {
                v = normal(rng);
            }
            x.at(static_cast<size_t>(n_rows % n_cols)) = 11.0f; // an outlier
            ThreadPool& pool = n_rows % 2 ? one : two;
            const std::vector<float> want = run(w, x, pool, false);
            const std::vector<float> got = run(w, x, pool, true);
            for (int64_t r = 0; r < n_rows; ++r) {
                const float g = got[static_cast<size_t>(r)];
                const float e = want[static_cast<size_t>(r)];
                QVERIFY2(std::bit_cast<uint32_t>(g) == std::bit_cast<uint32_t>(e),
                         qPrintable(QString("%1%2 %3×%4: row %5 avx512 %6, avx2 %7")
                                        .arg(type_name(c.type))
                                        .arg(packed ? " packed" : "")
                                        .arg(n_rows)
                                        .arg(n_cols)
                                        .arg(r)
                                        .arg(static_cast<double>(g), 0, 'g', 9)
                                        .arg(static_cast<double>(e), 0, 'g', 9)));
            }
        }
    }
}

// `bytes` copied to the end of a read-write mapping that an inaccessible page follows: a read
// one byte past them faults.
class BeforeGuardPage {
public:
    explicit BeforeGuardPage(const std::vector<uint8_t>& bytes) {
        const auto page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
        size_ = (bytes.size() + page - 1) / page * page + page;
        void* at = mmap(nullptr, size_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (at == MAP_FAILED) {
            return;
        }
        base_ = static_cast<uint8_t*>(at);
        if (mprotect(base_ + size_ - page, page, PROT_NONE) != 0) {
            return;
        }
        data_ = base_ + size_ - page - bytes.size();
        std::memcpy(data_, bytes.data(), bytes.size());
    }
    BeforeGuardPage(const BeforeGuardPage&) = delete;
    BeforeGuardPage& operator=(const BeforeGuardPage&) = delete;
    ~BeforeGuardPage() {
        if (base_) {
            munmap(base_, size_);
        }
    }
    const uint8_t* data() const { return data_; } // nullptr: the mapping failed

private:
    uint8_t* base_ = nullptr;
    uint8_t* data_ = nullptr;
    size_t size_ = 0;
};

// The kernels' lookahead past the last row lands in the guard page: the results must still
// come, with the AVX2 kernels' bits.
void check_before_guard_page(const TypeCase& c, bool packed) {
    const int64_t block = hearth::tensor_type_traits(c.type).block_size;
    std::mt19937 rng(17 + static_cast<unsigned>(c.type));
    ThreadPool one(1), two(2);
    for (const int64_t n_cols : {block, 2 * block, 8 * block}) {
        for (const int64_t n_rows : {1, 3, 8, 13, 37}) {
            const auto traits = hearth::tensor_type_traits(c.type);
            const size_t row_bytes = static_cast<size_t>(n_cols / block) * traits.type_size;
            const std::vector<uint8_t> bytes =
                hearth::test::random_weight_rows(c, n_rows, n_cols, rng);
            std::vector<uint8_t> packed_bytes;
            WeightMatrix w{c.type, bytes.data(), n_cols, n_rows, row_bytes};
            if (packed) {
                packed_bytes.resize(repacked_bytes(c.type, n_rows, n_cols));
                repack_rows(w, packed_bytes.data());
            }
            const BeforeGuardPage guarded(packed ? packed_bytes : bytes);
            QVERIFY(guarded.data() != nullptr);
            if (packed) {
                w.packed = guarded.data();
            } else {
                w.data = guarded.data();
            }
            std::vector<float> x(static_cast<size_t>(n_cols));
            std::normal_distribution<float> normal(0.0f, 1.0f);
            for (float& v : x) {
                v = normal(rng);
            }
            ThreadPool& pool = n_rows % 2 ? one : two;
            const std::vector<float> want = run(w, x, pool, false);
            const std::vector<float> got = run(w, x, pool, true);
            for (int64_t r = 0; r < n_rows; ++r) {
                QVERIFY2(std::bit_cast<uint32_t>(got[static_cast<size_t>(r)]) ==
                             std::bit_cast<uint32_t>(want[static_cast<size_t>(r)]),
                         qPrintable(QString("%1%2 %3×%4 before a guard page: row %5")
                                        .arg(type_name(c.type))
                                        .arg(packed ? " packed" : "")
                                        .arg(n_rows)
                                        .arg(n_cols)
                                        .arg(r)));
            }
        }
    }
}

} // namespace

class TestMatmulAvx512 : public QObject {
    Q_OBJECT

private slots:
    void initTestCase() {
        if (const char* why = hearth::test::enable_avx512_kernels()) {
            QSKIP(why);
        }
    }

    void cleanupTestCase() { set_avx512_kernels(true); }

    // Each type the AVX-512 family covers has a kernel there, so a type dropping out of the
    // table shows here rather than as silently slower decode.
    void every_type_has_a_kernel() {
        for (const TypeCase& c : kCases) {
            const bool has = c.type == TensorType::Q4_K || gemv_avx512(c.type) != nullptr ||
                             gemv_tinyblas_avx512(c.type) != nullptr;
            QVERIFY2(has, qPrintable(type_name(c.type)));
        }
        QVERIFY(repack_supported(TensorType::Q4_0) && repack_supported(TensorType::Q4_K));
    }

    void single_token_bits_data() {
        QTest::addColumn<int>("index");
        QTest::addColumn<bool>("packed");
        for (size_t i = 0; i < std::size(kCases); ++i) {
            const TensorType type = kCases[i].type;
            if (type != TensorType::Q4_K) {
                QTest::newRow(qPrintable(type_name(type))) << static_cast<int>(i) << false;
            }
            if (repack_supported(type)) {
                QTest::newRow(qPrintable(type_name(type) + " packed"))
                    << static_cast<int>(i) << true;
            }
        }
    }

    void single_token_bits() {
        QFETCH(int, index);
        QFETCH(bool, packed);
        check_type(kCases[static_cast<size_t>(index)], packed);
    }

    // The same cases, each matrix ending where its mapping does.
    void lookahead_past_the_weights_data() { single_token_bits_data(); }

    void lookahead_past_the_weights() {
        QFETCH(int, index);
        QFETCH(bool, packed);
        check_before_guard_page(kCases[static_cast<size_t>(index)], packed);
    }
};

QTEST_APPLESS_MAIN(TestMatmulAvx512)
#include "tst_matmul_avx512.moc"
