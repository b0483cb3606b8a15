// The Quantization lab panel's controller: settings in, hearth::run_quant_lab on a QThread,
// progress and figures back to the GUI thread as queued calls.
#include "quant_lab_controller.h"

#include "hearth/file_input.h"
#include "hearth/quant_lab.h"
#include "hearth/tensor_type.h"

#include <QDir>
#include <QFile>
#include <QFileInfo>
#include <QLocale>
#include <QPointer>
#include <QStandardPaths>
#include <QVariantMap>
#include <optional>

namespace {

constexpr auto kSampleTextResource = ":/qt/qml/Hearth/quant-lab-sample.txt";

QString sizeText(uint64_t bytes) {
    return QLocale::system().formattedDataSize(static_cast<qint64>(bytes), 1,
                                               QLocale::DataSizeTraditionalFormat);
}

// The rule of thumb's class, the words before its colon ("INT4: 3-5% quality loss").
QString ruleClass(const std::string& rule) {
    const QString text = QString::fromStdString(rule);
    return text.left(text.indexOf(QLatin1Char(':')));
}

QVariantMap entryRow(const hearth::LabEntry& e, double referencePerplexity, bool reused) {
    const hearth::KlDivergenceSummary& q = e.quality;
    const std::string rule = e.type ? hearth::rule_of_thumb(*e.type) : std::string();
    return {
        {QStringLiteral("label"), QString::fromStdString(e.label)},
        {QStringLiteral("path"), QString::fromStdString(e.path.string())},
        {QStringLiteral("isReference"), e.is_reference},
        {QStringLiteral("fileBytes"), static_cast<double>(e.file_bytes)},
        {QStringLiteral("memoryBytes"), static_cast<double>(e.memory_bytes())},
        {QStringLiteral("fileSize"), sizeText(e.file_bytes)},
        {QStringLiteral("memory"), sizeText(e.memory_bytes())},
        {QStringLiteral("perplexity"), q.perplexity},
        {QStringLiteral("perplexityChange"),
         referencePerplexity > 0 ? 100 * (q.perplexity / referencePerplexity - 1) : 0.0},
        {QStringLiteral("meanKld"), q.mean_kld},
        {QStringLiteral("p99Kld"), q.p99_kld},
        {QStringLiteral("top1"), 100 * q.same_top},
        {QStringLiteral("prefill"), e.prefill_tokens_per_second},
        {QStringLiteral("decode"), e.decode_tokens_per_second},
        {QStringLiteral("ruleOfThumb"), QString::fromStdString(rule)},
        {QStringLiteral("ruleClass"), rule.empty() ? QString() : ruleClass(rule)},
        {QStringLiteral("reused"), reused},
    };
}

} // namespace

struct QuantLabController::Outcome {
    std::optional<hearth::QuantLabReport> report;
    hearth::Error error;
};

QuantLabController::QuantLabController(QObject* parent)
    : QObject(parent), m_selectedTypes{QStringLiteral("Q8_0"), QStringLiteral("Q6_K"),
                                       QStringLiteral("Q4_K_M"), QStringLiteral("Q2_K")},
      m_outputFolder(defaultOutputFolder()) {
    restoreSettings();
    // Each change is written as it is made, as AppSettings does.
    connect(this, &QuantLabController::settingsChanged, this, &QuantLabController::saveSettings);
}

QuantLabController::~QuantLabController() {
    if (m_thread) {
        m_cancel->store(true);
        m_thread->wait();
        delete m_thread;
    }
}

QString QuantLabController::defaultOutputFolder() {
    return QStandardPaths::writableLocation(QStandardPaths::GenericDataLocation) +
           QStringLiteral("/hearth/quant-lab");
}

void QuantLabController::setModelPath(const QString& path) {
    if (path != m_modelPath) {
        m_modelPath = path;
        m_results.clear();
        m_verdict.clear();
        m_summary.clear();
        emit resultsChanged();
        setError({});
        emit settingsChanged();
    }
}

QStringList QuantLabController::typeChoices() const {
    QStringList names;
    for (hearth::QuantFileType type : hearth::quant_file_types()) {
        names << QString::fromUtf8(hearth::quant_file_type_name(type));
    }
    return names;
}

void QuantLabController::setSelectedTypes(const QStringList& types) {
    QStringList known;
    for (const QString& name : typeChoices()) {
        if (types.contains(name, Qt::CaseInsensitive)) {
            known << name; // in the engine's order, each once
        }
    }
    if (known != m_selectedTypes) {
        m_selectedTypes = known;
        emit settingsChanged();
    }
}

bool QuantLabController::isTypeSelected(const QString& type) const {
    return m_selectedTypes.contains(type);
}

void QuantLabController::setTypeSelected(const QString& type, bool on) {
    QStringList types = m_selectedTypes;
    types.removeAll(type);
    if (on) {
        types << type;
    }
    setSelectedTypes(types);
}

void QuantLabController::setOutputFolder(const QString& folder) {
    if (folder != m_outputFolder) {
        m_outputFolder = folder;
        emit settingsChanged();
    }
}

void QuantLabController::setTextFile(const QString& path) {
    if (path != m_textFile) {
        m_textFile = path;
        emit settingsChanged();
    }
}

void QuantLabController::setImatrixFile(const QString& path) {
    if (path != m_imatrixFile) {
        m_imatrixFile = path;
        emit settingsChanged();
    }
}

QString QuantLabController::sampleTextName() const {
    return tr("Genesis (King James Version), 190 KB");
}

void QuantLabController::setContextLength(int tokens) {
    tokens = std::clamp(tokens, kMinContext, kMaxContext);
    if (tokens != m_contextLength) {
        m_contextLength = tokens;
        emit settingsChanged();
    }
}

