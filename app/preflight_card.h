// The Models panel's pre-flight checklist card: for the selected model, the engine's checklist
// (hearth/preflight.h: memory, format, runtime, sampling) at the settings the next load would
// use, as rows for QML with their figures, evidence and fixes; a fix's button applies its
// SettingsChange through the applier the controller gives (context, KV type, GPU layers,
// sampling, template, or the smaller quantization shown in the download list).
//
// GUI thread only. The checklist is computed on the card's own thread (reading the GGUF header
// and this machine's facts takes a moment and, in a CUDA build, a CUDA context); the result
// comes back by a queued signal and an older request's result is dropped.
#pragma once

#include "doctor_api.h"

#include <QObject>
#include <QString>
#include <QThread>
#include <QVariantList>
#include <QtQml/qqmlregistration.h>
#include <functional>
#include <optional>

// What one computation needs, captured on the GUI thread.
struct PreflightRequest {
    quint64 generation = 0;
    QString path;
    hearth::PreflightSettings settings;
    QString catalogJson; // resources/catalog.json, for the smaller quantizations
};

// What it gives back: the checklist, or why there is none.
struct PreflightAnswer {
    quint64 generation = 0;
    QString path;
    hearth::Checklist checklist;
    QString error;
};

Q_DECLARE_METATYPE(PreflightRequest)
Q_DECLARE_METATYPE(PreflightAnswer)

class PreflightCard : public QObject {
    Q_OBJECT
    QML_ELEMENT
    QML_UNCREATABLE("PreflightCard belongs to ChatController")
    Q_PROPERTY(QString path READ path NOTIFY changed)
    Q_PROPERTY(bool busy READ busy NOTIFY changed)
    Q_PROPERTY(QString overall READ overall NOTIFY changed) // "green", "amber", "red" or ""
    // [{id, title, status, summary, figures: [{label, text}], evidence: [..], fixes: [{label,
    // effect}]}], in the checklist's order.
    Q_PROPERTY(QVariantList items READ items NOTIFY changed)
    Q_PROPERTY(QString error READ error NOTIFY changed)
    // The memory to fit in, in bytes, instead of this machine's free RAM (room kept for other
    // programs); 0: the machine's. Persists in QSettings (models/memoryBudget).
    Q_PROPERTY(qint64 memoryBudget READ memoryBudget WRITE setMemoryBudget NOTIFY changed)

public:
    // The settings the next load would use; called on the GUI thread for each computation.
    using SettingsSource = std::function<hearth::PreflightSettings()>;
    // Applies one fix's change; returns what it did, for the status line.
    using SettingsApplier = std::function<QString(const hearth::SettingsChange&)>;

    explicit PreflightCard(QObject* parent = nullptr);
    ~PreflightCard() override;

    void setSettingsSource(SettingsSource source) { m_source = std::move(source); }
    void setSettingsApplier(SettingsApplier applier) { m_applier = std::move(applier); }

    QString path() const { return m_path; }
    bool busy() const { return m_pending != m_applied; }
    QString overall() const;
    QVariantList items() const;
    QString error() const { return m_error; }
    // resources/catalog.json, for the smaller quantizations of a model.
    QString catalogJson() const { return m_catalogJson; }
    qint64 memoryBudget() const { return m_memoryBudget; }
    void setMemoryBudget(qint64 bytes);
    const hearth::Checklist& checklist() const { return m_checklist; }

    // Computes the checklist of the model at `path` (empty: clears the card).
    Q_INVOKABLE void inspect(const QString& path);
    // Computes it again for the same model: after the settings changed.
    Q_INVOKABLE void refresh();
    // Applies fix `fix` of item `item`, then recomputes; false for indices out of range.
    Q_INVOKABLE bool applyFix(int item, int fix);

signals:
    void changed();
    void computed(); // for tests: a result (or an error) arrived
    void fixApplied(const QString& what);
    void requested(const PreflightRequest& request);

private:
    void onAnswer(const PreflightAnswer& answer);

    SettingsSource m_source;
    SettingsApplier m_applier;
    QString m_path;
    QString m_error;
    qint64 m_memoryBudget = 0;
    hearth::Checklist m_checklist;
    QString m_catalogJson;
    quint64 m_pending = 0;
    quint64 m_applied = 0;
    QThread m_thread;
};

// Lives on PreflightCard's thread; reads this machine's facts once.
class PreflightWorker : public QObject {
    Q_OBJECT
public:
    void compute(const PreflightRequest& request);
signals:
    void answered(const PreflightAnswer& answer);

private:
    std::optional<hearth::MachineFacts> m_machine;
};

// The checklist as QML rows (PreflightCard::items's format).
QVariantList checklistRows(const hearth::Checklist& checklist);
