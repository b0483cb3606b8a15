// Compare's two-quantization view on the default model and its Q4_0 quantization made here
// with the engine's quantizer: column 1's per-token KL against an independent computation
// from the two models' logits (one token at a time through Session::append, KL in double
// over the whole vocabulary), the first divergence against the two greedy replies, two
// identical files giving KL 0 and no divergence, and another vocabulary refused with its
// reason.
#include "compare_controller.h"
#include "compare_divergence.h"
#include "compare_test_support.h"
#include "engine_worker.h"
#include "hearth/gguf.h"
#include "hearth/model.h"
#include "hearth/prompt.h"
#include "hearth/quantize.h"
#include "hearth/reply_divergence.h"
#include "hearth/sampling.h"
#include "hearth/session.h"
#include "test_support.h"

#include <QSignalSpy>
#include <QTemporaryDir>
#include <QtTest>
#include <algorithm>
#include <cmath>
#include <filesystem>

using hearth::test::compare::secondModelPath;
using hearth::test::compare::SharedEngine;

namespace {

constexpr int kReplyTokens = 40;
// Greedy, the default model and its Q4_0 part ways within the first 40 tokens on this prompt.
const QString kPrompt = QStringLiteral("List three facts about the planet Mars.");

std::vector<double> logSoftmax(std::span<const float> logits) {
    const float top = *std::max_element(logits.begin(), logits.end());
    double sum = 0;
    for (float l : logits) {
        sum += std::exp(double(l) - top);
    }
    const double norm = top + std::log(sum);
    std::vector<double> out(logits.size());
    for (size_t i = 0; i < logits.size(); ++i) {
        out[i] = double(logits[i]) - norm;
    }
    return out;
}

// What the test computes itself from the two models, one token at a time.
struct Independent {
    std::vector<int32_t> first; // the default model's greedy reply
    std::vector<int32_t> other; // the quantization's greedy reply
    std::vector<double> kl;     // per token of `first`: KL(default || quantization)
};

} // namespace

class TestCompareDivergence : public QObject {
    Q_OBJECT

private slots:
    void initTestCase();
    void klMatchesTheModelsLogits();
    void identicalFilesDoNotDiverge();
    void otherVocabularyIsRefused();
    void badTokensAreRefused();
    void compareWithReference();
    void cleanupTestCase() { m_engine.reset(); }

private:
    // Runs one greedy message with column 2 on `otherPath`; false when it did not finish.
    bool run(CompareController& controller, const QString& otherPath, int maxTokens);
    static Independent independent(const std::filesystem::path& firstPath,
                                   const std::filesystem::path& otherPath,
                                   const std::string& promptText,
                                   const hearth::SamplingParams& sampling);

    SharedEngine m_engine;
    QTemporaryDir m_dir;
    std::filesystem::path m_q40;
};

void TestCompareDivergence::initTestCase() {
    HEARTH_REQUIRE_DEFAULT_MODEL(modelPath);
    QVERIFY(m_dir.isValid());
    auto input = hearth::GgufFile::open(modelPath);
    QVERIFY2(input, input ? "" : input.error().message.c_str());
    m_q40 = std::filesystem::path(m_dir.path().toStdString()) / "SmolLM2.Q4_0.gguf";
    auto made = hearth::quantize_model(*input, m_q40, {.type = hearth::QuantFileType::Q4_0});
    QVERIFY2(made, made ? "" : made.error().message.c_str());
}

bool TestCompareDivergence::run(CompareController& controller, const QString& otherPath,
                                int maxTokens) {
    EngineWorker* worker = m_engine.worker();
    if (!worker) {
        return false;
    }
    controller.setEngine(worker);
    controller.clearConversation();
    for (int i = 0; i < 2; ++i) {
        controller.setColumnValue(i, "temperature", 0.0);
        controller.setColumnValue(i, "maxTokens", maxTokens);
    }
    if (!controller.setColumnValue(1, "modelPath", otherPath)) {
        qWarning("%s", qPrintable(controller.error()));
        return false;
    }
    QSignalSpy finished(&controller, &CompareController::finished);
    if (!controller.send(kPrompt)) {
        qWarning("%s", qPrintable(controller.error()));
        return false;
    }
    return finished.wait(300000) && controller.error().isEmpty();
}

