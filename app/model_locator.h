// Where models are: Hearth's models directory and the default model in it.
#pragma once

#include <QString>

namespace ModelLocator {

// $HEARTH_MODELS_DIR, else $XDG_DATA_HOME/hearth/models (~/.local/share/hearth/models).
QString modelsDirectory();
// The bundled default, SmolLM2-135M-Instruct (Q4_1), in the models directory. It may not
// exist: scripts/fetch-default-model puts it there in a source checkout; an installed
// Hearth's empty state downloads the catalog's recommended model instead (RecommendedModel).
QString defaultModelPath();
inline constexpr const char* kDefaultModelFile = "SmolLM2-135M-Instruct.Q4_1.gguf";

} // namespace ModelLocator
