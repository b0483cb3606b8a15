// The Quantization lab panel's settings in QSettings (quantLab/*), read back checked as
// AppSettings reads the window's: a hand-edited file gives known types only and numbers in
// range.
#include "quant_lab_controller.h"

#include <QSettings>

namespace {
constexpr auto kTypesKey = "quantLab/types";
constexpr auto kFolderKey = "quantLab/folder";
constexpr auto kTextKey = "quantLab/textFile";
constexpr auto kImatrixKey = "quantLab/imatrixFile";
constexpr auto kContextKey = "quantLab/context";
constexpr auto kWindowsKey = "quantLab/windows";
constexpr auto kSpeedKey = "quantLab/measureSpeed";
} // namespace

void QuantLabController::restoreSettings() {
    const QSettings settings;
    if (settings.contains(QLatin1String(kTypesKey))) {
        // setSelectedTypes keeps the known names, in the engine's order.
        setSelectedTypes(settings.value(QLatin1String(kTypesKey)).toStringList());
    }
    const QString folder = settings.value(QLatin1String(kFolderKey)).toString();
    if (!folder.isEmpty()) {
        m_outputFolder = folder;
    }
    m_textFile = settings.value(QLatin1String(kTextKey)).toString();
    m_imatrixFile = settings.value(QLatin1String(kImatrixKey)).toString();
    bool ok = false;
    const int context = settings.value(QLatin1String(kContextKey)).toInt(&ok);
    if (ok) {
        setContextLength(context); // clamped to the panel's range
    }
    const int windows = settings.value(QLatin1String(kWindowsKey)).toInt(&ok);
    if (ok) {
        setWindows(windows);
    }
    m_measureSpeed = settings.value(QLatin1String(kSpeedKey), m_measureSpeed).toBool();
}

void QuantLabController::saveSettings() const {
    QSettings settings;
    settings.setValue(QLatin1String(kTypesKey), m_selectedTypes);
    settings.setValue(QLatin1String(kFolderKey), m_outputFolder);
    settings.setValue(QLatin1String(kTextKey), m_textFile);
    settings.setValue(QLatin1String(kImatrixKey), m_imatrixFile);
    settings.setValue(QLatin1String(kContextKey), m_contextLength);
    settings.setValue(QLatin1String(kWindowsKey), m_windows);
    settings.setValue(QLatin1String(kSpeedKey), m_measureSpeed);
}
