// Differential tests of the CPU dequantizer against the Python `gguf` package: the goldens of
// tests/data/quant/ (scripts/gen-quant-reference.py) must match bit for bit, and the half
// conversions are checked on every input against independently written references.
#include "hearth/quant.h"
#include "hearth/tensor_type.h"
#include "test_support.h"

#include <QFile>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QObject>
#include <QSet>
#include <QtTest>
#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <vector>

using hearth::TensorType;

namespace {

QString quant_dir() {
    return QString::fromStdString((hearth::test::data_dir() / "quant").string());
}

QByteArray read_data_file(const QString& name) {
    QFile file(quant_dir() + "/" + name);
    if (!file.open(QIODevice::ReadOnly)) {
        return {};
    }
    return file.readAll();
}

QJsonObject read_index() {
    return QJsonDocument::fromJson(read_data_file("index.json")).object();
}

uint32_t bits_of(float value) {
    return std::bit_cast<uint32_t>(value);
}

QString hex(uint32_t value, int digits = 8) {
    return QStringLiteral("0x%1").arg(value, digits, 16, QLatin1Char('0'));
}

// Reference binary16 -> binary32 written from the definition rather than by moving bits:
// (-1)^s * 2^(e-15) * 1.m for normals, 2^-14 * 0.m for subnormals. Inf and NaN come from
// their definition as all-ones exponents, the payload kept in the top mantissa bits (numpy).
uint32_t reference_fp16_to_fp32_bits(uint16_t h) {
    const bool negative = (h & 0x8000) != 0;
    const int exponent = (h >> 10) & 0x1f;
    const int mantissa = h & 0x3ff;
    if (exponent == 31) {
        if (mantissa == 0) {
            return bits_of(negative ? -INFINITY : INFINITY);
        }
        return (negative ? 0x80000000u : 0u) | 0x7f800000u | static_cast<uint32_t>(mantissa) << 13;
    }
    const double magnitude = exponent == 0 ? std::ldexp(double(mantissa), -24)
                                           : std::ldexp(double(1024 + mantissa), exponent - 25);
    return bits_of(static_cast<float>(negative ? -magnitude : magnitude));
}

// Reference binary32 -> binary16 for non-NaN inputs, by arithmetic in double: the value is
// r units of the half ulp at its binade (2^(e-10), with e clamped to -14 for subnormals),
// r rounded to nearest even by nearbyint. The half bits are then ((e + 14) << 10) + r, which
// also carries correctly into the next binade (r = 2048) and into Inf.
uint16_t reference_fp32_to_fp16(float value) {
    const uint16_t sign = std::signbit(value) ? 0x8000 : 0;
    const double magnitude = std::fabs(static_cast<double>(value));
    if (std::isinf(value)) {
        return sign | 0x7c00;
    }
    if (magnitude == 0.0) {
        return sign;
    }
    const int e = std::max(std::ilogb(magnitude), -14);
    const double units = std::nearbyint(std::ldexp(magnitude, 10 - e)); // exact, then RNE
    if (e > 15) {
        return sign | 0x7c00;
    }
    const double bits = std::ldexp(double(e + 14), 10) + units;
    return static_cast<uint16_t>(sign | (bits >= 0x7c00 ? 0x7c00 : static_cast<uint16_t>(bits)));
}

// Compares two float arrays bit for bit; on failure names the first differing element.
bool same_bits(const float* actual, const float* expected, int64_t n, QString* where) {
    for (int64_t i = 0; i < n; ++i) {
        const uint32_t a = bits_of(actual[i]);
        const uint32_t e = bits_of(expected[i]);
        if (a != e) {
            *where = QStringLiteral("element %1: got %2 (%3), expected %4 (%5)")
                         .arg(i)
                         .arg(double(actual[i]), 0, 'g', 9)
                         .arg(hex(a))
                         .arg(double(expected[i]), 0, 'g', 9)
                         .arg(hex(e));
            return false;
        }
    }
    return true;
}

} // namespace

class TestDequantize : public QObject {
    Q_OBJECT

private:
    int64_t values_compared_ = 0;

private slots:
    void cleanupTestCase() {
        qInfo("%lld values compared bit for bit", static_cast<long long>(values_compared_));
    }

    void fp16_to_fp32_every_pattern() {
        for (uint32_t h = 0; h <= 0xffff; ++h) {
            const uint32_t got = bits_of(hearth::fp16_to_fp32(static_cast<uint16_t>(h)));
            const uint32_t want = reference_fp16_to_fp32_bits(static_cast<uint16_t>(h));
            if (got != want) {
                QFAIL(qPrintable(QStringLiteral("fp16 %1: got %2, expected %3")
                                     .arg(hex(h, 4), hex(got), hex(want))));
            }
        }
        values_compared_ += 65536;
    }

