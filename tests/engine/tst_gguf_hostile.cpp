// Hostile GGUF files against the reader's real entry points (parse_gguf_header,
// GgufFile::open) and `hearth-cli info`: tensor sizes whose byte count overflows, counts that
// cannot fit in the file, overlapping tensor data, a prefix of a header (as a download reads
// it), the metadata memory budget, and paths that are not regular files (a FIFO, a symbolic
// link to one, a FIFO as a part of a split model, a device, a directory). Each must fail with
// a message that names the tensor, count, limit or file: never crash, abort or hang.
#include "gguf_builder.h"
#include "hearth/gguf.h"
#include "test_support.h"

#include <QTemporaryDir>
#include <QtTest>
#include <chrono>
#include <fcntl.h>
#include <fmt/format.h>
#include <future>
#include <sys/stat.h>
#include <unistd.h>

using namespace hearth;
using hearth::test::GgufBuilder;

namespace {

std::string message_of(const Error& error) {
    return fmt::format("{}: {}", error_code_name(error.code), error.message);
}

// The first tensor of a one-tensor file, with `dims` and 4 bytes of data.
std::vector<uint8_t> one_tensor_file(TensorType type, std::vector<uint64_t> dims) {
    return GgufBuilder()
        .str("general.architecture", "llama")
        .tensor("w", type, std::move(dims), {0, 0, 0, 0})
        .build();
}

void expect_parse_error(const std::vector<uint8_t>& bytes, const std::string& needle) {
    auto header = parse_gguf_header(bytes, bytes.size());
    QVERIFY2(!header, ("accepted; expected an error with: " + needle).c_str());
    QVERIFY2(header.error().message.find(needle) != std::string::npos,
             message_of(header.error()).c_str());
}

// `hearth-cli info` on `path` exits 1 with `needle` in its message: no signal, no hang.
void expect_cli_info_error(const std::filesystem::path& path, const std::string& needle) {
    const auto result = test::run_cli({"info", QString::fromStdString(path.string())}, {}, 20000);
    QVERIFY2(result.exit_code == 1,
             qPrintable(
                 QString("exit %1: %2").arg(result.exit_code).arg(QString::fromUtf8(result.err))));
    QVERIFY2(result.err.contains(needle.c_str()), result.err.constData());
}

// GgufFile::open on another thread, so that a regression that blocks on a FIFO fails the
// test after a while instead of hanging it: `fifo` is then opened for writing, which lets the
// blocked open return.
std::optional<Result<GgufFile>> open_or_time_out(const std::filesystem::path& path,
                                                 const std::filesystem::path& fifo) {
    auto opened = std::async(std::launch::async, [path] { return GgufFile::open(path); });
    if (opened.wait_for(std::chrono::seconds(10)) == std::future_status::ready) {
        return opened.get();
    }
    const int writer = ::open(fifo.c_str(), O_WRONLY | O_NONBLOCK);
    if (writer >= 0) {
        ::close(writer);
    }
    opened.wait();
    return std::nullopt;
}

void expect_refused(const std::filesystem::path& path, const std::filesystem::path& fifo,
                    const std::string& needle) {
    auto opened = open_or_time_out(path, fifo);
    QVERIFY2(opened, "GgufFile::open blocked on a FIFO");
    QVERIFY2(!*opened, "a FIFO was opened as a model");
    const std::string message = message_of(opened->error());
    QCOMPARE(opened->error().code, ErrorCode::bad_format);
    QVERIFY2(message.find(needle) != std::string::npos, message.c_str());
}

} // namespace

class TestGgufHostile : public QObject {
    Q_OBJECT

    QTemporaryDir m_dir;
    std::filesystem::path dir() const { return m_dir.path().toStdString(); }

    std::filesystem::path write(const std::string& name, const std::vector<uint8_t>& bytes) {
        const auto path = dir() / name;
        test::write_file(path, bytes);
        return path;
    }

    std::filesystem::path make_fifo(const std::string& name) {
        const auto path = dir() / name;
        std::filesystem::remove(path);
        if (::mkfifo(path.c_str(), 0600) != 0) {
            qFatal("mkfifo failed");
        }
        return path;
    }

private slots:
    void initTestCase() { QVERIFY(m_dir.isValid()); }

    // ---- Size arithmetic (issue 16, item 4) -------------------------------------------------

    void tensor_byte_count_overflow_data() {
        QTest::addColumn<int>("type");
        QTest::addColumn<std::vector<uint64_t>>("dims");
        // Each has at most 2^62 elements, but 2^64 bytes or more: the byte count wrapped to 0.
        QTest::newRow("F32 [2^62]") << int(TensorType::F32) << std::vector<uint64_t>{1ull << 62};
        QTest::newRow("F32 [2^31, 2^31]")
            << int(TensorType::F32) << std::vector<uint64_t>{1ull << 31, 1ull << 31};
        QTest::newRow("F64 [2^61]") << int(TensorType::F64) << std::vector<uint64_t>{1ull << 61};
        QTest::newRow("I64 [2^30, 2^31]")
            << int(TensorType::I64) << std::vector<uint64_t>{1ull << 30, 1ull << 31};
        QTest::newRow("F16 [2, 2^62]: past the element limit")
            << int(TensorType::F16) << std::vector<uint64_t>{2, 1ull << 62};
    }

