// The sampling parameters as QML edits them: one property per parameter, the presets, and
// the conversion to the engine's SamplingParams. A change applies to the next generation.
#pragma once

#include "hearth/sampling.h"

#include <QObject>
#include <QStringList>
#include <QVariantMap>
#include <QtQml/qqmlregistration.h>

class SamplingSettings : public QObject {
    Q_OBJECT
    QML_ELEMENT
    Q_PROPERTY(double temperature READ temperature WRITE setTemperature NOTIFY changed)
    Q_PROPERTY(double topP READ topP WRITE setTopP NOTIFY changed)
    Q_PROPERTY(int topK READ topK WRITE setTopK NOTIFY changed)
    Q_PROPERTY(double minP READ minP WRITE setMinP NOTIFY changed)
    Q_PROPERTY(double repeatPenalty READ repeatPenalty WRITE setRepeatPenalty NOTIFY changed)
    Q_PROPERTY(int repeatLastN READ repeatLastN WRITE setRepeatLastN NOTIFY changed)
    Q_PROPERTY(double presencePenalty READ presencePenalty WRITE setPresencePenalty NOTIFY changed)
    Q_PROPERTY(
        double frequencyPenalty READ frequencyPenalty WRITE setFrequencyPenalty NOTIFY changed)
    Q_PROPERTY(int maxTokens READ maxTokens WRITE setMaxTokens NOTIFY changed)
    Q_PROPERTY(double seed READ seed WRITE setSeed NOTIFY changed)
    Q_PROPERTY(bool randomSeed READ randomSeed WRITE setRandomSeed NOTIFY changed)
    // A reasoning model's thinking switch (hearth::ThinkingSwitch::choices): "" (the template's
    // own default), "on", "off", "low", "medium" or "high"; anything else reads as "".
    Q_PROPERTY(QString thinking READ thinking WRITE setThinking NOTIFY changed)
    // Speculative decoding (hearth/speculation.h): "off", "lookup" (prompt lookup) or "draft"
    // (the draft model file `draftModel`, with the loaded model's vocabulary).
    Q_PROPERTY(QString speculation READ speculation WRITE setSpeculation NOTIFY changed)
    Q_PROPERTY(QString draftModel READ draftModel WRITE setDraftModel NOTIFY changed)
    // The preset the values match exactly, or "" (custom).
    Q_PROPERTY(QString preset READ preset NOTIFY changed)
    Q_PROPERTY(QStringList presets READ presets CONSTANT)

public:
    explicit SamplingSettings(QObject* parent = nullptr);

    double temperature() const { return m_temperature; }
    double topP() const { return m_topP; }
    int topK() const { return m_topK; }
    double minP() const { return m_minP; }
    double repeatPenalty() const { return m_repeatPenalty; }
    int repeatLastN() const { return m_repeatLastN; }
    double presencePenalty() const { return m_presencePenalty; }
    double frequencyPenalty() const { return m_frequencyPenalty; }
    int maxTokens() const { return m_maxTokens; }
    QString thinking() const { return m_thinking; }
    QString speculation() const { return m_speculation; }
    QString draftModel() const { return m_draftModel; }
    // A double for QML, whose numbers are doubles: seeds up to 2^53.
    double seed() const { return double(m_seed); }
    bool randomSeed() const { return m_randomSeed; }
    QString preset() const;
    static QStringList presets();

    void setTemperature(double value);
    void setTopP(double value);
    void setTopK(int value);
    void setMinP(double value);
    void setRepeatPenalty(double value);
    void setRepeatLastN(int value);
    void setPresencePenalty(double value);
    void setFrequencyPenalty(double value);
    void setMaxTokens(int value);
    void setSeed(double value);
    void setRandomSeed(bool value);
    void setThinking(const QString& value);
    void setSpeculation(const QString& value); // anything but "lookup" or "draft" reads as "off"
    void setDraftModel(const QString& path);

    // "Greedy", "Balanced", "Creative", "Precise". Leaves max tokens and the seed alone.
    Q_INVOKABLE void applyPreset(const QString& name);

    // For the conversation's file, and back (unknown keys ignored, missing keys kept).
    QVariantMap toVariantMap() const;
    void fromVariantMap(const QVariantMap& map);

    // The engine's parameters with `seed` (the caller draws a random one when asked).
    hearth::SamplingParams toParams(quint64 seed) const;

signals:
    void changed();

private:
    template <class T>
    void assign(T& member, T value);

    double m_temperature = 0.7;
    double m_topP = 0.9;
    int m_topK = 40;
    double m_minP = 0.0;
    double m_repeatPenalty = 1.1;
    int m_repeatLastN = 64;
    double m_presencePenalty = 0.0;
    double m_frequencyPenalty = 0.0;
    int m_maxTokens = 512;
    qint64 m_seed = 42;
    bool m_randomSeed = true;
    QString m_thinking;
    QString m_speculation = QStringLiteral("off");
    QString m_draftModel;
};
