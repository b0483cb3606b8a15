// Kernel tests of GPU dequantization (kernels/dequantize.cu): every type the kernels handle,
// on random valid blocks at sizes that are and are not multiples of the launch tile, bit for
// bit against the CPU dequantizer (hearth::dequantize), and against the numpy goldens of
// tests/data/quant/. Without a CUDA device the suite reports "skipped: no CUDA device" (set
// HEARTH_REQUIRE_CUDA=1, as scripts/gpu-check does, to make that a failure instead).
#include "hearth/cuda_device.h"
#include "hearth/quant.h"
#include "hearth/tensor_type.h"
#include "test_support.h"

#include "dequantize.cuh"
#include "random_weights.h"

#include <cuda_runtime.h> // cudaMalloc for typed pointers

#include <QFile>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QObject>
#include <QtTest>
#include <bit>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <random>
#include <vector>

using hearth::TensorType;

namespace {

// Every type the GPU dequantizes, with the byte offsets of its f16 scale fields
// (random_weights.h). Random bytes are a valid block once those scales are finite
// (random_blocks; IQ1_M's scale is spread over its scale words); the element types (F32, F16,
// BF16) stay fully random, NaN and Inf bit patterns included.
using cuda_test::type_cases;
using cuda_test::TypeCase;

// Block counts: one block, a few, and counts that leave a partial last launch tile (a tile is
// 4096 values: 128 blocks of 32, 16 of 256, 512 groups of 8 elements for F32/F16/BF16).
const int kBlockCounts[] = {1, 7, 129, 1001, 20011};

std::vector<uint8_t> random_blocks(const TypeCase& c, int64_t n_blocks, uint64_t seed) {
    const auto traits = hearth::tensor_type_traits(c.type);
    std::vector<uint8_t> bytes(static_cast<size_t>(n_blocks) * traits.type_size);
    std::mt19937_64 rng(seed);
    for (auto& byte : bytes) {
        byte = static_cast<uint8_t>(rng());
    }
    for (int64_t b = 0; b < n_blocks; ++b) {
        for (const int offset : c.f16_offsets) {
            uint8_t* p = bytes.data() + b * traits.type_size + offset;
            auto bits = static_cast<uint16_t>(p[0] | p[1] << 8);
            if ((bits & 0x7c00) == 0x7c00) {
                bits &= ~0x4000; // Inf/NaN exponent 11111 -> 01111: finite
            }
            p[0] = static_cast<uint8_t>(bits);
            p[1] = static_cast<uint8_t>(bits >> 8);
        }
        if (c.type == TensorType::IQ1_M) {
            // The f16's exponent is bits 10..14: bits 2..3 of byte 53's high nibble and 0..2 of
            // byte 55's. All ones (Inf/NaN) -> clear f16 bit 14 (bit 6 of byte 55): finite.
            uint8_t* block = bytes.data() + b * traits.type_size;
            if ((block[53] & 0xc0) == 0xc0 && (block[55] & 0x70) == 0x70) {
                block[55] &= ~0x40;
            }
        }
    }
    return bytes;
}

QString hex(uint32_t value, int digits) {
    return QStringLiteral("0x%1").arg(value, digits, 16, QLatin1Char('0'));
}

// Bitwise equality (NaN payloads and signed zeros count); on failure `where` says where.
bool same_bits(const float* got, const float* want, int64_t n, QString* where) {
    if (std::memcmp(got, want, static_cast<size_t>(n) * sizeof(float)) == 0) {
        return true;
    }
    int64_t mismatches = 0, first = -1;
    for (int64_t i = 0; i < n; ++i) {
        if (std::bit_cast<uint32_t>(got[i]) != std::bit_cast<uint32_t>(want[i])) {
            first = first < 0 ? i : first;
            ++mismatches;
        }
    }
    *where = QStringLiteral("%1 of %2 values differ; first at %3: got %4 (%5), want %6 (%7)")
                 .arg(mismatches)
                 .arg(n)
                 .arg(first)
                 .arg(hex(std::bit_cast<uint32_t>(got[first]), 8))
                 .arg(double(got[first]))
                 .arg(hex(std::bit_cast<uint32_t>(want[first]), 8))
                 .arg(double(want[first]));
    return false;
}

bool same_bits(const uint16_t* got, const uint16_t* want, int64_t n, QString* where) {
    for (int64_t i = 0; i < n; ++i) {
        if (got[i] != want[i]) {
            *where = QStringLiteral("first difference at %1: got %2, want %3")
                         .arg(i)
                         .arg(hex(got[i], 4))
                         .arg(hex(want[i], 4));
            return false;
        }
    }
    return true;
}

// What the F16-output kernel must produce: the CPU's float32 values rounded to binary16.
std::vector<uint16_t> to_f16(const std::vector<float>& values) {
    std::vector<uint16_t> out(values.size());
    for (size_t i = 0; i < values.size(); ++i) {
        out[i] = hearth::fp32_to_fp16(values[i]);
    }
    return out;
}

// $HEARTH_TEST_DATA_DIR overrides the compiled-in data folder: scripts/gpu-check runs binaries
// built on another machine, in a checkout at another path.
QString quant_dir() {
    const QString env = qEnvironmentVariable("HEARTH_TEST_DATA_DIR");
    const QString data = env.isEmpty() ? QString::fromStdString(hearth::test::data_dir().string()) : env;
    return data + "/quant";
}

QByteArray read_quant_file(const QString& name) {
    QFile file(quant_dir() + "/" + name);
    if (!file.open(QIODevice::ReadOnly)) {
        return {};
    }
    return file.readAll();
}

// The CPU's values for `bytes`; fails the test on error.
#define CPU_DEQUANTIZE(type, bytes, n, out)                                                        \
    std::vector<float> out(static_cast<size_t>(n));                                               \
    {                                                                                              \
        const auto cpu_result = hearth::dequantize(type, (bytes), out.data(), (n));                \
        QVERIFY2(cpu_result.has_value(), cpu_result ? "" : cpu_result.error().message.c_str());    \
    }

#define CUDA_VERIFY(call) QCOMPARE(cudaError_t(call), cudaSuccess)

} // namespace

