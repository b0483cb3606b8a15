// Compare mode's other models (see compare_model_pool.h).
#include "compare_model_pool.h"

#include "hearth/gguf.h"
#include "hearth/memory_plan.h"
#include "hearth/model_info.h"

#include <QFileInfo>
#include <algorithm>
#include <fmt/format.h>

hearth::Result<const hearth::PromptFormat*> CompareModelSlot::format(const QString& templateName) {
    if (auto it = formats.find(templateName); it != formats.end()) {
        return &it->second;
    }
    auto resolved = hearth::resolve_prompt_format(*model, templateName.toStdString());
    if (!resolved) {
        return std::unexpected(resolved.error());
    }
    return &formats.emplace(templateName, std::move(*resolved)).first->second;
}

hearth::Result<CompareModelSlot*>
CompareModelPool::acquire(const QString& path, uint32_t nCtx, uint32_t columns, int threads,
                          hearth::KvCacheType kvType, std::optional<uint64_t> availableBytes) {
    if (auto it = m_slots.find(path); it != m_slots.end()) {
        return &it->second;
    }
    const std::string file = path.toStdString();
    const std::string name = QFileInfo(path).fileName().toStdString();
    // The header alone (mapped, closed again at the end of the block) tells the plan.
    uint32_t contextLength = nCtx;
    {
        auto gguf = hearth::GgufFile::open(file);
        if (!gguf) {
            return hearth::fail(gguf.error().code,
                                fmt::format("{}: {}", name, gguf.error().message));
        }
        auto info = hearth::read_model_info(gguf->header(), gguf->file_size());
        if (!info) {
            return hearth::fail(info.error().code,
                                fmt::format("{}: {}", name, info.error().message));
        }
        if (info->n_ctx_train > 0) {
            contextLength = std::min(contextLength, info->n_ctx_train);
        }
        const hearth::MemoryPlan plan =
            hearth::plan_memory(*info, {.n_ctx = contextLength,
                                        .n_seq = columns,
                                        .n_batch = 512,
                                        .kv_type = kvType,
                                        .device = hearth::DeviceKind::cpu});
        if (availableBytes && plan.total_bytes > *availableBytes) {
            return hearth::fail(hearth::ErrorCode::out_of_memory,
                                fmt::format("{} needs {} (weights, KV cache for {} column{}, "
                                            "scratch), {} RAM available",
                                            name, hearth::format_bytes(double(plan.total_bytes)),
                                            columns, columns == 1 ? "" : "s",
                                            hearth::format_bytes(double(*availableBytes))));
        }
    }
    auto model = hearth::Model::load(file, {.n_threads = threads, .on_progress = {}});
    if (!model) {
        return hearth::fail(model.error().code, fmt::format("{}: {}", name, model.error().message));
    }
    CompareModelSlot& slot = m_slots[path];
    slot.model = std::move(*model);
    slot.nCtx = contextLength;
    return &slot;
}

void CompareModelPool::retain(const QStringList& paths) {
    std::erase_if(m_slots, [&](const auto& entry) { return !paths.contains(entry.first); });
}

QStringList CompareModelPool::loadedPaths() const {
    QStringList paths;
    for (const auto& entry : m_slots) {
        paths << entry.first;
    }
    return paths;
}

QString compareModelKey(const QString& path, const hearth::Model* chatModel) {
    if (path.isEmpty()) {
        return {};
    }
    const QFileInfo file(path);
    const QString canonical = file.exists() ? file.canonicalFilePath() : file.absoluteFilePath();
    if (chatModel) {
        const QFileInfo chatFile(QString::fromStdString(chatModel->file().path().string()));
        if (chatFile.exists() && chatFile.canonicalFilePath() == canonical) {
            return {};
        }
    }
    return canonical;
}