    // Every half survives fp16 -> fp32 -> fp16, NaN payloads included.
    void fp16_round_trip_every_pattern() {
        for (uint32_t h = 0; h <= 0xffff; ++h) {
            const uint16_t back =
                hearth::fp32_to_fp16(hearth::fp16_to_fp32(static_cast<uint16_t>(h)));
            if (back != h) {
                QFAIL(qPrintable(
                    QStringLiteral("fp16 %1 came back as %2").arg(hex(h, 4), hex(back, 4))));
            }
        }
        values_compared_ += 65536;
    }

    void bf16_to_fp32_every_pattern() {
        for (uint32_t h = 0; h <= 0xffff; ++h) {
            const uint32_t got = bits_of(hearth::bf16_to_fp32(static_cast<uint16_t>(h)));
            QCOMPARE(got, h << 16);
        }
        values_compared_ += 65536;
    }

    // numpy's astype(np.float16) on ties, boundaries, NaN payloads and random bits.
    void fp32_to_fp16_matches_numpy() {
        const QByteArray in = read_data_file("fp32_to_fp16.in.f32");
        const QByteArray expected = read_data_file("fp32_to_fp16.expected.f16");
        QVERIFY2(!in.isEmpty(), "fp32_to_fp16.in.f32 missing: run scripts/gen-quant-reference.py");
        QCOMPARE(in.size() / 4, expected.size() / 2);
        const int64_t n = in.size() / 4;
        for (int64_t i = 0; i < n; ++i) {
            float value = 0;
            uint16_t want = 0;
            std::memcpy(&value, in.constData() + 4 * i, 4);
            std::memcpy(&want, expected.constData() + 2 * i, 2);
            const uint16_t got = hearth::fp32_to_fp16(value);
            if (got != want) {
                QFAIL(qPrintable(QStringLiteral("fp32 %1 (%2): got %3, numpy %4")
                                     .arg(hex(bits_of(value)))
                                     .arg(double(value), 0, 'g', 9)
                                     .arg(hex(got, 4), hex(want, 4))));
            }
        }
        values_compared_ += n;
    }

    // A spread of all 2^32 inputs (every 251st pattern: all exponents, sign and low bits)
    // against the double-arithmetic reference. NaNs are covered by the numpy file above.
    void fp32_to_fp16_against_reference() {
        int64_t n = 0;
        for (uint64_t bits = 0; bits <= 0xffffffffull; bits += 251) {
            const float value = std::bit_cast<float>(static_cast<uint32_t>(bits));
            if (std::isnan(value)) {
                continue;
            }
            const uint16_t got = hearth::fp32_to_fp16(value);
            const uint16_t want = reference_fp32_to_fp16(value);
            if (got != want) {
                QFAIL(qPrintable(QStringLiteral("fp32 %1 (%2): got %3, expected %4")
                                     .arg(hex(static_cast<uint32_t>(bits)))
                                     .arg(double(value), 0, 'g', 9)
                                     .arg(hex(got, 4), hex(want, 4))));
            }
            ++n;
        }
        values_compared_ += n;
    }

    void golden_data() {
        QTest::addColumn<QString>("name");
        QTest::addColumn<int>("type_id");
        QTest::addColumn<qint64>("n_elements");
        const QJsonArray cases = read_index().value("cases").toArray();
        QVERIFY2(!cases.isEmpty(), "tests/data/quant/index.json missing or empty");
        for (const QJsonValue& value : cases) {
            const QJsonObject c = value.toObject();
            const QString name = c.value("name").toString();
            QTest::newRow(qPrintable(name))
                << name << c.value("type_id").toInt() << qint64(c.value("n_elements").toInteger());
        }
    }