class TstCudaDequantize : public QObject {
    Q_OBJECT

private slots:
    void initTestCase() {
        const auto devices = hearth::list_cuda_devices();
        if (!devices) {
            // The no-device path must still be a proper error value with a reason.
            QCOMPARE(devices.error().code, hearth::ErrorCode::device);
            QVERIFY(!devices.error().message.empty());
            const QString reason = QString::fromStdString(devices.error().message);
            const QString message = reason.startsWith("no CUDA device")
                                        ? "skipped: " + reason
                                        : "skipped: no CUDA device: " + reason;
            if (std::getenv("HEARTH_REQUIRE_CUDA")) {
                QFAIL(qPrintable("HEARTH_REQUIRE_CUDA is set but " + message));
            }
            QSKIP(qPrintable(message));
        }
    }

    // The listing describes a real device: a name, memory, multiprocessors.
    void device_listing_is_sane() {
        const auto devices = hearth::list_cuda_devices();
        QVERIFY2(devices.has_value(), devices ? "" : devices.error().message.c_str());
        QVERIFY(!devices->empty());
        for (size_t i = 0; i < devices->size(); ++i) {
            const hearth::CudaDeviceInfo& d = (*devices)[i];
            qInfo("device %d: %s, compute %d.%d, %d SMs, %.1f of %.1f GiB free, %.0f GB/s peak",
                  d.index, d.name.c_str(), d.cc_major, d.cc_minor, d.sm_count,
                  double(d.free_bytes) / (1 << 30), double(d.total_bytes) / (1 << 30),
                  d.memory_bandwidth_gbs);
            QCOMPARE(d.index, int(i));
            QVERIFY(!d.name.empty());
            QVERIFY(d.free_bytes > 0);
            QVERIFY(d.total_bytes >= d.free_bytes);
            QVERIFY(d.cc_major >= 3);
            QVERIFY(d.sm_count > 0);
            QVERIFY(d.memory_bandwidth_gbs >= 0.0);
        }
    }

