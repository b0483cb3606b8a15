// The models directory, as scripts/fetch-default-model and the tests compute it.
#include "model_locator.h"

#include <QStandardPaths>

namespace ModelLocator {

QString modelsDirectory() {
    const QString fromEnv = qEnvironmentVariable("HEARTH_MODELS_DIR");
    if (!fromEnv.isEmpty()) {
        return fromEnv;
    }
    return QStandardPaths::writableLocation(QStandardPaths::GenericDataLocation) +
           QStringLiteral("/hearth/models");
}

QString defaultModelPath() {
    return modelsDirectory() + QLatin1Char('/') + QLatin1String(kDefaultModelFile);
}

} // namespace ModelLocator
