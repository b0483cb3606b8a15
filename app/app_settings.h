// What the window remembers between runs (QSettings, ~/.config/hearth/hearth.conf): its
// geometry, which panels are open, and the theme. Created by Main.qml. The file may have been
// edited by hand: a size or position out of range is clamped (a window a billion pixels wide
// would ask the window system for a buffer of that size) and an unknown panel or theme reads
// as the default.
#pragma once

#include <QObject>
#include <QSettings>
#include <QtQml/qqmlregistration.h>

class AppSettings : public QObject {
    Q_OBJECT
    QML_ELEMENT
    Q_PROPERTY(int windowX READ windowX WRITE setWindowX NOTIFY changed)
    Q_PROPERTY(int windowY READ windowY WRITE setWindowY NOTIFY changed)
    Q_PROPERTY(int windowWidth READ windowWidth WRITE setWindowWidth NOTIFY changed)
    Q_PROPERTY(int windowHeight READ windowHeight WRITE setWindowHeight NOTIFY changed)
    Q_PROPERTY(bool maximized READ maximized WRITE setMaximized NOTIFY changed)
    Q_PROPERTY(bool sidebarVisible READ sidebarVisible WRITE setSidebarVisible NOTIFY changed)
    // "" (closed), "sampling", "template" or "gauge".
    Q_PROPERTY(QString rightPanel READ rightPanel WRITE setRightPanel NOTIFY changed)
    // "system", "light" or "dark".
    Q_PROPERTY(QString theme READ theme WRITE setTheme NOTIFY changed)

public:
    // docs/LIMITS.md, "Conversations, settings and other files the app reads". Sides: past
    // the minimum Main.qml sets and the largest texture a GPU draws into; positions: X11's
    // 16-bit coordinates (-1: let the window system place it).
    static constexpr int kMinWindowSide = 320;
    static constexpr int kMaxWindowSide = 16384;
    static constexpr int kMaxWindowPosition = 32767;

    explicit AppSettings(QObject* parent = nullptr);

    int windowX() const;
    int windowY() const;
    int windowWidth() const;
    int windowHeight() const;
    bool maximized() const;
    bool sidebarVisible() const;
    QString rightPanel() const;
    QString theme() const;

    void setWindowX(int value);
    void setWindowY(int value);
    void setWindowWidth(int value);
    void setWindowHeight(int value);
    void setMaximized(bool value);
    void setSidebarVisible(bool value);
    void setRightPanel(const QString& value);
    void setTheme(const QString& value);

signals:
    void changed();

private:
    void write(const char* key, const QVariant& value);
    int readInt(const char* key, int fallback, int low, int high) const;
    QSettings m_settings;
};
