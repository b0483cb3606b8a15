// The repacked weights cached beside a model (model/repack_cache.h), on a copy of the tiny Q4_0
// test model with the size threshold lowered: a load writes the cache, the next maps it, both
// with logits bit-identical to a load that repacks; the mapped bytes are what the forward pass
// reads (a cache with altered weights changes the logits); a cache made for another version of
// the file, truncated, of another format, or a path that is not a regular file is ignored
// (without blocking) and the weights repacked; HEARTH_REPACK_CACHE=off and the default
// threshold leave no cache.
#include "cpu/repack.h"
#include "hearth/model.h"
#include "hearth/session.h"
#include "model/repack_cache.h"
#include "test_support.h"

#include <QTemporaryDir>
#include <QtTest>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

using namespace hearth;
namespace fs = std::filesystem;

namespace {

// The cache's packed bytes start here (repack_cache.cpp's kDataOffset).
constexpr std::streamoff kCacheDataOffset = 65536;

// Logits at every position of a fixed prompt, run as one batch; empty after a failure.
std::vector<float> logits_of(const fs::path& gguf) {
    auto model = Model::load(gguf, {.n_threads = 2, .on_progress = {}});
    if (!model) {
        qWarning("%s", model.error().message.c_str());
        return {};
    }
    SessionOptions options;
    options.n_ctx = 64;
    auto session = Session::create(*model, options);
    if (!session) {
        qWarning("%s", session.error().message.c_str());
        return {};
    }
    const auto n_vocab = static_cast<int32_t>((*model)->info().n_vocab);
    std::vector<int32_t> tokens;
    for (int32_t i = 0; i < 12; ++i) {
        tokens.push_back((7 * i + 3) % n_vocab);
    }
    std::vector<float> all;
    auto evaluated = session->evaluate(tokens, [&](size_t, std::span<const float> logits) {
        all.insert(all.end(), logits.begin(), logits.end());
    });
    if (!evaluated) {
        qWarning("%s", evaluated.error().message.c_str());
        return {};
    }
    return all;
}

bool same_bits(const std::vector<float>& a, const std::vector<float>& b) {
    return !a.empty() && a.size() == b.size() &&
           std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
}

} // namespace

class TestRepackCache : public QObject {
    Q_OBJECT

    QTemporaryDir dir_;
    fs::path model_;
    std::vector<float> reference_; // logits of a load that repacks in memory

    fs::path cache() const { return repack_cache_path(model_); }

private slots:
    void initTestCase() {
        if (!cpu::repack_supported(TensorType::Q4_0)) {
            QSKIP("this CPU has no packed Q4_0 kernel: nothing is repacked");
        }
        QVERIFY(dir_.isValid());
        model_ = fs::path(dir_.path().toStdString()) / "llama_q4_0.gguf";
        fs::copy_file(test::data_dir() / "arch" / "llama_q4_0.gguf", model_);
        qputenv("HEARTH_REPACK_CACHE", "off");
        set_min_cached_repack_bytes(0);
        reference_ = logits_of(model_);
        QVERIFY(!reference_.empty());
        QVERIFY2(!fs::exists(cache()), "HEARTH_REPACK_CACHE=off wrote a cache");
        qunsetenv("HEARTH_REPACK_CACHE");
    }

    void init() {
        set_min_cached_repack_bytes(0);
        std::error_code ignored;
        fs::remove_all(cache(), ignored);
    }

    void cleanup() { set_min_cached_repack_bytes(kMinCachedRepackBytes); }

    void test_defaultThresholdLeavesSmallModelsAlone() {
        set_min_cached_repack_bytes(kMinCachedRepackBytes);
        QVERIFY(same_bits(logits_of(model_), reference_));
        QVERIFY(!fs::exists(cache()));
    }

    // A disk that would keep less than the reserve free gets no cache (a 7B cache is 3.4 GiB):
    // the load repacks in memory as without one.
    void test_noCacheWhenTheDiskWouldFillUp() {
        set_repack_cache_free_space_reserve(std::numeric_limits<uint64_t>::max() / 2);
        const auto logits = logits_of(model_);
        set_repack_cache_free_space_reserve(kRepackCacheFreeSpaceReserve);
        QVERIFY(same_bits(logits, reference_));
        QVERIFY(!fs::exists(cache()));
        for (const auto& entry : fs::directory_iterator(model_.parent_path())) {
            QVERIFY2(entry.path().filename().string().find(".tmp-") == std::string::npos,
                     "a temporary cache file was left behind");
        }
    }