    void tensor_byte_count_overflow() {
        QFETCH(int, type);
        QFETCH(std::vector<uint64_t>, dims);
        const auto bytes = one_tensor_file(static_cast<TensorType>(type), dims);
        expect_parse_error(bytes, "tensor 'w'");
        // Without the file size (a header read over HTTP) too: no size wraps.
        auto unsized = parse_gguf_header(bytes);
        QVERIFY2(!unsized, "the tensor's size wrapped without the file size");
        const auto path = write("overflow.gguf", bytes);
        auto opened = GgufFile::open(path);
        QVERIFY2(!opened, "a tensor of 2^64 bytes or more was opened");
        QVERIFY2(opened.error().message.find(path.string()) != std::string::npos,
                 opened.error().message.c_str());
        expect_cli_info_error(path, "tensor 'w'");
        const auto tensor =
            test::run_cli({"tensor", QString::fromStdString(path.string()), "w", "--out",
                           QString::fromStdString((dir() / "w.npy").string())});
        QVERIFY2(tensor.exit_code == 1, tensor.err.constData());
    }

    void dimension_count_is_bounded() {
        const auto bytes = one_tensor_file(TensorType::I8, {1, 1, 1, 1, 4});
        expect_parse_error(bytes, "tensor 'w' has 5 dimensions (1 to 4 allowed)");
        QVERIFY(parse_gguf_header(one_tensor_file(TensorType::I8, {1, 1, 1, 4})));
    }

    void tensor_count_must_fit_in_the_file() {
        GgufBuilder::Layout layout;
        auto bytes = GgufBuilder().u32("a", 1).build(&layout);
        test::patch<uint64_t>(bytes, layout.n_tensors_at, 1000);
        expect_parse_error(bytes, "tensor count 1000 cannot fit");
    }

    void overlapping_tensors_data() {
        QTest::addColumn<uint64_t>("offset");
        QTest::newRow("the same bytes") << uint64_t{0};
        QTest::newRow("the second half") << uint64_t{32};
    }

    void overlapping_tensors() {
        QFETCH(uint64_t, offset);
        GgufBuilder::Layout layout;
        auto bytes = GgufBuilder()
                         .tensor("first", TensorType::F32, {16}, std::vector<uint8_t>(64, 1))
                         .tensor("second", TensorType::F32, {8}, std::vector<uint8_t>(32, 2))
                         .build(&layout);
        // The second entry: name (8 + 6), n_dims (4), one dim (8), type (4), then its offset.
        test::patch<uint64_t>(bytes, layout.tensor_info_at["second"] + 14 + 4 + 8 + 4, offset);
        expect_parse_error(bytes, "tensors 'first' and 'second' overlap");
        auto unsized = parse_gguf_header(bytes);
        QVERIFY(!unsized);
        auto opened = GgufFile::open(write("overlap.gguf", bytes));
        QVERIFY(!opened);
    }

    void every_prefix_of_a_header_reports_truncation() {
        // A download parses the first megabytes and asks for more when the header says it is
        // truncated: a string or an array that crosses the end of what was read is a
        // truncation, not a corrupt file, whenever the whole file has room for it.
        auto bytes = test::read_bytes(test::data_dir() / "gguf" / "tiny.gguf");
        auto whole = parse_gguf_header(bytes, bytes.size());
        QVERIFY2(whole, whole ? "" : whole.error().message.c_str());
        for (size_t size = 0; size < whole->data_offset; ++size) {
            auto header = parse_gguf_header({bytes.data(), size}, bytes.size());
            if (header) {
                continue; // the tensor table ended before the padding
            }
            QVERIFY2(header.error().message.starts_with("file truncated"),
                     qPrintable(QString("prefix of %1 bytes: %2")
                                    .arg(size)
                                    .arg(QString::fromStdString(header.error().message))));
        }
        // The same counts past the end of the whole file: cut short or corrupt.
        GgufBuilder::Layout layout;
        auto corrupt = GgufBuilder().str_array("t", {"a", "b"}).build(&layout);
        test::patch<uint64_t>(corrupt, layout.key_at["t"] + 8 + 1 + 4 + 4, 1000);
        auto header = parse_gguf_header(corrupt, corrupt.size());
        QVERIFY(!header);
        QVERIFY2(header.error().message.starts_with("file truncated or corrupt: "),
                 header.error().message.c_str());
        QVERIFY2(header.error().message.find("cannot fit") != std::string::npos,
                 header.error().message.c_str());
    }