    // The GPU handles exactly the types listed here, all of which the CPU handles.
    void supported_types() {
        QSet<int> listed;
        for (const TypeCase& c : type_cases()) {
            listed.insert(static_cast<int>(c.type));
        }
        for (int id = 0; id < 64; ++id) {
            const bool gpu = hearth::kernels::can_launch_dequantize(id);
            QCOMPARE(gpu, listed.contains(id));
            if (gpu) {
                QVERIFY(hearth::can_dequantize(static_cast<TensorType>(id)));
            }
        }
    }

    void matches_cpu_data() {
        QTest::addColumn<int>("type_id");
        QTest::addColumn<int>("n_blocks");
        for (const TypeCase& c : type_cases()) {
            for (const int n_blocks : kBlockCounts) {
                const QString row = QStringLiteral("%1/%2 blocks")
                                        .arg(QString::fromUtf8(hearth::tensor_type_name(c.type)))
                                        .arg(n_blocks);
                QTest::newRow(qPrintable(row)) << static_cast<int>(c.type) << n_blocks;
            }
        }
    }

    // Random valid blocks: GPU float32 and binary16 outputs against the CPU, bit for bit.
    void matches_cpu() {
        QFETCH(int, type_id);
        QFETCH(int, n_blocks);
        const auto type = static_cast<TensorType>(type_id);
        const TypeCase& c = cuda_test::type_case(type);
        const auto traits = hearth::tensor_type_traits(type);
        const int64_t n = int64_t(n_blocks) * traits.block_size;
        const uint64_t seed = 0x9e3779b97f4a7c15ull ^ (uint64_t(type_id) << 32) ^ uint64_t(n_blocks);
        const std::vector<uint8_t> blocks = random_blocks(c, n_blocks, seed);
        CPU_DEQUANTIZE(type, blocks.data(), n, want);

        QString where;
        std::vector<float> got(static_cast<size_t>(n));
        std::memset(got.data(), 0xff, got.size() * sizeof(float)); // poisoned: NaN
        const auto result = hearth::cuda_dequantize(type, blocks.data(), got.data(), n);
        QVERIFY2(result.has_value(), result ? "" : result.error().message.c_str());
        QVERIFY2(same_bits(got.data(), want.data(), n, &where), qPrintable("f32 output: " + where));

        const std::vector<uint16_t> want_f16 = to_f16(want);
        std::vector<uint16_t> got_f16(static_cast<size_t>(n), 0xffff); // poisoned: NaN
        const auto result_f16 = hearth::cuda_dequantize_f16(type, blocks.data(), got_f16.data(), n);
        QVERIFY2(result_f16.has_value(), result_f16 ? "" : result_f16.error().message.c_str());
        QVERIFY2(same_bits(got_f16.data(), want_f16.data(), n, &where),
                 qPrintable("f16 output: " + where));
    }

    void golden_data() {
        QTest::addColumn<QString>("name");
        QTest::addColumn<int>("type_id");
        QTest::addColumn<qint64>("n_elements");
        const QJsonArray cases =
            QJsonDocument::fromJson(read_quant_file("index.json")).object().value("cases").toArray();
        QVERIFY2(!cases.isEmpty(), "tests/data/quant/index.json missing or empty");
        for (const QJsonValue& value : cases) {
            const QJsonObject c = value.toObject();
            if (!hearth::kernels::can_launch_dequantize(c.value("type_id").toInt())) {
                continue;
            }
            const QString name = c.value("name").toString();
            QTest::newRow(qPrintable(name))
                << name << c.value("type_id").toInt() << qint64(c.value("n_elements").toInteger());
        }
    }