    // gguf.quants.dequantize of the stored blocks, bit for bit.
    void golden() {
        QFETCH(QString, name);
        QFETCH(int, type_id);
        QFETCH(qint64, n_elements);
        const auto type = static_cast<TensorType>(type_id);
        const QByteArray blocks = read_data_file(name + ".blocks.bin");
        const QByteArray expected = read_data_file(name + ".expected.f32");
        QCOMPARE(expected.size(), n_elements * 4);
        const auto traits = hearth::tensor_type_traits(type);
        QCOMPARE(blocks.size(), n_elements / traits.block_size * traits.type_size);

        QVERIFY(hearth::can_dequantize(type));
        std::vector<float> want(static_cast<size_t>(n_elements));
        std::memcpy(want.data(), expected.constData(), static_cast<size_t>(expected.size()));
        std::vector<float> got(static_cast<size_t>(n_elements), -12345.0f);
        const auto result = hearth::dequantize(type, blocks.constData(), got.data(), n_elements);
        QVERIFY2(result.has_value(), result ? "" : result.error().message.c_str());
        QString where;
        QVERIFY2(same_bits(got.data(), want.data(), n_elements, &where), qPrintable(where));

        // The same from a source at an odd address: blocks are read without alignment.
        QByteArray shifted(1, '\0');
        shifted.append(blocks);
        std::vector<float> got_unaligned(static_cast<size_t>(n_elements));
        QVERIFY(
            hearth::dequantize(type, shifted.constData() + 1, got_unaligned.data(), n_elements));
        QVERIFY2(same_bits(got_unaligned.data(), want.data(), n_elements, &where),
                 qPrintable("unaligned: " + where));
        values_compared_ += n_elements;
    }

    // can_dequantize says exactly what is implemented, and every implemented type has goldens.
    void supported_types_are_exactly_the_tested_ones() {
        const QSet<int> implemented = {
            int(TensorType::F32),   int(TensorType::F16),     int(TensorType::BF16),
            int(TensorType::Q4_0),  int(TensorType::Q4_1),    int(TensorType::Q5_0),
            int(TensorType::Q5_1),  int(TensorType::Q8_0),    int(TensorType::Q2_K),
            int(TensorType::Q3_K),  int(TensorType::Q4_K),    int(TensorType::Q5_K),
            int(TensorType::Q6_K),  int(TensorType::IQ4_NL),  int(TensorType::IQ4_XS),
            int(TensorType::TQ1_0), int(TensorType::TQ2_0),   int(TensorType::MXFP4),
            int(TensorType::NVFP4), int(TensorType::IQ2_XXS), int(TensorType::IQ2_XS),
            int(TensorType::IQ2_S), int(TensorType::IQ3_XXS), int(TensorType::IQ3_S),
            int(TensorType::IQ1_S), int(TensorType::IQ1_M),
        };
        QSet<int> golden;
        for (const QJsonValue& value : read_index().value("cases").toArray()) {
            golden.insert(value.toObject().value("type_id").toInt());
        }
        for (int id = 0; id < 64; ++id) {
            if (!hearth::tensor_type_traits(static_cast<uint32_t>(id))) {
                continue;
            }
            const auto type = static_cast<TensorType>(id);
            const QString name =
                QString::fromUtf8(hearth::tensor_type_name(type).data(),
                                  qsizetype(hearth::tensor_type_name(type).size()));
            QVERIFY2(hearth::can_dequantize(type) == implemented.contains(id), qPrintable(name));
            if (implemented.contains(id)) {
                QVERIFY2(golden.contains(id), qPrintable("no golden data for " + name));
            }
        }
    }

    void rejects_partial_blocks() {
        const std::vector<uint8_t> zeros(4096);
        std::vector<float> out(1024);
        for (const auto& [type, n] :
             {std::pair{TensorType::Q4_0, int64_t{33}}, std::pair{TensorType::Q4_K, int64_t{128}},
              std::pair{TensorType::Q8_0, int64_t{-32}},
              std::pair{TensorType::NVFP4, int64_t{32}}}) {
            const auto result = hearth::dequantize(type, zeros.data(), out.data(), n);
            QVERIFY(!result);
            QCOMPARE(result.error().code, hearth::ErrorCode::invalid_argument);
            QVERIFY(!result.error().message.empty());
        }
        // Zero elements is a whole number of blocks: nothing to do, and nothing read.
        QVERIFY(hearth::dequantize(TensorType::Q4_K, nullptr, nullptr, 0));
    }

    void rejects_unsupported_types() {
        const std::vector<uint8_t> zeros(4096);
        std::vector<float> out(1024);
        for (const auto type : {TensorType::Q1_0, TensorType::Q8_1, TensorType::Q8_K,
                                TensorType::I32, static_cast<TensorType>(4) /* retired id */}) {
            QVERIFY(!hearth::can_dequantize(type));
            const auto result = hearth::dequantize(type, zeros.data(), out.data(), 256);
            QVERIFY(!result);
            QCOMPARE(result.error().code, hearth::ErrorCode::unsupported);
        }
        const auto result = hearth::dequantize(TensorType::Q1_0, zeros.data(), out.data(), 256);
        QVERIFY(result.error().message.find("Q1_0") != std::string::npos);
    }
};

QTEST_APPLESS_MAIN(TestDequantize)
#include "tst_dequantize.moc"
