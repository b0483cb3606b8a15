// Compare's divergence of column 1's reply under each other column's model: CPU sessions of
// their own, sized to prompt and reply (the columns' cached conversations stay as they are),
// both models stepping along column 1's tokens together (hearth::reply_divergence).
#include "compare_divergence.h"

#include "hearth/quant_lab.h"
#include "hearth/reply_divergence.h"
#include "hearth/session.h"

#include <algorithm>

namespace {

// A session just large enough for prompt and reply (rounded up, within the trained context).
hearth::Result<hearth::Session> scoringSession(const std::shared_ptr<const hearth::Model>& model,
                                               size_t tokens) {
    constexpr size_t kRound = 256;
    hearth::SessionOptions options;
    const size_t trained = model->info().n_ctx_train > 0 ? model->info().n_ctx_train : tokens;
    options.n_ctx =
        uint32_t(std::min((tokens + kRound - 1) / kRound * kRound, std::max(trained, tokens)));
    return hearth::Session::create(model, options);
}

QString tokenText(const hearth::Tokenizer& tokenizer, int32_t token) {
    if (token < 0) {
        return {};
    }
    if (tokenizer.is_end_of_generation(token)) {
        return QStringLiteral("[end]");
    }
    return QString::fromStdString(tokenizer.token_to_piece(token));
}

CompareDivergence score(const DivergenceColumn& first, const DivergenceColumn& other, int column) {
    CompareDivergence d;
    d.column = column;
    const hearth::Tokenizer& tokenizer = first.model->tokenizer();
    for (int32_t token : other.reply) {
        d.otherTokens << tokenText(other.model->tokenizer(), token);
    }
    if (auto same = hearth::check_same_vocabulary(*first.model, *other.model); !same) {
        d.note = QString::fromStdString(same.error().message);
        return d;
    }
    if (other.promptText != first.promptText) {
        d.note = QStringLiteral("column %1's prompt differs from column 1's (another template or "
                                "conversation): no token-by-token divergence")
                     .arg(column + 1);
        return d;
    }
    if (first.reply.empty()) {
        d.note = QStringLiteral("column 1's reply has no tokens to compare");
        return d;
    }
    const size_t tokens = first.prompt.size() + first.reply.size();
    auto reference = scoringSession(first.model, tokens);
    if (!reference) {
        d.note = QString::fromStdString(reference.error().message);
        return d;
    }
    auto candidate = scoringSession(other.model, tokens);
    if (!candidate) {
        d.note = QString::fromStdString(candidate.error().message);
        return d;
    }
    auto result = hearth::reply_divergence(*reference, *candidate, first.prompt, first.reply);
    if (!result) {
        d.note = QString::fromStdString(result.error().message);
        return d;
    }
    for (const hearth::ReplyTokenDivergence& t : result->tokens) {
        d.tokens << CompareTokenDivergence{.text = tokenText(tokenizer, t.token),
                                           .kl = t.kl,
                                           .pFirst = t.reference_p,
                                           .pOther = t.candidate_p,
                                           .topFirst = tokenText(tokenizer, t.reference_top),
                                           .topOther = tokenText(tokenizer, t.candidate_top)};
    }
    if (const auto at = hearth::first_divergence(first.reply, other.reply)) {
        d.firstDivergence = int(*at);
    }
    d.meanKl = result->summary.mean_kld;
    d.p99Kl = result->summary.p99_kld;
    d.top1Agreement = result->summary.same_top;
    return d;
}

} // namespace

QList<CompareDivergence> compareDivergences(const std::vector<DivergenceColumn>& columns,
                                            const std::function<bool()>& cancelled) {
    QList<CompareDivergence> out;
    if (columns.size() < 2) {
        return out;
    }
    const DivergenceColumn& first = columns.front();
    for (size_t i = 1; i < columns.size(); ++i) {
        const DivergenceColumn& other = columns[i];
        if (other.model && first.model && other.modelKey == first.modelKey) {
            continue; // the same model: teacher-forced, its distributions are column 1's
        }
        if (cancelled && cancelled()) {
            break;
        }
        CompareDivergence d;
        d.column = int(i);
        if (!first.model || !first.ran) {
            d.note = QStringLiteral("column 1 did not run on a local model: no divergence");
        } else if (!other.model || !other.ran) {
            d.note =
                QStringLiteral("column %1 did not run on a local model: no divergence").arg(i + 1);
        } else {
            d = score(first, other, int(i));
        }
        out << d;
    }
    return out;
}

QString divergenceSummaryText(const CompareDivergence& d, bool forColumnOne) {
    if (!d.note.isEmpty()) {
        return d.note;
    }
    const QString first =
        d.firstDivergence < 0
            ? QStringLiteral("same tokens throughout")
            : QStringLiteral("first divergence at token %1").arg(d.firstDivergence + 1);
    return QStringLiteral("vs column %1: mean KL %2 · p99 KL %3 · top-1 agreement %4% · %5")
        .arg(forColumnOne ? d.column + 1 : 1)
        .arg(d.meanKl, 0, 'g', 3)
        .arg(d.p99Kl, 0, 'g', 3)
        .arg(d.top1Agreement * 100, 0, 'f', 1)
        .arg(first);
}

void applyDivergences(CompareColumnModel& columns, const QList<CompareDivergence>& divergences) {
    const CompareDivergence* forFirst = nullptr;
    for (const CompareDivergence& d : divergences) {
        if (!forFirst || (!forFirst->note.isEmpty() && d.note.isEmpty())) {
            forFirst = &d;
        }
    }
    for (int row = 0; row < columns.rowCount(); ++row) {
        std::optional<CompareDivergence> mine;
        if (row == 0 && forFirst) {
            mine = *forFirst;
        }
        for (const CompareDivergence& d : divergences) {
            if (row > 0 && d.column == row) {
                mine = d;
            }
        }
        columns.update(row, [&](CompareColumn& c) { c.divergence = mine; });
    }
}

QVariantList divergenceTokens(const CompareColumn& column, int row) {
    QVariantList list;
    if (!column.divergence || !column.divergence->note.isEmpty()) {
        return list;
    }
    if (row > 0) {
        for (const QString& text : column.divergence->otherTokens) {
            list << QVariantMap{{QStringLiteral("text"), text}};
        }
        return list;
    }
    for (const CompareTokenDivergence& t : column.divergence->tokens) {
        list << QVariantMap{
            {QStringLiteral("text"), t.text},         {QStringLiteral("kl"), t.kl},
            {QStringLiteral("pFirst"), t.pFirst},     {QStringLiteral("pOther"), t.pOther},
            {QStringLiteral("topFirst"), t.topFirst}, {QStringLiteral("topOther"), t.topOther}};
    }
    return list;
}