    // The numpy goldens (special values included: Inf/NaN scales, extremes), bit for bit.
    void golden() {
        QFETCH(QString, name);
        QFETCH(int, type_id);
        QFETCH(qint64, n_elements);
        const QByteArray blocks = read_quant_file(name + ".blocks.bin");
        const QByteArray expected = read_quant_file(name + ".expected.f32");
        QCOMPARE(expected.size(), n_elements * 4);
        std::vector<float> want(static_cast<size_t>(n_elements));
        std::memcpy(want.data(), expected.constData(), static_cast<size_t>(expected.size()));

        std::vector<float> got(static_cast<size_t>(n_elements));
        std::memset(got.data(), 0xff, got.size() * sizeof(float));
        const auto result =
            hearth::cuda_dequantize(static_cast<TensorType>(type_id), blocks.constData(), got.data(), n_elements);
        QVERIFY2(result.has_value(), result ? "" : result.error().message.c_str());
        QString where;
        QVERIFY2(same_bits(got.data(), want.data(), n_elements, &where), qPrintable(where));
    }

    void unaligned_pointers_data() {
        QTest::addColumn<int>("type_id");
        QTest::addColumn<int>("src_offset");
        QTest::addColumn<int>("dst_offset");
        const TensorType types[] = {TensorType::F32,  TensorType::F16,   TensorType::BF16,
                                    TensorType::Q4_0, TensorType::Q8_0,  TensorType::Q4_K,
                                    TensorType::Q6_K, TensorType::MXFP4, TensorType::IQ4_XS,
                                    TensorType::IQ2_XXS, TensorType::IQ3_XXS, TensorType::IQ1_M};
        for (const TensorType type : types) {
            const QString name = QString::fromUtf8(hearth::tensor_type_name(type));
            QTest::newRow(qPrintable(name + "/src+1")) << int(type) << 1 << 0;
            QTest::newRow(qPrintable(name + "/src+2 dst+1")) << int(type) << 2 << 1;
            QTest::newRow(qPrintable(name + "/src+8 dst+2")) << int(type) << 8 << 2;
        }
    }

    // Device pointers that are not 16-byte aligned take the narrow-access paths: same values.
    // src_offset is in bytes, dst_offset in output elements.
    void unaligned_pointers() {
        QFETCH(int, type_id);
        QFETCH(int, src_offset);
        QFETCH(int, dst_offset);
        const auto type = static_cast<TensorType>(type_id);
        const TypeCase& c = cuda_test::type_case(type);
        const auto traits = hearth::tensor_type_traits(type);
        const int n_blocks = 1001;
        const int64_t n = int64_t(n_blocks) * traits.block_size;
        const std::vector<uint8_t> blocks = random_blocks(c, n_blocks, 42 + type_id);
        CPU_DEQUANTIZE(type, blocks.data(), n, want);
        const std::vector<uint16_t> want_f16 = to_f16(want);

        uint8_t* d_src = nullptr;
        uint8_t* d_dst = nullptr;
        const size_t dst_bytes = size_t(n + dst_offset) * sizeof(float);
        CUDA_VERIFY(cudaMalloc(&d_src, blocks.size() + size_t(src_offset)));
        CUDA_VERIFY(cudaMalloc(&d_dst, dst_bytes));
        const auto free_buffers = qScopeGuard([&] {
            cudaFree(d_src);
            cudaFree(d_dst);
        });
        CUDA_VERIFY(cudaMemcpy(d_src + src_offset, blocks.data(), blocks.size(), cudaMemcpyHostToDevice));

        QString where;
        std::vector<float> got(static_cast<size_t>(n));
        CUDA_VERIFY(cudaMemset(d_dst, 0xff, dst_bytes));
        float* dst = reinterpret_cast<float*>(d_dst) + dst_offset;
        CUDA_VERIFY(hearth::kernels::launch_dequantize(type_id, d_src + src_offset, dst, n, nullptr));
        CUDA_VERIFY(cudaDeviceSynchronize());
        CUDA_VERIFY(cudaMemcpy(got.data(), dst, size_t(n) * sizeof(float), cudaMemcpyDeviceToHost));
        QVERIFY2(same_bits(got.data(), want.data(), n, &where), qPrintable("f32 output: " + where));

        std::vector<uint16_t> got_f16(static_cast<size_t>(n));
        CUDA_VERIFY(cudaMemset(d_dst, 0xff, dst_bytes));
        uint16_t* dst_f16 = reinterpret_cast<uint16_t*>(d_dst) + dst_offset;
        CUDA_VERIFY(hearth::kernels::launch_dequantize_f16(type_id, d_src + src_offset, dst_f16, n, nullptr));
        CUDA_VERIFY(cudaDeviceSynchronize());
        CUDA_VERIFY(cudaMemcpy(got_f16.data(), dst_f16, size_t(n) * sizeof(uint16_t), cudaMemcpyDeviceToHost));
        QVERIFY2(same_bits(got_f16.data(), want_f16.data(), n, &where), qPrintable("f16 output: " + where));
    }