    void metadata_memory_counts_every_entry() {
        // 2,000 one-byte values take about 2,000 × 100 bytes once parsed: the budget counts
        // each entry at its size in memory, not only its strings.
        GgufBuilder builder;
        for (int i = 0; i < 2000; ++i) {
            builder.raw(fmt::format("k{}", i), GgufType::uint8, {1});
        }
        const auto bytes = builder.build();
        GgufLimits limits;
        limits.max_metadata_bytes = 64 << 10;
        auto header = parse_gguf_header(bytes, bytes.size(), limits);
        QVERIFY2(!header, "2,000 entries fit in 64 KiB");
        QVERIFY2(header.error().message.find("metadata larger than the limit of 65536") !=
                     std::string::npos,
                 header.error().message.c_str());
        QVERIFY(parse_gguf_header(bytes, bytes.size()));

        // An array's strings count their bytes and an 8-byte end each: 8,000 one-byte strings
        // take 72,000 bytes, 6,000 take 54,000 (and the entry itself).
        for (const auto& [n, fits] : {std::pair{8000, false}, std::pair{6000, true}}) {
            const auto strings =
                GgufBuilder().str_array("s", std::vector<std::string>(size_t(n), "x")).build();
            auto parsed = parse_gguf_header(strings, strings.size(), limits);
            QVERIFY2(bool(parsed) == fits, std::to_string(n).c_str());
        }
        // Numbers their encoded size: 70,000 bytes of u8 are over 64 KiB, 60,000 are not.
        for (const auto& [n, fits] : {std::pair{70000, false}, std::pair{60000, true}}) {
            const auto numbers =
                GgufBuilder()
                    .num_array<uint8_t>("u", GgufType::uint8, std::vector<uint8_t>(size_t(n), 1))
                    .build();
            auto parsed = parse_gguf_header(numbers, numbers.size(), limits);
            QVERIFY2(bool(parsed) == fits, std::to_string(n).c_str());
        }
    }

    void names_from_the_file_are_printable_and_short_in_messages() {
        // A tensor name with a terminal escape and 10,000 more bytes: the message escapes it
        // and cuts it, rather than clearing the user's screen or printing 10 KB.
        const std::string name = "\x1b[2J\xc2\x9b" + std::string(10000, 'a');
        const auto bytes =
            GgufBuilder().tensor(name, TensorType::F32, {1ull << 62}, {0, 0, 0, 0}).build();
        auto header = parse_gguf_header(bytes, bytes.size());
        QVERIFY(!header);
        const std::string& message = header.error().message;
        QVERIFY2(message.find("\\x1b[2J\\xc2\\x9baaa") != std::string::npos, message.c_str());
        QVERIFY2(message.find('\x1b') == std::string::npos, message.c_str());
        QVERIFY2(message.size() < 400, message.c_str());
        QCOMPARE(QString::fromStdString(gguf_printable("tab\there\nline\x7f", 80)),
                 QStringLiteral("tab\\x09here\\nline\\x7f"));
        // Cut at a character boundary: "é" is two bytes.
        QCOMPARE(QString::fromStdString(gguf_printable("ab\xc3\xa9"
                                                       "cd",
                                                       3)),
                 QString::fromUtf8("ab\xc3\xa9..."));
    }

    // ---- Files that are not regular files (issue 16, item 6) --------------------------------

    void fifo_is_refused_without_blocking() {
        const auto fifo = make_fifo("pipe.gguf");
        expect_refused(fifo, fifo, "a FIFO");
        expect_refused(fifo, fifo, "pipe.gguf");
    }

    void symlink_to_fifo_is_refused_without_blocking() {
        const auto fifo = make_fifo("target-pipe");
        const auto link = dir() / "link.gguf";
        std::filesystem::remove(link);
        std::filesystem::create_symlink(fifo, link);
        expect_refused(link, fifo, "a FIFO");
    }

    void split_part_fifo_is_refused_without_blocking() {
        const auto split = test::data_dir() / "split";
        const auto prefix = dir() / "model";
        for (uint32_t part = 0; part < 2; ++part) {
            std::filesystem::copy_file(gguf_split_path(split / "llama", part, 3),
                                       gguf_split_path(prefix, part, 3),
                                       std::filesystem::copy_options::overwrite_existing);
        }
        const auto fifo = gguf_split_path(prefix, 2, 3);
        std::filesystem::remove(fifo);
        QCOMPARE(::mkfifo(fifo.c_str(), 0600), 0);
        expect_refused(gguf_split_path(prefix, 0, 3), fifo, "model part 3 of 3");
        expect_refused(gguf_split_path(prefix, 0, 3), fifo, "a FIFO");
    }

    void device_and_directory_are_refused() {
        const auto fifo = make_fifo("unused-pipe");
        expect_refused("/dev/null", fifo, "a device");
        expect_refused(dir(), fifo, "a directory");
    }

    void cli_info_on_a_fifo_exits_with_an_error() {
        const auto fifo = make_fifo("cli-pipe.gguf");
        expect_cli_info_error(fifo, "a FIFO");
        const auto link = dir() / "cli-link.gguf";
        std::filesystem::remove(link);
        std::filesystem::create_symlink(fifo, link);
        expect_cli_info_error(link, "a FIFO");
    }
};

QTEST_APPLESS_MAIN(TestGgufHostile)
#include "tst_gguf_hostile.moc"
