// Sampling traces in the app's terms.
#include "token_trace.h"

#include "hearth/sampling.h"
#include "hearth/tokenizer.h"

TokenTrace TokenTrace::fromEngine(int token, const hearth::SamplingTrace& trace,
                                  const hearth::Tokenizer& tokenizer) {
    TokenTrace out;
    out.token = token;
    out.text = QString::fromStdString(tokenizer.token_to_piece(token));
    out.drafted = trace.drafted;
    out.draftAccepted = trace.draft_accepted;
    if (trace.drafted >= 0) {
        out.draftedText = QString::fromStdString(tokenizer.token_to_piece(trace.drafted));
    }
    out.stages.reserve(qsizetype(trace.stages.size()));
    for (const hearth::SamplingStage& stage : trace.stages) {
        TraceStage converted;
        converted.name = QString::fromStdString(stage.name);
        converted.remaining = stage.n_remaining;
        converted.top.reserve(qsizetype(stage.top.size()));
        for (const hearth::SamplingStage::Candidate& candidate : stage.top) {
            converted.top.append({candidate.token,
                                  QString::fromStdString(tokenizer.token_to_piece(candidate.token)),
                                  candidate.probability});
        }
        out.stages.append(std::move(converted));
    }
    return out;
}

QString TokenTrace::visible(const QString& text) {
    if (text.isEmpty()) {
        return QStringLiteral("∅");
    }
    QString out = text;
    out.replace(QLatin1Char(' '), QStringLiteral("␣"));
    out.replace(QLatin1Char('\n'), QStringLiteral("↵"));
    out.replace(QLatin1Char('\t'), QStringLiteral("⇥"));
    return out;
}

QVariantMap TokenTrace::toVariant() const {
    QVariantList stageList;
    for (const TraceStage& stage : stages) {
        QVariantList candidates;
        for (const TraceCandidate& candidate : stage.top) {
            candidates << QVariantMap{{QStringLiteral("token"), candidate.token},
                                      {QStringLiteral("text"), candidate.text},
                                      {QStringLiteral("display"), visible(candidate.text)},
                                      {QStringLiteral("probability"), candidate.probability},
                                      {QStringLiteral("chosen"), candidate.token == token}};
        }
        stageList << QVariantMap{{QStringLiteral("name"), stage.name},
                                 {QStringLiteral("remaining"), stage.remaining},
                                 {QStringLiteral("candidates"), candidates}};
    }
    return {{QStringLiteral("token"), token},
            {QStringLiteral("text"), text},
            {QStringLiteral("display"), visible(text)},
            {QStringLiteral("stages"), stageList},
            {QStringLiteral("drafted"), drafted},
            {QStringLiteral("draftedDisplay"), visible(draftedText)},
            {QStringLiteral("draftAccepted"), draftAccepted}};
}
