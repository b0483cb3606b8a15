// Compare mode's other models: the models that columns chose besides the chat's, by path,
// each with its resolved templates and its columns' scheduler, kept between requests so that
// a column's next turn reuses its cache. Lives on the engine thread (EngineWorker owns one).
//
// Before loading a model it checks the model's memory plan (weights, the KV cache of its
// columns, scratch) against the RAM available, so that a model that does not fit fails its
// columns with the figures instead of pushing the machine into swap. Extra models run on the
// CPU, with the chat's context length and threads.
#pragma once

#include "hearth/chat_template.h"
#include "hearth/model.h"
#include "hearth/prompt.h"
#include "hearth/scheduler.h"
#include "hearth/session.h"

#include <QString>
#include <QStringList>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <vector>

// One model's compare columns on the engine's scheduler: a slot per column, kept between
// requests so that a column's next turn reuses its cache (the scheduler gives each request the
// slot whose cache shares most of its prompt); made again when the number of columns or the
// options asked for change (EngineWorker::columnsScheduler).
struct CompareColumns {
    std::unique_ptr<hearth::Scheduler> scheduler;
    hearth::SessionOptions asked; // context, cache type and device the columns asked for
    // As the slots were made: F16 for a model that cannot take a Q8_0 cache, the CPU when the
    // GPU could not hold them.
    hearth::KvCacheType kvType = hearth::KvCacheType::f16;
    hearth::DeviceKind device = hearth::DeviceKind::cpu;
    int cudaDevice = -1;
};

struct CompareModelSlot {
    std::shared_ptr<const hearth::Model> model;
    std::map<QString, hearth::PromptFormat> formats; // resolved templates, by name
    uint32_t nCtx = 0;      // the chat's context length, capped at the model's trained one
    CompareColumns columns; // after `model`: its slots go first

    hearth::Result<const hearth::PromptFormat*> format(const QString& templateName);
};

class CompareModelPool {
public:
    // The model at `path`, loaded unless it already is. Loading first plans its memory for
    // `columns` sequences of `nCtx` tokens (fewer when the model was trained for fewer) with a
    // `kvType` cache and fails, saying both figures, when that exceeds `availableBytes`
    // (std::nullopt: unknown, not checked).
    hearth::Result<CompareModelSlot*> acquire(const QString& path, uint32_t nCtx, uint32_t columns,
                                              int threads, hearth::KvCacheType kvType,
                                              std::optional<uint64_t> availableBytes);
    // Unloads the models whose path is not in `paths`.
    void retain(const QStringList& paths);
    QStringList loadedPaths() const;

private:
    std::map<QString, CompareModelSlot> m_slots;
};

// "" for the chat's model, else the canonical path of `path` ("" when it is the chat's file).
QString compareModelKey(const QString& path, const hearth::Model* chatModel);
