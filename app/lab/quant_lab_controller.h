// The Quantization lab panel's state and verbs: which types of the selected local model to make
// and measure, on which text, context and windows; runs hearth::run_quant_lab on a thread of
// its own (never the GUI's, never the chat's engine thread) and hands back its progress per
// stage and its figures as rows the panel's table and chart read.
#pragma once

#include <QObject>
#include <QString>
#include <QStringList>
#include <QThread>
#include <QVariantList>
#include <QtQml/qqmlregistration.h>
#include <atomic>
#include <memory>

class QuantLabController : public QObject {
    Q_OBJECT
    QML_ELEMENT
    // The reference: the local model the Models panel selected.
    Q_PROPERTY(QString modelPath READ modelPath WRITE setModelPath NOTIFY settingsChanged)
    Q_PROPERTY(QStringList typeChoices READ typeChoices CONSTANT)
    Q_PROPERTY(
        QStringList selectedTypes READ selectedTypes WRITE setSelectedTypes NOTIFY settingsChanged)
    // Where the quantizations are made or found (default: quant-lab/ in the app's data dir).
    Q_PROPERTY(QString outputFolder READ outputFolder WRITE setOutputFolder NOTIFY settingsChanged)
    // The text scored: "" for the built-in sample (sampleTextName), else a file's path.
    Q_PROPERTY(QString textFile READ textFile WRITE setTextFile NOTIFY settingsChanged)
    // An importance matrix every type is quantized with ("": none).
    Q_PROPERTY(QString imatrixFile READ imatrixFile WRITE setImatrixFile NOTIFY settingsChanged)
    Q_PROPERTY(QString sampleTextName READ sampleTextName CONSTANT)
    Q_PROPERTY(int contextLength READ contextLength WRITE setContextLength NOTIFY settingsChanged)
    // Windows of contextLength tokens scored; 0: every whole window of the text.
    Q_PROPERTY(int windows READ windows WRITE setWindows NOTIFY settingsChanged)
    Q_PROPERTY(bool measureSpeed READ measureSpeed WRITE setMeasureSpeed NOTIFY settingsChanged)
    Q_PROPERTY(int minContext READ minContext CONSTANT)
    Q_PROPERTY(int maxContext READ maxContext CONSTANT)
    Q_PROPERTY(bool running READ running NOTIFY runningChanged)
    Q_PROPERTY(QString stage READ stage NOTIFY progressChanged)
    Q_PROPERTY(int stageDone READ stageDone NOTIFY progressChanged)
    Q_PROPERTY(int stageTotal READ stageTotal NOTIFY progressChanged)
    Q_PROPERTY(QString error READ error NOTIFY errorChanged)
    // One map per file, the reference first: label, path, isReference, fileBytes, memoryBytes,
    // fileSize, memory (text), perplexity, perplexityChange (%), meanKld, p99Kld, top1 (%),
    // prefill, decode (tokens/s), ruleOfThumb, ruleClass ("INT8", "INT5-6", "INT4", "INT2", ""
    // for the reference), reused.
    Q_PROPERTY(QVariantList results READ results NOTIFY resultsChanged)
    Q_PROPERTY(QString verdict READ verdict NOTIFY resultsChanged)
    Q_PROPERTY(QString summary READ summary NOTIFY resultsChanged)

public:
    // The context the panel offers: run_quant_lab scores n_ctx/2 - 1 tokens a window, and
    // the memory plan is for n_ctx (docs/LIMITS.md).
    static constexpr int kMinContext = 4;
    static constexpr int kMaxContext = 131072;
    static constexpr int kMaxWindows = 100000;
    // A text file read whole: a corpus of a GiB is plenty for a lab run.
    static constexpr qint64 kMaxTextBytes = qint64{1} << 30;

    explicit QuantLabController(QObject* parent = nullptr);
    ~QuantLabController() override;

    QString modelPath() const { return m_modelPath; }
    void setModelPath(const QString& path);
    QStringList typeChoices() const;
    QStringList selectedTypes() const { return m_selectedTypes; }
    void setSelectedTypes(const QStringList& types);
    QString outputFolder() const { return m_outputFolder; }
    void setOutputFolder(const QString& folder);
    QString textFile() const { return m_textFile; }
    void setTextFile(const QString& path);
    QString imatrixFile() const { return m_imatrixFile; }
    void setImatrixFile(const QString& path);
    QString sampleTextName() const;
    int contextLength() const { return m_contextLength; }
    void setContextLength(int tokens);
    int windows() const { return m_windows; }
    void setWindows(int count);
    bool measureSpeed() const { return m_measureSpeed; }
    void setMeasureSpeed(bool on);
    int minContext() const { return kMinContext; }
    int maxContext() const { return kMaxContext; }
    bool running() const { return m_thread != nullptr; }
    QString stage() const { return m_stage; }
    int stageDone() const { return m_stageDone; }
    int stageTotal() const { return m_stageTotal; }
    QString error() const { return m_error; }
    QVariantList results() const { return m_results; }
    QString verdict() const { return m_verdict; }
    QString summary() const { return m_summary; }

    static QString defaultOutputFolder();

    Q_INVOKABLE bool isTypeSelected(const QString& type) const;
    Q_INVOKABLE void setTypeSelected(const QString& type, bool on);
    // Starts a run (false, with `error` set, when one is running or the settings are refused
    // before the engine is asked). The engine's own refusals arrive in `error` at the end.
    Q_INVOKABLE bool start();
    // Asks the run to stop; the engine removes the file it was writing.
    Q_INVOKABLE void cancel();

signals:
    void settingsChanged();
    void runningChanged();
    void progressChanged();
    void errorChanged();
    void resultsChanged();
    // A run ended: succeeded, failed (error says why) or cancelled.
    void finished(bool succeeded, bool cancelled);

private:
    struct Outcome;
    // The settings (types, folder, text, imatrix, context, windows, speed) are kept in
    // QSettings under quantLab/, as the app's others are: read back checked (unknown types
    // dropped, numbers clamped), written on each change (quant_lab_settings.cpp).
    void restoreSettings();
    void saveSettings() const;
    void setError(const QString& message);
    void onProgress(const QString& stage, int done, int total);
    void onFinished(const std::shared_ptr<Outcome>& outcome);

    QString m_modelPath;
    QStringList m_selectedTypes;
    QString m_outputFolder;
    QString m_textFile;
    QString m_imatrixFile;
    int m_contextLength = 512;
    int m_windows = 8;
    bool m_measureSpeed = true;
    QString m_stage;
    int m_stageDone = 0;
    int m_stageTotal = 0;
    QString m_error;
    QVariantList m_results;
    QString m_verdict;
    QString m_summary;
    QThread* m_thread = nullptr;
    std::shared_ptr<std::atomic<bool>> m_cancel;
};
