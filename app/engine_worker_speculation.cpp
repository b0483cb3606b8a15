// The chat's speculative decoding choice in the engine's terms: prompt lookup, or a draft
// model file loaded on first use and kept while the same file is chosen.
#include "engine_worker.h"

#include <fmt/format.h>

hearth::Result<hearth::SpeculationOptions>
EngineWorker::speculationOptions(const GenerationRequest& request) {
    hearth::SpeculationOptions options;
    if (request.speculation == QLatin1String("lookup")) {
        options.mode = hearth::SpeculationMode::lookup;
    } else if (request.speculation == QLatin1String("draft")) {
        if (request.draftModel.isEmpty()) {
            return hearth::fail(hearth::ErrorCode::invalid_argument,
                                "speculative decoding with a draft model: choose the draft "
                                "model's file in the Sampling panel");
        }
        if (!m_draftModel || m_draftPath != request.draftModel) {
            m_draftModel.reset(); // free the old one before loading the new one
            auto draft =
                hearth::Model::load(request.draftModel.toStdString(),
                                    {.n_threads = m_model->n_threads(), .on_progress = {}});
            if (!draft) {
                return hearth::fail(draft.error().code,
                                    fmt::format("the draft model: {}", draft.error().message));
            }
            m_draftModel = *draft;
            m_draftPath = request.draftModel;
        }
        options.mode = hearth::SpeculationMode::draft_model;
        options.draft_model = m_draftModel;
    }
    return options;
}
