// ChatController and the doctor: the settings the pre-flight checklist reads, and a fix's
// change (hearth::SettingsChange) applied to the panels' settings — the Models panel's load
// settings, the sampling, the template, the system prompt, or the download list's search for
// a smaller quantization.
#include "chat_controller.h"
#include "hearth/gpu_layers.h"

#include <QFileInfo>
#include <algorithm>
#include <cmath>
#include <cstdint>

hearth::PreflightSettings ChatController::preflightSettings() const {
    hearth::PreflightSettings settings;
    settings.n_ctx = uint32_t(std::max(m_library.contextLength(), 0));
    settings.kv_type = m_library.kvCacheType();
    if (auto device = hearth::parse_device(m_library.device().toStdString())) {
        settings.device = *device;
    }
    if (auto layers = hearth::parse_gpu_layers(m_library.gpuLayers().toStdString())) {
        settings.gpu_layers = *layers;
    }
    settings.n_threads = m_library.threads();
    settings.template_name = m_preview.templateName().toStdString();
    settings.system_prompt = m_systemPrompt.toStdString();
    settings.sampling = m_sampling.toParams(0);
    return settings;
}

namespace {

// A float setting as the panels show it: 0.7f is 0.699999988 as a double.
double panelValue(float value) {
    return std::round(double(value) * 1000.0) / 1000.0;
}

// "SmolLM2-135M-Instruct-Q3_K_M.gguf" → "SmolLM2-135M-Instruct": what the catalog's
// repositories are named after.
QString modelStem(const QString& file) {
    QString stem = QFileInfo(file).fileName();
    if (stem.endsWith(QLatin1String(".gguf"), Qt::CaseInsensitive)) {
        stem.chop(5);
    }
    const qsizetype cut =
        std::max(stem.lastIndexOf(QLatin1Char('-')), stem.lastIndexOf(QLatin1Char('.')));
    return cut > 0 ? stem.left(cut) : stem;
}

QString gpuLayersText(int32_t layers) {
    if (layers == hearth::kAllGpuLayers) {
        return QStringLiteral("all");
    }
    if (layers == hearth::kAutoGpuLayers) {
        return QStringLiteral("auto");
    }
    return QString::number(layers);
}

} // namespace

QString ChatController::applySettingsChange(const hearth::SettingsChange& change) {
    QStringList done;
    if (change.context) {
        m_library.setContextLength(int(std::min<uint32_t>(*change.context, INT32_MAX)));
        done << QStringLiteral("context %1 tokens").arg(*change.context);
    }
    if (change.kv_type) {
        const QString name = QString::fromUtf8(hearth::kv_cache_type_name(*change.kv_type));
        m_library.setKvType(name);
        done << QStringLiteral("KV cache %1").arg(name.toUpper());
    }
    if (change.gpu_layers) {
        m_library.setGpuLayers(gpuLayersText(*change.gpu_layers));
        done << QStringLiteral("GPU layers %1").arg(gpuLayersText(*change.gpu_layers));
    }
    if (change.device) {
        const QString device = QString::fromStdString(*change.device);
        m_library.setDevice(device.startsWith(QLatin1String("cuda")) ? QStringLiteral("gpu")
                                                                     : device);
        done << QStringLiteral("device %1").arg(device);
    }
    if (change.threads) {
        m_library.setThreads(*change.threads);
        done << QStringLiteral("%1 threads").arg(*change.threads);
    }
    if (change.template_name) {
        const QString name = QString::fromStdString(*change.template_name);
        m_preview.setTemplateName(name == QLatin1String("model") ? QString() : name);
        done << QStringLiteral("template %1").arg(name);
    }
    if (change.system_prompt) {
        setSystemPrompt(QString::fromStdString(*change.system_prompt));
        done << QStringLiteral("system prompt");
    }
    if (change.temperature) {
        m_sampling.setTemperature(panelValue(*change.temperature));
        done << QStringLiteral("temperature %1").arg(panelValue(*change.temperature));
    }
    if (change.top_k) {
        m_sampling.setTopK(*change.top_k);
        done << QStringLiteral("top-k %1").arg(*change.top_k);
    }
    if (change.top_p) {
        m_sampling.setTopP(panelValue(*change.top_p));
        done << QStringLiteral("top-p %1").arg(panelValue(*change.top_p));
    }
    if (change.repeat_penalty) {
        m_sampling.setRepeatPenalty(panelValue(*change.repeat_penalty));
        done << QStringLiteral("repetition penalty %1").arg(panelValue(*change.repeat_penalty));
    }
    if (change.model) {
        // The smaller file is downloaded from the list, where the user sees its size first.
        const QString file = QString::fromStdString(*change.model);
        m_downloads.setSearchText(modelStem(file));
        emit downloadSuggested(file);
        done << QStringLiteral("find %1 in the download list").arg(file);
    }
    const QString what = done.join(QStringLiteral(", "));
    if (!what.isEmpty()) {
        setStatus(QStringLiteral("Applied: %1").arg(what));
    }
    return what;
}