Independent TestCompareDivergence::independent(const std::filesystem::path& firstPath,
                                               const std::filesystem::path& otherPath,
                                               const std::string& promptText,
                                               const hearth::SamplingParams& sampling) {
    Independent out;
    auto first = hearth::Model::load(firstPath);
    auto other = hearth::Model::load(otherPath);
    if (!first || !other) {
        return out;
    }
    auto prompt = hearth::tokenize_prompt((*first)->tokenizer(), promptText);
    auto firstSession = hearth::Session::create(*first, {.n_ctx = 512});
    auto forced = hearth::Session::create(*other, {.n_ctx = 512});
    auto otherSession = hearth::Session::create(*other, {.n_ctx = 512});
    if (!prompt || !firstSession || !forced || !otherSession) {
        return out;
    }
    const hearth::Tokenizer& tokenizer = (*first)->tokenizer();
    // Each column's choice as it samples (greedy, with the chat's repeat penalty).
    hearth::Sampler firstSampler(sampling);
    hearth::Sampler otherSampler(sampling);
    std::vector<int32_t> history = *prompt;
    auto a = firstSession->append(*prompt);
    auto b = forced->append(*prompt);
    for (int k = 0; k < kReplyTokens && a && b; ++k) {
        const int32_t token = firstSampler.sample(*a, history);
        history.push_back(token);
        const std::vector<double> p = logSoftmax(*a);
        const std::vector<double> q = logSoftmax(*b);
        double kl = 0;
        for (size_t i = 0; i < p.size(); ++i) {
            kl += std::exp(p[i]) * (p[i] - q[i]);
        }
        out.first.push_back(token);
        out.kl.push_back(kl);
        if (tokenizer.is_end_of_generation(token)) {
            break;
        }
        const int32_t next[] = {token};
        a = firstSession->append(next);
        b = forced->append(next);
    }
    history = *prompt;
    auto c = otherSession->append(*prompt);
    for (int k = 0; k < kReplyTokens && c; ++k) {
        const int32_t token = otherSampler.sample(*c, history);
        history.push_back(token);
        out.other.push_back(token);
        if (tokenizer.is_end_of_generation(token)) {
            break;
        }
        const int32_t next[] = {token};
        c = otherSession->append(next);
    }
    return out;
}

