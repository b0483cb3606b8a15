// The Models panel's pre-flight checklist card: the engine's checklist computed off the GUI
// thread and its fixes applied through the controller.
#include "preflight_card.h"

#include "hearth/gguf.h"
#include "hearth/model_info.h"

#include <QFile>
#include <QFileInfo>
#include <QSettings>
#include <QVariantMap>

namespace {

const QString kBudgetKey = QStringLiteral("models/memoryBudget");

QString qstr(const std::string& text) {
    return QString::fromStdString(text);
}

QVariantList stringList(const std::vector<std::string>& lines) {
    QVariantList out;
    for (const std::string& line : lines) {
        out.append(qstr(line));
    }
    return out;
}

PreflightAnswer computeChecklist(const PreflightRequest& request,
                                 const hearth::MachineFacts& machine) {
    PreflightAnswer answer{
        .generation = request.generation, .path = request.path, .checklist = {}, .error = {}};
    const std::string path = request.path.toStdString();
    auto gguf = hearth::GgufFile::open(path);
    if (!gguf) {
        answer.error = qstr(gguf.error().message);
        return answer;
    }
    auto info = hearth::read_model_info(gguf->header(), gguf->file_size());
    if (!info) {
        answer.error = qstr(info.error().message);
        return answer;
    }
    auto file = hearth::read_model_file_facts(*gguf);
    if (!file) {
        answer.error = qstr(file.error().message);
        return answer;
    }
    std::vector<hearth::QuantSibling> siblings;
    if (!request.catalogJson.isEmpty()) {
        auto found = hearth::catalog_quant_siblings(
            request.catalogJson.toStdString(), QFileInfo(request.path).fileName().toStdString());
        if (found) {
            siblings = std::move(*found);
        }
    }
    answer.checklist = hearth::run_preflight(*info, *file, request.settings, machine, siblings);
    return answer;
}

} // namespace

void PreflightWorker::compute(const PreflightRequest& request) {
    if (!m_machine) {
        m_machine = hearth::read_machine_facts();
    }
    emit answered(computeChecklist(request, *m_machine));
}

QVariantList checklistRows(const hearth::Checklist& checklist) {
    QVariantList rows;
    for (const hearth::CheckItem& item : checklist.items) {
        QVariantList figures;
        for (const hearth::Figure& figure : item.figures) {
            figures.append(QVariantMap{{QStringLiteral("label"), qstr(figure.label)},
                                       {QStringLiteral("text"), qstr(figure.text)}});
        }
        QVariantList fixes;
        for (const hearth::Fix& fix : item.fixes) {
            fixes.append(QVariantMap{{QStringLiteral("label"), qstr(fix.label)},
                                     {QStringLiteral("effect"), qstr(fix.effect)}});
        }
        rows.append(QVariantMap{
            {QStringLiteral("id"), qstr(item.id)},
            {QStringLiteral("title"), qstr(item.title)},
            {QStringLiteral("status"), QString::fromUtf8(hearth::check_status_name(item.status))},
            {QStringLiteral("summary"), qstr(item.summary)},
            {QStringLiteral("figures"), figures},
            {QStringLiteral("evidence"), stringList(item.evidence)},
            {QStringLiteral("fixes"), fixes}});
    }
    return rows;
}

PreflightCard::PreflightCard(QObject* parent) : QObject(parent) {
    qRegisterMetaType<PreflightRequest>();
    qRegisterMetaType<PreflightAnswer>();
    // A budget the user set (models/memoryBudget, bytes): room kept for other programs.
    m_memoryBudget = std::max<qint64>(0, QSettings().value(kBudgetKey, 0).toLongLong());
    QFile catalog(QStringLiteral(":/hearth/catalog.json"));
    if (catalog.open(QIODevice::ReadOnly)) {
        m_catalogJson = QString::fromUtf8(catalog.readAll());
    }
    auto* worker = new PreflightWorker;
    worker->moveToThread(&m_thread);
    connect(&m_thread, &QThread::finished, worker, &QObject::deleteLater);
    connect(this, &PreflightCard::requested, worker, &PreflightWorker::compute);
    connect(worker, &PreflightWorker::answered, this, &PreflightCard::onAnswer);
    m_thread.setObjectName(QStringLiteral("preflight"));
    m_thread.start();
}

PreflightCard::~PreflightCard() {
    m_thread.quit();
    m_thread.wait();
}

QString PreflightCard::overall() const {
    if (m_checklist.items.empty()) {
        return {};
    }
    return QString::fromUtf8(hearth::check_status_name(m_checklist.overall()));
}

QVariantList PreflightCard::items() const {
    return checklistRows(m_checklist);
}

void PreflightCard::setMemoryBudget(qint64 bytes) {
    if (bytes < 0 || bytes == m_memoryBudget) {
        return;
    }
    m_memoryBudget = bytes;
    QSettings().setValue(kBudgetKey, bytes);
    emit changed();
    refresh();
}

void PreflightCard::inspect(const QString& path) {
    if (path != m_path) {
        m_path = path;
        m_checklist = {};
        m_error.clear();
    }
    refresh();
}

void PreflightCard::refresh() {
    if (m_path.isEmpty()) {
        m_applied = m_pending;
        emit changed();
        return;
    }
    PreflightRequest request{.generation = ++m_pending,
                             .path = m_path,
                             .settings = m_source ? m_source() : hearth::PreflightSettings{},
                             .catalogJson = m_catalogJson};
    if (m_memoryBudget > 0) {
        request.settings.memory_budget_bytes = uint64_t(m_memoryBudget);
    }
    emit changed();
    emit requested(request);
}

bool PreflightCard::applyFix(int item, int fix) {
    if (item < 0 || size_t(item) >= m_checklist.items.size()) {
        return false;
    }
    const std::vector<hearth::Fix>& fixes = m_checklist.items[size_t(item)].fixes;
    if (fix < 0 || size_t(fix) >= fixes.size() || !m_applier) {
        return false;
    }
    emit fixApplied(m_applier(fixes[size_t(fix)].change));
    refresh();
    return true;
}

void PreflightCard::onAnswer(const PreflightAnswer& answer) {
    if (answer.generation != m_pending || answer.path != m_path) {
        return; // a newer request is on its way
    }
    m_applied = answer.generation;
    m_checklist = answer.checklist;
    m_error = answer.error;
    emit changed();
    emit computed();
}