    void test_writtenThenMappedWithTheSameLogits() {
        QVERIFY(same_bits(logits_of(model_), reference_)); // repacks, writes the cache
        QVERIFY(fs::is_regular_file(cache()));
        QVERIFY(fs::file_size(cache()) > static_cast<uintmax_t>(kCacheDataOffset));
        QVERIFY(same_bits(logits_of(model_), reference_)); // maps the cache
        for (const auto& entry : fs::directory_iterator(model_.parent_path())) {
            QVERIFY2(entry.path().filename().string().find(".tmp-") == std::string::npos,
                     "a temporary cache file was left behind");
        }
    }

    // Altered weights in a cache that matches the file change the logits: the forward pass
    // reads the mapped cache. A new modification time of the model makes it stale.
    void test_cacheIsReadAndInvalidatedByTheModelsTime() {
        QVERIFY(same_bits(logits_of(model_), reference_));
        const auto size = static_cast<std::streamoff>(fs::file_size(cache()));
        {
            std::fstream f(cache(), std::ios::in | std::ios::out | std::ios::binary);
            for (std::streamoff at = kCacheDataOffset; at < size; at += 7) {
                f.seekp(at);
                f.put(static_cast<char>(0x5a));
            }
        }
        const std::vector<float> altered = logits_of(model_);
        QVERIFY(!altered.empty());
        QVERIFY2(!same_bits(altered, reference_), "the cache's bytes were not read");

        fs::last_write_time(model_, fs::last_write_time(model_) + std::chrono::seconds(5));
        QVERIFY(same_bits(logits_of(model_), reference_)); // stale: repacked and rewritten
        QVERIFY(same_bits(logits_of(model_), reference_)); // the rewritten cache
    }

    void test_truncatedCacheIsIgnored() {
        QVERIFY(same_bits(logits_of(model_), reference_));
        const auto full = fs::file_size(cache());
        fs::resize_file(cache(), full - 4096);
        QVERIFY(same_bits(logits_of(model_), reference_));
        QCOMPARE(fs::file_size(cache()), full); // rewritten whole
    }

    void test_otherFormatIsIgnored() {
        QVERIFY(same_bits(logits_of(model_), reference_));
        {
            std::fstream f(cache(), std::ios::in | std::ios::out | std::ios::binary);
            f.seekp(8); // the layout version, after the magic
            f.put(static_cast<char>(0x7f));
        }
        QVERIFY(same_bits(logits_of(model_), reference_));
        std::ifstream f(cache(), std::ios::binary);
        char head[12] = {};
        f.read(head, sizeof(head));
        QVERIFY(std::memcmp(head, "HRTHPACK\x01\0\0\0", sizeof(head)) == 0); // rewritten
    }

    // A writer killed before its rename leaves MODEL.hearth-packed.tmp-PID: the next load that
    // checks the cache removes it when PID is no process, and keeps a live writer's file (here
    // this process's parent's) and names that are not a writer's.
    void test_deadWritersTemporaryFilesAreRemoved() {
        const pid_t child = ::fork();
        QVERIFY(child >= 0);
        if (child == 0) {
            ::_exit(0);
        }
        int status = 0;
        QCOMPARE(::waitpid(child, &status, 0), child); // reaped: the PID names no process
        const auto temporary = [&](const std::string& suffix) {
            fs::path path = cache();
            path += ".tmp-" + suffix;
            std::ofstream(path) << "half a cache";
            return path;
        };
        const fs::path dead = temporary(std::to_string(child));
        const fs::path live = temporary(std::to_string(::getppid()));
        const fs::path other = temporary("12x");
        QVERIFY(same_bits(logits_of(model_), reference_)); // checks, repacks and writes the cache
        QVERIFY(fs::is_regular_file(cache()));
        QVERIFY2(!fs::exists(dead), "a dead writer's temporary file was left");
        QVERIFY(fs::exists(live));
        QVERIFY(fs::exists(other));

        // A valid cache is only checked, not written: that removes a dead writer's file too.
        const fs::path dead_again = temporary(std::to_string(child));
        QVERIFY(same_bits(logits_of(model_), reference_));
        QVERIFY2(!fs::exists(dead_again), "a dead writer's temporary file was left");
        fs::remove(live);
        fs::remove(other);
    }

    void test_notARegularFileIsIgnoredWithoutBlocking() {
        QVERIFY(::mkfifo(cache().c_str(), 0600) == 0);
        QVERIFY(same_bits(logits_of(model_), reference_));
        fs::remove(cache());
        fs::create_directory(cache());
        fs::create_directory(cache() / "inside"); // a folder that rename() cannot replace
        QVERIFY(same_bits(logits_of(model_), reference_));
        QVERIFY(fs::is_directory(cache()));
    }
};

QTEST_GUILESS_MAIN(TestRepackCache)
#include "tst_repack_cache.moc"