namespace {

// What makes a diagnosis the same one again: its kind and its evidence.
QString diagnosisKey(const hearth::Diagnosis& diagnosis) {
    QString key = QString::fromUtf8(hearth::diagnosis_kind_name(diagnosis.kind));
    for (const std::string& line : diagnosis.evidence) {
        key += QLatin1Char('\n') + QString::fromStdString(line);
    }
    return key;
}

} // namespace

void ChatController::showDiagnoses(const QString& conversationId,
                                   const std::vector<hearth::Diagnosis>& found) {
    if (conversationId.isEmpty() || conversationId != m_currentId) {
        return;
    }
    QSet<QString>& seen = m_seenDiagnoses[conversationId];
    std::vector<hearth::Diagnosis> fresh;
    for (const hearth::Diagnosis& diagnosis : found) {
        if (!seen.contains(diagnosisKey(diagnosis))) {
            seen.insert(diagnosisKey(diagnosis));
            fresh.push_back(diagnosis);
        }
    }
    m_diagnosesFor = conversationId;
    if (!fresh.empty() || !m_diagnoses.empty()) {
        m_diagnoses = std::move(fresh);
        emit diagnosesChanged();
    }
}

void ChatController::clearDiagnoses() {
    if (!m_diagnoses.empty()) {
        m_diagnoses.clear();
        emit diagnosesChanged();
    }
}

QVariantList ChatController::diagnoses() const {
    QVariantList out;
    for (const hearth::Diagnosis& diagnosis : m_diagnoses) {
        QVariantList evidence;
        for (const std::string& line : diagnosis.evidence) {
            evidence.append(QString::fromStdString(line));
        }
        QVariantList fixes;
        for (const hearth::Fix& fix : diagnosis.fixes) {
            fixes.append(
                QVariantMap{{QStringLiteral("label"), QString::fromStdString(fix.label)},
                            {QStringLiteral("effect"), QString::fromStdString(fix.effect)}});
        }
        out.append(QVariantMap{
            {QStringLiteral("kind"),
             QString::fromUtf8(hearth::diagnosis_kind_name(diagnosis.kind))},
            {QStringLiteral("severity"),
             QString::fromUtf8(hearth::severity_name(diagnosis.severity))},
            {QStringLiteral("title"), QString::fromStdString(diagnosis.title)},
            {QStringLiteral("explanation"), QString::fromStdString(diagnosis.explanation)},
            {QStringLiteral("evidence"), evidence},
            {QStringLiteral("fixes"), fixes}});
    }
    return out;
}

void ChatController::dismissDiagnosis(int index) {
    if (index >= 0 && size_t(index) < m_diagnoses.size()) {
        m_diagnoses.erase(m_diagnoses.begin() + index);
        emit diagnosesChanged();
    }
}

bool ChatController::applyDiagnosisFix(int index, int fix) {
    if (index < 0 || size_t(index) >= m_diagnoses.size()) {
        return false;
    }
    const std::vector<hearth::Fix>& fixes = m_diagnoses[size_t(index)].fixes;
    if (fix < 0 || size_t(fix) >= fixes.size()) {
        return false;
    }
    const hearth::SettingsChange change = fixes[size_t(fix)].change;
    const bool refusedLoad =
        m_diagnoses[size_t(index)].kind == hearth::DiagnosisKind::out_of_memory &&
        m_modelState == ModelState::Failed && !m_modelPath.isEmpty();
    dismissDiagnosis(index);
    applySettingsChange(change);
    // A load refused for memory is tried again with the fix (not for another file: that one
    // is downloaded from the list first).
    if (refusedLoad && !change.model) {
        loadModel(m_modelPath);
    }
    return true;
}
