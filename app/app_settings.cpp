// Window and panel state in QSettings.
#include "app_settings.h"

AppSettings::AppSettings(QObject* parent) : QObject(parent) {}

void AppSettings::write(const char* key, const QVariant& value) {
    if (m_settings.value(QLatin1String(key)) != value) {
        m_settings.setValue(QLatin1String(key), value);
        emit changed();
    }
}

int AppSettings::windowX() const {
    return m_settings.value("window/x", -1).toInt();
}
int AppSettings::windowY() const {
    return m_settings.value("window/y", -1).toInt();
}
int AppSettings::windowWidth() const {
    return m_settings.value("window/width", 1180).toInt();
}
int AppSettings::windowHeight() const {
    return m_settings.value("window/height", 760).toInt();
}
bool AppSettings::maximized() const {
    return m_settings.value("window/maximized", false).toBool();
}
bool AppSettings::sidebarVisible() const {
    return m_settings.value("panels/sidebar", true).toBool();
}
QString AppSettings::rightPanel() const {
    return m_settings.value("panels/right", QStringLiteral("gauge")).toString();
}
QString AppSettings::theme() const {
    return m_settings.value("appearance/theme", QStringLiteral("system")).toString();
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
