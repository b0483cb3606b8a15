// Points the app's files at a test's own temporary folder: settings, conversations, the models
// folder and the Hugging Face cache, so an app test never reads or writes the user's.
#pragma once

#include <QCoreApplication>
#include <QString>

inline void useIsolatedProfile(const QString& root, const QString& applicationName) {
    qputenv("HOME", (root + QLatin1String("/home")).toUtf8());
    qputenv("XDG_CONFIG_HOME", (root + QLatin1String("/config")).toUtf8());
    qputenv("XDG_DATA_HOME", (root + QLatin1String("/data")).toUtf8());
    qputenv("HEARTH_MODELS_DIR", (root + QLatin1String("/models")).toUtf8());
    qputenv("HF_HUB_CACHE", (root + QLatin1String("/hub")).toUtf8());
    QCoreApplication::setOrganizationName(QStringLiteral("hearth-test"));
    QCoreApplication::setApplicationName(applicationName);
}