// Column 1's KL per token equals the test's own computation; the marked first divergence is
// where the two greedy replies first differ; both columns show their tokens and summaries.
void TestCompareDivergence::klMatchesTheModelsLogits() {
    HEARTH_REQUIRE_DEFAULT_MODEL(modelPath);
    CompareController controller;
    QVERIFY(run(controller, QString::fromStdString(m_q40.string()), kReplyTokens));
    const CompareColumn& first = controller.columns()->column(0);
    const CompareColumn& other = controller.columns()->column(1);
    QVERIFY(first.divergence && other.divergence);
    QVERIFY2(first.divergence->note.isEmpty(), qPrintable(first.divergence->note));
    QCOMPARE(first.divergence->column, 1);

    const Independent expected =
        independent(modelPath, m_q40, first.prompt.text.toStdString(), first.sampling);
    QVERIFY(!expected.first.empty());
    auto model = hearth::Model::load(modelPath);
    QVERIFY(model);
    const hearth::Tokenizer& tokenizer = (*model)->tokenizer();
    auto text = [&](int32_t token) {
        return tokenizer.is_end_of_generation(token)
                   ? QStringLiteral("[end]")
                   : QString::fromStdString(tokenizer.token_to_piece(token));
    };
    const QList<CompareTokenDivergence>& tokens = first.divergence->tokens;
    QCOMPARE(size_t(tokens.size()), expected.first.size());
    double worst = 0;
    for (qsizetype k = 0; k < tokens.size(); ++k) {
        QCOMPARE(tokens[k].text, text(expected.first[size_t(k)]));
        // The reference's log-probabilities are kept in 16 bits, as llama-perplexity's.
        const double want = expected.kl[size_t(k)];
        worst = std::max(worst, std::abs(tokens[k].kl - want));
        QVERIFY2(std::abs(tokens[k].kl - want) <= 1e-3 + 0.02 * want,
                 qPrintable(QString("token %1: %2 against %3").arg(k).arg(tokens[k].kl).arg(want)));
        QVERIFY(tokens[k].pFirst > 0 && tokens[k].pFirst <= 1);
    }
    qInfo("%lld tokens, largest KL difference %.2g", qlonglong(tokens.size()), worst);
    QVERIFY(*std::max_element(expected.kl.begin(), expected.kl.end()) > 1e-3);

    // The first divergence: where the two greedy replies first differ, in both columns.
    const auto [a, b] = std::mismatch(expected.first.begin(), expected.first.end(),
                                      expected.other.begin(), expected.other.end());
    QVERIFY2(a != expected.first.end(), "the two models should part ways on this prompt");
    const int at = int(a - expected.first.begin());
    QCOMPARE(first.divergence->firstDivergence, at);
    QCOMPARE(other.divergence->firstDivergence, at);
    QCOMPARE(other.divergence->otherTokens.size(), qsizetype(expected.other.size()));
    QCOMPARE(other.divergence->otherTokens[at], text(expected.other[size_t(at)]));

    const QModelIndex row0 = controller.columns()->index(0);
    const QModelIndex row1 = controller.columns()->index(1);
    QCOMPARE(row0.data(CompareColumnModel::DivergencePartnerRole).toInt(), 2);
    QCOMPARE(row0.data(CompareColumnModel::DivergenceTokensRole).toList().size(), tokens.size());
    const QString summary = row1.data(CompareColumnModel::DivergenceSummaryRole).toString();
    QVERIFY2(summary.startsWith("vs column 1: mean KL ") &&
                 summary.endsWith(QString("first divergence at token %1").arg(at + 1)),
             qPrintable(summary));
    QVERIFY(row0.data(CompareColumnModel::DivergenceSummaryRole)
                .toString()
                .startsWith("vs column 2: mean KL "));
    double mean = 0;
    for (const CompareTokenDivergence& t : tokens) {
        mean += t.kl;
    }
    QVERIFY(std::abs(first.divergence->meanKl - mean / double(tokens.size())) < 1e-6);
}

// The same weights in another file: KL 0 up to the 16-bit log-probabilities, the same top-1
// everywhere, no divergence.
void TestCompareDivergence::identicalFilesDoNotDiverge() {
    HEARTH_REQUIRE_DEFAULT_MODEL(modelPath);
    const std::filesystem::path copy =
        std::filesystem::path(m_dir.path().toStdString()) / "copy.gguf";
    std::filesystem::copy_file(modelPath, copy, std::filesystem::copy_options::overwrite_existing);
    CompareController controller;
    QVERIFY(run(controller, QString::fromStdString(copy.string()), 16));
    const CompareColumn& first = controller.columns()->column(0);
    QVERIFY(first.divergence);
    QVERIFY2(first.divergence->note.isEmpty(), qPrintable(first.divergence->note));
    QVERIFY(!first.divergence->tokens.isEmpty());
    for (const CompareTokenDivergence& t : first.divergence->tokens) {
        QVERIFY2(std::abs(t.kl) < 2.5e-4, qPrintable(QString::number(t.kl)));
        QCOMPARE(t.topOther, t.topFirst);
        QCOMPARE(t.pOther, t.pFirst);
    }
    QCOMPARE(first.divergence->firstDivergence, -1);
    QCOMPARE(first.divergence->top1Agreement, 1.0);
    QVERIFY(controller.columns()->column(1).divergence->note.isEmpty());
    QVERIFY(controller.columns()
                ->index(1)
                .data(CompareColumnModel::DivergenceSummaryRole)
                .toString()
                .endsWith("same tokens throughout"));
}

