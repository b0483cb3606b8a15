// Helpers shared by the download tests: the SHA-256 the Hugging Face API and the catalog
// write (lower-case hex), a bounded wait for a DownloadTask to end, and the GGUF of a model
// Hearth cannot run.
#pragma once

#include "download_task.h"
#include "gguf_builder.h"

#include <QCryptographicHash>
#include <QElapsedTimer>
#include <QString>
#include <QTest>

namespace hearth::test {

// How long a test waits for a local download before failing.
inline constexpr int kWaitMs = 20000;

inline QString sha256Hex(const QByteArray& bytes) {
    return QString::fromLatin1(QCryptographicHash::hash(bytes, QCryptographicHash::Sha256).toHex());
}

// Waits up to `timeoutMs` for the task to finish or fail; true when it finished.
inline bool waitForDownload(const DownloadTask* task, int timeoutMs = kWaitMs) {
    QElapsedTimer clock;
    clock.start();
    while (task->status() != DownloadTask::Status::Finished &&
           task->status() != DownloadTask::Status::Failed && clock.elapsed() < timeoutMs) {
        QTest::qWait(10);
    }
    return task->status() == DownloadTask::Status::Finished;
}

// A small GGUF whose general.architecture is `architecture` (default rwkv7, which llama.cpp
// runs and Hearth does not), with the keys such a model has: a per-layer array among them,
// which read_model_info would refuse as the wrong type, and one tensor.
inline QByteArray ggufOfArchitecture(const std::string& architecture = "rwkv7") {
    const std::vector<uint8_t> bytes =
        hearth::test::GgufBuilder()
            .str("general.architecture", architecture)
            .str("general.name", "not yet runnable")
            .u32(architecture + ".block_count", 2)
            .u32(architecture + ".embedding_length", 64)
            .num_array<uint32_t>(architecture + ".attention.head_count_kv", GgufType::uint32,
                                 {0, 4})
            .tensor("token_embd.weight", TensorType::F32, {64, 4}, std::vector<uint8_t>(1024))
            .build();
    return QByteArray(reinterpret_cast<const char*>(bytes.data()),
                      static_cast<qsizetype>(bytes.size()));
}

} // namespace hearth::test
