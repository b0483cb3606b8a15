// The checklist as data: statuses, settings changes and their JSON, and the run of all checks.
#include "doctor_internal.h"
#include "hearth/gpu_layers.h"
#include "hearth/preflight.h"
#include "hearth/session.h"

#include <algorithm>

namespace hearth {

const char* check_status_name(CheckStatus status) {
    switch (status) {
    case CheckStatus::green:
        return "green";
    case CheckStatus::amber:
        return "amber";
    case CheckStatus::red:
        return "red";
    }
    return "green";
}

bool SettingsChange::empty() const {
    return !context && !kv_type && !gpu_layers && !device && !n_seq && !model && !template_name &&
           !system_prompt && !threads && !temperature && !top_k && !top_p && !repeat_penalty;
}

nlohmann::ordered_json settings_change_json(const SettingsChange& change) {
    nlohmann::ordered_json out = nlohmann::ordered_json::object();
    if (change.context) {
        out["context"] = *change.context;
    }
    if (change.kv_type) {
        out["kv_type"] = kv_cache_type_name(*change.kv_type);
    }
    if (change.gpu_layers) {
        if (*change.gpu_layers >= 0) {
            out["gpu_layers"] = *change.gpu_layers;
        } else {
            out["gpu_layers"] = gpu_layers_label(*change.gpu_layers);
        }
    }
    if (change.device) {
        out["device"] = *change.device;
    }
    if (change.n_seq) {
        out["slots"] = *change.n_seq;
    }
    if (change.model) {
        out["model"] = *change.model;
    }
    if (change.template_name) {
        out["template"] = *change.template_name;
    }
    if (change.system_prompt) {
        out["system_prompt"] = *change.system_prompt;
    }
    if (change.threads) {
        out["threads"] = *change.threads;
    }
    if (change.temperature) {
        out["temperature"] = *change.temperature;
    }
    if (change.top_k) {
        out["top_k"] = *change.top_k;
    }
    if (change.top_p) {
        out["top_p"] = *change.top_p;
    }
    if (change.repeat_penalty) {
        out["repeat_penalty"] = *change.repeat_penalty;
    }
    return out;
}

CheckStatus Checklist::overall() const {
    CheckStatus worst = CheckStatus::green;
    for (const CheckItem& item : items) {
        worst = std::max(worst, item.status);
    }
    return worst;
}

uint32_t effective_context(const ModelInfo& info, const PreflightSettings& settings) {
    return settings.n_ctx ? settings.n_ctx : std::min<uint32_t>(info.n_ctx_train, 4096);
}

Checklist run_preflight(const ModelInfo& info, const ModelFileFacts& file,
                        const PreflightSettings& settings, const MachineFacts& machine,
                        const std::vector<QuantSibling>& siblings,
                        const std::optional<WarmupMeasurement>& warmup) {
    Checklist checklist;
    checklist.items.push_back(check_memory(info, settings, machine, siblings));
    checklist.items.push_back(check_format(info, file, settings));
    checklist.items.push_back(check_runtime(info, settings, machine));
    checklist.items.push_back(check_sampling(info, settings.sampling));
    if (warmup) {
        checklist.items.push_back(check_warmup(*warmup));
    }
    return checklist;
}

namespace doctor {

nlohmann::ordered_json fix_json(const Fix& fix) {
    nlohmann::ordered_json out = {
        {"label", fix.label}, {"effect", fix.effect}, {"change", settings_change_json(fix.change)}};
    if (fix.needed_bytes > 0) {
        out["needed_bytes"] = fix.needed_bytes;
    }
    return out;
}

} // namespace doctor

nlohmann::ordered_json checklist_json(const Checklist& checklist) {
    nlohmann::ordered_json items = nlohmann::ordered_json::array();
    for (const CheckItem& item : checklist.items) {
        nlohmann::ordered_json figures = nlohmann::ordered_json::array();
        for (const Figure& figure : item.figures) {
            figures.push_back({{"label", figure.label},
                               {"text", figure.text},
                               {"value", figure.value},
                               {"unit", figure.unit}});
        }
        nlohmann::ordered_json fixes = nlohmann::ordered_json::array();
        for (const Fix& fix : item.fixes) {
            fixes.push_back(doctor::fix_json(fix));
        }
        items.push_back({{"id", item.id},
                         {"title", item.title},
                         {"status", check_status_name(item.status)},
                         {"summary", item.summary},
                         {"figures", figures},
                         {"evidence", item.evidence},
                         {"fixes", fixes}});
    }
    return {{"overall", check_status_name(checklist.overall())}, {"items", items}};
}

} // namespace hearth
