// Sampling properties, presets and conversion to hearth::SamplingParams.
#include "sampling_settings.h"

#include <QtMath>
#include <algorithm>

namespace {

struct Preset {
    const char* name;
    double temperature, topP;
    int topK;
    double minP, repeatPenalty;
};

// Balanced is the seed document's 0.7 / 0.9 / 40 / 1.1.
constexpr Preset kPresets[] = {
    {"Greedy", 0.0, 1.0, 0, 0.0, 1.0},
    {"Balanced", 0.7, 0.9, 40, 0.0, 1.1},
    {"Creative", 1.1, 0.95, 100, 0.02, 1.05},
    {"Precise", 0.3, 0.8, 20, 0.05, 1.15},
};

bool same(double a, double b) {
    return qAbs(a - b) < 1e-6;
}

} // namespace

SamplingSettings::SamplingSettings(QObject* parent) : QObject(parent) {}

template <class T>
void SamplingSettings::assign(T& member, T value) {
    if (member != value) {
        member = value;
        emit changed();
    }
}

// Each setter clamps to the range the engine accepts, so that QML cannot produce a request
// that validate() rejects.
void SamplingSettings::setTemperature(double v) {
    assign(m_temperature, std::clamp(v, 0.0, 2.0));
}
void SamplingSettings::setTopP(double v) {
    assign(m_topP, std::clamp(v, 0.01, 1.0));
}
void SamplingSettings::setTopK(int v) {
    assign(m_topK, std::clamp(v, 0, 1000));
}
void SamplingSettings::setMinP(double v) {
    assign(m_minP, std::clamp(v, 0.0, 1.0));
}
void SamplingSettings::setRepeatPenalty(double v) {
    assign(m_repeatPenalty, std::clamp(v, 0.5, 2.0));
}
void SamplingSettings::setRepeatLastN(int v) {
    assign(m_repeatLastN, std::clamp(v, -1, 4096));
}
void SamplingSettings::setPresencePenalty(double v) {
    assign(m_presencePenalty, std::clamp(v, -2.0, 2.0));
}
void SamplingSettings::setFrequencyPenalty(double v) {
    assign(m_frequencyPenalty, std::clamp(v, -2.0, 2.0));
}
void SamplingSettings::setMaxTokens(int v) {
    assign(m_maxTokens, std::clamp(v, 1, 32768));
}
void SamplingSettings::setSeed(double v) {
    assign(m_seed, qint64(std::clamp(v, 0.0, 9007199254740992.0)));
}
void SamplingSettings::setRandomSeed(bool v) {
    assign(m_randomSeed, v);
}
void SamplingSettings::setThinking(const QString& v) {
    static const QStringList known{QStringLiteral("on"), QStringLiteral("off"),
                                   QStringLiteral("low"), QStringLiteral("medium"),
                                   QStringLiteral("high")};
    assign(m_thinking, known.contains(v) ? v : QString());
}

QStringList SamplingSettings::presets() {
    QStringList names;
    for (const Preset& p : kPresets) {
        names << QLatin1String(p.name);
    }
    return names;
}

QString SamplingSettings::preset() const {
    for (const Preset& p : kPresets) {
        if (same(p.temperature, m_temperature) && same(p.topP, m_topP) && p.topK == m_topK &&
            same(p.minP, m_minP) && same(p.repeatPenalty, m_repeatPenalty) &&
            same(m_presencePenalty, 0) && same(m_frequencyPenalty, 0)) {
            return QLatin1String(p.name);
        }
    }
    return {};
}

void SamplingSettings::applyPreset(const QString& name) {
    for (const Preset& p : kPresets) {
        if (name == QLatin1String(p.name)) {
            {
                const QSignalBlocker blocker(this);
                setTemperature(p.temperature);
                setTopP(p.topP);
                setTopK(p.topK);
                setMinP(p.minP);
                setRepeatPenalty(p.repeatPenalty);
                setPresencePenalty(0);
                setFrequencyPenalty(0);
            }
            emit changed();
            return;
        }
    }
}

void SamplingSettings::setSpeculation(const QString& value) {
    const bool known = value == QLatin1String("lookup") || value == QLatin1String("draft");
    assign(m_speculation, known ? value : QStringLiteral("off"));
}

void SamplingSettings::setDraftModel(const QString& path) {
    assign(m_draftModel, path);
}

QVariantMap SamplingSettings::toVariantMap() const {
    return {{QStringLiteral("temperature"), m_temperature},
            {QStringLiteral("top_p"), m_topP},
            {QStringLiteral("top_k"), m_topK},
            {QStringLiteral("min_p"), m_minP},
            {QStringLiteral("repeat_penalty"), m_repeatPenalty},
            {QStringLiteral("repeat_last_n"), m_repeatLastN},
            {QStringLiteral("presence_penalty"), m_presencePenalty},
            {QStringLiteral("frequency_penalty"), m_frequencyPenalty},
            {QStringLiteral("max_tokens"), m_maxTokens},
            {QStringLiteral("seed"), m_seed},
            {QStringLiteral("random_seed"), m_randomSeed},
            {QStringLiteral("thinking"), m_thinking},
            {QStringLiteral("speculation"), m_speculation},
            {QStringLiteral("draft_model"), m_draftModel}};
}

void SamplingSettings::fromVariantMap(const QVariantMap& map) {
    {
        const QSignalBlocker blocker(this);
        auto read = [&map](const char* key, auto setter) {
            if (const auto it = map.find(QLatin1String(key)); it != map.end() && it->isValid()) {
                setter(*it);
            }
        };
        read("temperature", [this](const QVariant& v) { setTemperature(v.toDouble()); });
        read("top_p", [this](const QVariant& v) { setTopP(v.toDouble()); });
        read("top_k", [this](const QVariant& v) { setTopK(v.toInt()); });
        read("min_p", [this](const QVariant& v) { setMinP(v.toDouble()); });
        read("repeat_penalty", [this](const QVariant& v) { setRepeatPenalty(v.toDouble()); });
        read("repeat_last_n", [this](const QVariant& v) { setRepeatLastN(v.toInt()); });
        read("presence_penalty", [this](const QVariant& v) { setPresencePenalty(v.toDouble()); });
        read("frequency_penalty", [this](const QVariant& v) { setFrequencyPenalty(v.toDouble()); });
        read("max_tokens", [this](const QVariant& v) { setMaxTokens(v.toInt()); });
        read("seed", [this](const QVariant& v) { setSeed(v.toDouble()); });
        read("random_seed", [this](const QVariant& v) { setRandomSeed(v.toBool()); });
        read("thinking", [this](const QVariant& v) { setThinking(v.toString()); });
        read("speculation", [this](const QVariant& v) { setSpeculation(v.toString()); });
        read("draft_model", [this](const QVariant& v) { setDraftModel(v.toString()); });
    }
    emit changed();
}

hearth::SamplingParams SamplingSettings::toParams(quint64 seed) const {
    hearth::SamplingParams params;
    params.temperature = float(m_temperature);
    params.top_k = m_topK;
    params.top_p = float(m_topP);
    params.min_p = float(m_minP);
    params.repeat_penalty = float(m_repeatPenalty);
    params.repeat_last_n = m_repeatLastN;
    params.presence_penalty = float(m_presencePenalty);
    params.frequency_penalty = float(m_frequencyPenalty);
    params.seed = seed;
    return params;
}