    // Launchers refuse what they cannot do with an error code, and leave no error behind.
    void launcher_rejects_bad_arguments() {
        namespace k = hearth::kernels;
        float* dst = nullptr;
        uint8_t* src = nullptr;
        CUDA_VERIFY(cudaMalloc(&dst, 64 * sizeof(float)));
        CUDA_VERIFY(cudaMalloc(&src, 64 * sizeof(float)));
        const auto free_buffers = qScopeGuard([&] {
            cudaFree(src);
            cudaFree(dst);
        });
        QCOMPARE(k::launch_dequantize(int(TensorType::Q8_K), src, dst, 256, nullptr), cudaErrorNotSupported);
        QCOMPARE(k::launch_dequantize(12345, src, dst, 32, nullptr), cudaErrorNotSupported);
        QCOMPARE(k::launch_dequantize(int(TensorType::Q4_0), src, dst, 33, nullptr), cudaErrorInvalidValue);
        QCOMPARE(k::launch_dequantize(int(TensorType::Q4_0), src, dst, -32, nullptr), cudaErrorInvalidValue);
        QCOMPARE(k::launch_dequantize(int(TensorType::F32), nullptr, dst, 1, nullptr), cudaErrorInvalidValue);
        QCOMPARE(k::launch_dequantize_f16(int(TensorType::Q4_K), src, nullptr, 256, nullptr), cudaErrorInvalidValue);
        QCOMPARE(k::launch_dequantize(int(TensorType::Q4_0), nullptr, nullptr, 0, nullptr), cudaSuccess);
        QCOMPARE(cudaGetLastError(), cudaSuccess);
        CUDA_VERIFY(cudaDeviceSynchronize());
    }

    // The host helper validates as hearth::dequantize does, before touching the device.
    void helper_rejects_bad_arguments() {
        float out[64] = {};
        const uint8_t in[256] = {};
        auto r = hearth::cuda_dequantize(TensorType::Q8_K, in, out, 256);
        QVERIFY(!r);
        QCOMPARE(r.error().code, hearth::ErrorCode::unsupported);
        r = hearth::cuda_dequantize(TensorType::Q4_0, in, out, 33);
        QVERIFY(!r);
        QCOMPARE(r.error().code, hearth::ErrorCode::invalid_argument);
        r = hearth::cuda_dequantize(static_cast<TensorType>(99), in, out, 32);
        QVERIFY(!r);
        QCOMPARE(r.error().code, hearth::ErrorCode::unsupported);
        QVERIFY(hearth::cuda_dequantize(TensorType::Q4_0, nullptr, nullptr, 0));
    }
};

QTEST_APPLESS_MAIN(TstCudaDequantize)
#include "tst_cuda_dequantize.moc"
