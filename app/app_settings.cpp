// Window and panel state in QSettings, checked as it is read.
#include "app_settings.h"

#include <algorithm>

AppSettings::AppSettings(QObject* parent) : QObject(parent) {}

void AppSettings::write(const char* key, const QVariant& value) {
    if (m_settings.value(QLatin1String(key)) != value) {
        m_settings.setValue(QLatin1String(key), value);
        emit changed();
    }
}

int AppSettings::readInt(const char* key, int fallback, int low, int high) const {
    bool ok = false;
    const qlonglong value = m_settings.value(QLatin1String(key)).toLongLong(&ok);
    return ok ? int(std::clamp<qlonglong>(value, low, high)) : fallback;
}

int AppSettings::windowX() const {
    return readInt("window/x", -1, -kMaxWindowPosition, kMaxWindowPosition);
}
int AppSettings::windowY() const {
    return readInt("window/y", -1, -kMaxWindowPosition, kMaxWindowPosition);
}
int AppSettings::windowWidth() const {
    return readInt("window/width", 1180, kMinWindowSide, kMaxWindowSide);
}
int AppSettings::windowHeight() const {
    return readInt("window/height", 760, kMinWindowSide, kMaxWindowSide);
}
bool AppSettings::maximized() const {
    return m_settings.value("window/maximized", false).toBool();
}
bool AppSettings::sidebarVisible() const {
    return m_settings.value("panels/sidebar", true).toBool();
}
QString AppSettings::rightPanel() const {
    const QString panel = m_settings.value("panels/right", QStringLiteral("gauge")).toString();
    const bool known = panel.isEmpty() || panel == QLatin1String("models") ||
                       panel == QLatin1String("sampling") || panel == QLatin1String("template") ||
                       panel == QLatin1String("gauge");
    return known ? panel : QStringLiteral("gauge");
}
QString AppSettings::theme() const {
    const QString theme = m_settings.value("appearance/theme", QStringLiteral("system")).toString();
    const bool known = theme == QLatin1String("system") || theme == QLatin1String("light") ||
                       theme == QLatin1String("dark");
    return known ? theme : QStringLiteral("system");
}

void AppSettings::setWindowX(int value) {
    write("window/x", value);
}
void AppSettings::setWindowY(int value) {
    write("window/y", value);
}
void AppSettings::setWindowWidth(int value) {
    write("window/width", value);
}
void AppSettings::setWindowHeight(int value) {
    write("window/height", value);
}
void AppSettings::setMaximized(bool value) {
    write("window/maximized", value);
}
void AppSettings::setSidebarVisible(bool value) {
    write("panels/sidebar", value);
}
void AppSettings::setRightPanel(const QString& value) {
    write("panels/right", value);
}
void AppSettings::setTheme(const QString& value) {
    write("appearance/theme", value);
}