void QuantLabController::setWindows(int count) {
    count = std::clamp(count, 0, kMaxWindows);
    if (count != m_windows) {
        m_windows = count;
        emit settingsChanged();
    }
}

void QuantLabController::setMeasureSpeed(bool on) {
    if (on != m_measureSpeed) {
        m_measureSpeed = on;
        emit settingsChanged();
    }
}

void QuantLabController::setError(const QString& message) {
    if (message != m_error) {
        m_error = message;
        emit errorChanged();
    }
}

bool QuantLabController::start() {
    if (m_thread) {
        setError(tr("A lab run is already under way."));
        return false;
    }
    if (m_modelPath.isEmpty()) {
        setError(tr("Pick a local model in the Models panel first."));
        return false;
    }
    if (m_selectedTypes.isEmpty()) {
        setError(tr("Pick at least one type to make and measure."));
        return false;
    }
    std::string text;
    if (m_textFile.isEmpty()) {
        QFile sample(QString::fromLatin1(kSampleTextResource));
        if (!sample.open(QIODevice::ReadOnly)) {
            setError(tr("The built-in sample text is missing from this build."));
            return false;
        }
        text = sample.readAll().toStdString();
    } else {
        auto read = hearth::read_file_input(m_textFile.toStdString(), "the text file",
                                            static_cast<size_t>(kMaxTextBytes));
        if (!read) {
            setError(QString::fromStdString(read.error().message));
            return false;
        }
        text = std::move(*read);
    }
    hearth::QuantLabOptions options;
    options.model = m_modelPath.toStdString();
    for (const QString& name : m_selectedTypes) {
        options.types.push_back(*hearth::parse_quant_file_type(name.toStdString()));
    }
    options.text = std::move(text);
    options.out_dir = m_outputFolder.toStdString();
    options.measure.n_ctx = static_cast<uint32_t>(m_contextLength);
    options.measure.max_windows = static_cast<size_t>(m_windows);
    options.measure.measure_speed = m_measureSpeed;
    options.imatrix = m_imatrixFile.toStdString();

    setError({});
    m_results.clear();
    m_verdict.clear();
    m_summary.clear();
    emit resultsChanged();
    m_cancel = std::make_shared<std::atomic<bool>>(false);
    const QPointer<QuantLabController> self(this);
    auto cancelFlag = m_cancel;
    m_thread = QThread::create([self, cancelFlag, options = std::move(options)] {
        const auto progress = [self, cancelFlag](const hearth::LabProgress& p) {
            QMetaObject::invokeMethod(
                self,
                [self, stage = QString::fromStdString(p.stage), done = p.done, total = p.total] {
                    if (self) {
                        self->onProgress(stage, static_cast<int>(done), static_cast<int>(total));
                    }
                },
                Qt::QueuedConnection);
            return !cancelFlag->load();
        };
        auto outcome = std::make_shared<Outcome>();
        auto report = hearth::run_quant_lab(options, progress, cancelFlag.get());
        if (report) {
            outcome->report = std::move(*report);
        } else {
            outcome->error = report.error();
        }
        QMetaObject::invokeMethod(
            self,
            [self, outcome] {
                if (self) {
                    self->onFinished(outcome);
                }
            },
            Qt::QueuedConnection);
    });
    m_stage = tr("starting");
    m_stageDone = 0;
    m_stageTotal = 0;
    emit progressChanged();
    m_thread->start();
    emit runningChanged();
    return true;
}

void QuantLabController::cancel() {
    if (m_cancel) {
        m_cancel->store(true);
    }
}

void QuantLabController::onProgress(const QString& stage, int done, int total) {
    if (!m_thread) {
        return; // a late report of a run that has ended
    }
    m_stage = stage;
    m_stageDone = done;
    m_stageTotal = total;
    emit progressChanged();
}

void QuantLabController::onFinished(const std::shared_ptr<Outcome>& outcome) {
    m_thread->wait();
    delete m_thread;
    m_thread = nullptr;
    const bool cancelled = !outcome->report && outcome->error.code == hearth::ErrorCode::cancelled;
    if (outcome->report) {
        const hearth::QuantLabReport& r = *outcome->report;
        const double referencePerplexity = r.entries.front().quality.perplexity;
        for (const hearth::LabEntry& e : r.entries) {
            const bool reused =
                std::find(r.reused.begin(), r.reused.end(), e.label) != r.reused.end();
            m_results << entryRow(e, referencePerplexity, reused);
        }
        m_verdict = QString::fromStdString(r.verdict);
        QString bounded;
        for (hearth::TensorType t : r.reference_quantized_from) {
            bounded += (bounded.isEmpty() ? QString() : QStringLiteral(", ")) +
                       QString::fromUtf8(hearth::tensor_type_name(t));
        }
        m_summary =
            tr("%1 tokens, %2 windows of %3 against the %4 reference")
                .arg(r.n_tokens)
                .arg(r.n_windows)
                .arg(r.n_ctx)
                .arg(QString::fromStdString(r.reference_type)) +
            (bounded.isEmpty()
                 ? QString()
                 : tr(" (itself quantized: %1; every quantization is bounded by it)").arg(bounded));
        m_stage = tr("done");
        m_stageTotal = 0;
        setError({}); // a refused second start's message is stale now
    } else {
        m_stage = cancelled ? tr("cancelled") : tr("failed");
        m_stageTotal = 0; // the stage it stopped in is no longer the news
        setError(cancelled ? QString() : QString::fromStdString(outcome->error.message));
    }
    emit progressChanged();
    emit resultsChanged();
    emit runningChanged();
    emit finished(outcome->report.has_value(), cancelled);
}