// The tiny llama numbers its tokens otherwise: no divergence view, and the columns say why.
void TestCompareDivergence::otherVocabularyIsRefused() {
    HEARTH_REQUIRE_DEFAULT_MODEL(modelPath);
    CompareController controller;
    QVERIFY(run(controller, secondModelPath(), 4));
    for (int i = 0; i < 2; ++i) {
        const QModelIndex row = controller.columns()->index(i);
        QVERIFY(row.data(CompareColumnModel::DivergenceTokensRole).toList().isEmpty());
        const QString why = row.data(CompareColumnModel::DivergenceSummaryRole).toString();
        QVERIFY2(why.contains("llama.gguf") && why.contains("vocabular") &&
                     why.contains("cannot be compared"),
                 qPrintable(why));
    }
}

// The engine's function on its own: no reply, a token outside the vocabulary, a reply past the
// context, each refused with its reason; the first divergence of replies of unequal length.
void TestCompareDivergence::badTokensAreRefused() {
    HEARTH_REQUIRE_DEFAULT_MODEL(modelPath);
    auto model = hearth::Model::load(modelPath);
    QVERIFY(model);
    auto a = hearth::Session::create(*model, {.n_ctx = 256});
    auto b = hearth::Session::create(*model, {.n_ctx = 256});
    QVERIFY(a && b);
    const std::vector<int32_t> prompt = {1, 2, 3};
    auto empty = hearth::reply_divergence(*a, *b, prompt, {});
    QVERIFY(!empty && empty.error().code == hearth::ErrorCode::invalid_argument);
    const int32_t past = (*model)->tokenizer().n_vocab();
    const std::vector<int32_t> outside = {5, past};
    auto bad = hearth::reply_divergence(*a, *b, prompt, outside);
    QVERIFY(!bad && bad.error().code == hearth::ErrorCode::invalid_argument);
    QVERIFY2(bad.error().message.find(std::to_string(past)) != std::string::npos,
             bad.error().message.c_str());
    const std::vector<int32_t> longReply(300, 5);
    auto full = hearth::reply_divergence(*a, *b, prompt, longReply);
    QVERIFY(!full && full.error().code == hearth::ErrorCode::context_full);
    const std::vector<int32_t> x = {1, 2, 3}, y = {1, 2}, z = {1, 4, 3};
    QCOMPARE(hearth::first_divergence(x, x), std::nullopt);
    QCOMPARE(hearth::first_divergence(x, y), std::optional<size_t>(2));
    QCOMPARE(hearth::first_divergence(x, z), std::optional<size_t>(1));
}

// The lab's "Compare with reference": whatever the columns were, two columns on the two files
// with one seed and column 1's sampling, and a fresh conversation; refused while generating.
void TestCompareDivergence::compareWithReference() {
    CompareController controller;
    QVERIFY(controller.addColumn());
    QVERIFY(controller.setColumnValue(1, "temperature", 1.3));
    QVERIFY(controller.setColumnValue(0, "topK", 7));
    QVERIFY(controller.setColumnValue(2, "templateName", "raw"));
    controller.setSameSeed(false);
    QVERIFY(controller.setColumnValue(1, "seed", "99"));
    const QString reference = secondModelPath();
    const QString quantization =
        QString::fromStdString((hearth::test::data_dir() / "arch" / "gemma2.gguf").string());
    QVERIFY2(controller.compareQuantizations(reference, quantization),
             qPrintable(controller.error()));
    QCOMPARE(controller.columns()->rowCount(), 2);
    QVERIFY(controller.sameSeed());
    const CompareColumn& a = controller.columns()->column(0);
    const CompareColumn& b = controller.columns()->column(1);
    QCOMPARE(a.modelPath, reference);
    QCOMPARE(b.modelPath, quantization);
    QCOMPARE(b.templateName, QString());
    QCOMPARE(b.sampling.seed, a.sampling.seed);
    QCOMPARE(b.sampling.top_k, 7);
    QCOMPARE(b.sampling.temperature, a.sampling.temperature);
    QVERIFY(controller.userMessages().isEmpty());
    QVERIFY(!controller.compareQuantizations(reference, "/nowhere/at/all.gguf"));
    QVERIFY2(controller.error().contains("no model file at"), qPrintable(controller.error()));
}

QTEST_GUILESS_MAIN(TestCompareDivergence)
#include "tst_compare_divergence.moc"
