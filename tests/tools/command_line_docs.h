// The command lines that Hearth's documentation shows, read from the documents themselves: the
// README's code spans and the manual pages (roff, rendered to text here), and a synopsis such as
// `hearth-cli run MODEL (-p PROMPT | -f FILE) [-n N]` expanded into the concrete word lists it
// allows, so that tst_cli_documented can run each one as written.
#pragma once

#include <QList>
#include <QMap>
#include <QRegularExpression>
#include <QSet>
#include <QString>
#include <QStringList>
#include <algorithm>
#include <memory>
#include <vector>

namespace hearth::test {

// A command line found in a document, and where.
struct DocumentedLine {
    QString text;  // "hearth-cli info MODEL [--ctx N] [--json]"
    QString where; // "README.md" or "hearth-cli.1, section COMMANDS/run"
};

// An entry of a manual page's option list (.TP): its tag ("-c, --ctx N") and its text.
struct ManEntry {
    QString section;    // "COMMANDS", "GENERATION OPTIONS"
    QString subsection; // "run", "template render"; empty outside .SS
    QString tag;
    QString body;
};

struct ManPage {
    QStringList lines;              // rendered text: paragraphs and no-fill lines, one each
    QList<ManEntry> entries;        // the .TP entries, in order
    QMap<QString, QString> prose;   // "SECTION/subsection" -> its paragraphs, joined
    QList<DocumentedLine> commands; // lines that start with hearth-cli or hearth-bench
};

// A program's name alone ("`hearth-cli`" in prose) names it rather than showing a command.
inline bool is_command_line(const QString& text) {
    return text.startsWith("hearth-cli ") || text.startsWith("hearth-bench ");
}

// Roff escapes to plain text: \- \fB \fI \fR \fP \(em \(aq \e \& "\ ".
inline QString unescape_roff(const QString& text) {
    QString out;
    for (qsizetype i = 0; i < text.size(); ++i) {
        if (text[i] != '\\' || i + 1 == text.size()) {
            out += text[i];
            continue;
        }
        const QChar next = text[++i];
        if (next == 'f' && i + 1 < text.size()) {
            ++i; // a font change: no text
        } else if (next == '(' && i + 2 < text.size()) {
            const QString name = text.mid(i + 1, 2);
            out += name == "em" ? QString("—") : name == "aq" ? QString("'") : QString();
            i += 2;
        } else if (next == '-' || next == '\\' || next == ' ' || next == '.') {
            out += next;
        } else if (next == 'e') {
            out += '\\';
        } // \& \| \^ and the rest: nothing
    }
    return out;
}

// A macro's arguments: words, or "quoted strings" ("" inside quotes is one quote).
inline QStringList roff_arguments(const QString& text) {
    QStringList args;
    qsizetype i = 0;
    while (i < text.size()) {
        while (i < text.size() && text[i] == ' ') {
            ++i;
        }
        if (i == text.size()) {
            break;
        }
        QString arg;
        if (text[i] == '"') {
            for (++i; i < text.size(); ++i) {
                if (text[i] == '"' && i + 1 < text.size() && text[i + 1] == '"') {
                    arg += '"';
                    ++i;
                } else if (text[i] == '"') {
                    ++i;
                    break;
                } else {
                    arg += text[i];
                }
            }
        } else {
            while (i < text.size() && text[i] != ' ') {
                arg += text[i++];
            }
        }
        args << arg;
    }
    return args;
}

// Renders the subset of man(7) the pages use: .SH .SS .TP .PP .br .nf/.fi and the font macros.
inline ManPage render_man_page(const QString& source, const QString& file_name) {
    ManPage page;
    QString section, subsection, paragraph;
    QSet<QString> described; // sections where prose has begun
    bool nofill = false, expect_tag = false, in_entry = false;
    auto key = [&] { return section + "/" + subsection; };
    auto flush = [&] {
        if (!paragraph.isEmpty()) {
            page.lines << paragraph;
            if (in_entry) {
                page.entries.last().body += paragraph;
            }
            // Command lines: the synopses (SYNOPSIS, and the lines that open each command's
            // .SS) and the examples; prose that starts with the program's name is not one.
            const bool synopsis = section == "SYNOPSIS" || section == "EXAMPLES" ||
                                  (!subsection.isEmpty() && !described.contains(key()));
            if (synopsis && is_command_line(paragraph)) {
                page.commands.append({paragraph, QString("%1, %2").arg(file_name, key())});
            } else {
                described.insert(key());
            }
            page.prose[key()] += paragraph + "\n";
        }
        paragraph.clear();
    };
    auto text = [&](const QString& rendered) {
        if (expect_tag) {
            page.entries.append({section, subsection, rendered.simplified(), {}});
            expect_tag = false;
            in_entry = true;
        } else if (nofill) {
            paragraph = rendered;
            flush();
        } else {
            paragraph += (paragraph.isEmpty() ? "" : " ") + rendered.simplified();
        }
    };
    for (const QString& line : source.split('\n')) {
        if (line.startsWith(".\\\"") || line.startsWith("'\\\"")) {
            continue;
        }
        if (!line.startsWith('.')) {
            text(unescape_roff(line));
            continue;
        }
        const qsizetype space = line.indexOf(' ');
        const QString macro = line.mid(1, space < 0 ? -1 : space - 1);
        const QStringList args = roff_arguments(space < 0 ? QString() : line.mid(space + 1));
        if (macro == "B" || macro == "I") {
            text(unescape_roff(args.join(' ')));
        } else if (QStringList{"BR", "BI", "IB", "IR", "RB", "RI"}.contains(macro)) {
            text(unescape_roff(args.join(QString())));
        } else {
            flush(); // every other macro ends the paragraph
            if (macro == "SH" || macro == "SS") {
                (macro == "SH" ? section : subsection) = unescape_roff(args.join(' '));
                if (macro == "SH") {
                    subsection.clear();
                }
                in_entry = false;
            } else if (macro == "TP") {
                expect_tag = true;
            } else if (macro == "PP" || macro == "P" || macro == "LP") {
                in_entry = false;
            } else if (macro == "nf" || macro == "fi") {
                nofill = macro == "nf";
            }
        }
    }
    flush();
    return page;
}

// The README's command lines: code spans (`...`, which may wrap onto the next line) and the
// lines of fenced code blocks that start with hearth-cli or hearth-bench.
inline QList<DocumentedLine> markdown_command_lines(const QString& source,
                                                    const QString& file_name) {
    QList<DocumentedLine> out;
    QString prose;
    bool fenced = false;
    for (const QString& line : source.split('\n')) {
        if (line.trimmed().startsWith("```")) {
            fenced = !fenced;
            continue;
        }
        if (fenced) {
            if (is_command_line(line.trimmed())) {
                out.append({line.trimmed(), file_name});
            }
        } else {
            prose += line + "\n";
        }
    }
    static const QRegularExpression span("`([^`]+)`");
    for (auto it = span.globalMatch(prose); it.hasNext();) {
        const QString text = it.next().captured(1).simplified();
        if (is_command_line(text)) {
            out.append({text, file_name});
        }
    }
    return out;
}

// A synopsis, parsed: words, [optional] parts, (a | b) alternatives, a|b alternatives glued in
// one word, "..." repeating what precedes it, and 'quoted' literal text. Each part records
// whether a space precedes it, so that OWNER/REPO[:FILE] stays one word.
class Synopsis {
public:
    // Each concrete form, as words made of pieces: {text, is a literal (quoted) piece}.
    struct Piece {
        QString text;
        bool literal = false;
        bool operator==(const Piece&) const = default;
    };
    using Word = QList<Piece>;

    explicit Synopsis(const QString& text) {
        tokenize(text);
        size_t at = 0;
        root_ = parse_alternatives(at, QString());
        ok_ = at == tokens_.size();
    }

    bool ok() const { return ok_; }

    // Every optional part left out, then every one put in, each with the k-th choice of every
    // alternative (k cycling), for k up to the most alternatives anywhere: each word of the
    // synopsis appears in some form. Duplicates removed.
    QList<QList<Word>> forms() const {
        QList<QList<Word>> out;
        const int rounds = std::max(1, max_alternatives(root_));
        for (int k = 0; k < rounds; ++k) {
            for (bool with_optional : {false, true}) {
                QList<Word> words;
                append_form(root_, k, with_optional, true, words);
                if (!out.contains(words)) {
                    out << words;
                }
            }
        }
        return out;
    }

private:
    struct Token {
        enum Kind { word, open_square, close_square, open_paren, close_paren, bar, ellipsis } kind;
        QString text;
        bool spaced = false;
        bool literal = false;
    };
    struct Node;
    using Sequence = std::vector<std::shared_ptr<Node>>;
    struct Node {
        enum Kind { word, optional, choice } kind = word;
        Piece piece;
        bool spaced = false;
        int repeat = 1;
        std::vector<Sequence> alternatives; // optional: one; choice: several
    };

    void tokenize(const QString& text) {
        bool spaced = true;
        for (qsizetype i = 0; i < text.size();) {
            const QChar c = text[i];
            if (c.isSpace()) {
                spaced = true;
                ++i;
                continue;
            }
            Token token{Token::word, {}, spaced, false};
            spaced = false;
            if (c == '\'' || c == '"') {
                const qsizetype end = text.indexOf(c, i + 1);
                token.text = text.mid(i + 1, (end < 0 ? text.size() : end) - i - 1);
                token.literal = true;
                i = end < 0 ? text.size() : end + 1;
            } else if (text.mid(i, 3) == "...") {
                token.kind = Token::ellipsis;
                i += 3;
            } else if (QString("[]()|").contains(c)) {
                token.kind = c == '['   ? Token::open_square
                             : c == ']' ? Token::close_square
                             : c == '(' ? Token::open_paren
                             : c == ')' ? Token::close_paren
                                        : Token::bar;
                ++i;
            } else {
                while (i < text.size() && !text[i].isSpace() &&
                       !QString("[]()|'\"").contains(text[i]) && text.mid(i, 3) != "...") {
                    token.text += text[i++];
                }
            }
            tokens_.push_back(token);
        }
    }

    bool glued_bar(size_t at) const {
        return tokens_[at].kind == Token::bar && !tokens_[at].spaced && at + 1 < tokens_.size() &&
               !tokens_[at + 1].spaced && tokens_[at + 1].kind == Token::word;
    }

    std::vector<Sequence> parse_alternatives(size_t& at, const QString& closer) {
        std::vector<Sequence> alternatives(1);
        while (at < tokens_.size()) {
            const Token& token = tokens_[at];
            if ((token.kind == Token::close_square && closer == "]") ||
                (token.kind == Token::close_paren && closer == ")")) {
                ++at;
                return alternatives;
            }
            Sequence& sequence = alternatives.back();
            if (token.kind == Token::bar && glued_bar(at) && !sequence.empty() &&
                sequence.back()->kind == Node::word) {
                // NAME|FILE: the word before and the word after are the choice.
                auto choice = std::make_shared<Node>();
                choice->kind = Node::choice;
                choice->spaced = sequence.back()->spaced;
                sequence.back()->spaced = false;
                choice->alternatives.push_back({sequence.back()});
                sequence.pop_back();
                while (at < tokens_.size() && glued_bar(at)) {
                    auto next = std::make_shared<Node>();
                    next->piece = {tokens_[at + 1].text, tokens_[at + 1].literal};
                    choice->alternatives.push_back({next});
                    at += 2;
                }
                sequence.push_back(choice);
                continue;
            }
            ++at;
            if (token.kind == Token::bar) {
                alternatives.emplace_back();
            } else if (token.kind == Token::ellipsis) {
                if (!sequence.empty()) {
                    sequence.back()->repeat = 2;
                }
            } else if (token.kind == Token::open_square || token.kind == Token::open_paren) {
                auto node = std::make_shared<Node>();
                node->kind = token.kind == Token::open_square ? Node::optional : Node::choice;
                node->spaced = token.spaced;
                node->alternatives =
                    parse_alternatives(at, token.kind == Token::open_square ? "]" : ")");
                sequence.push_back(node);
            } else if (token.kind == Token::word) {
                auto node = std::make_shared<Node>();
                node->piece = {token.text, token.literal};
                node->spaced = token.spaced;
                sequence.push_back(node);
            } else {
                at = tokens_.size() + 1; // an unmatched closer: not a synopsis
                return alternatives;
            }
        }
        if (!closer.isEmpty()) {
            at = tokens_.size() + 1; // unclosed
        }
        return alternatives;
    }

    static int max_alternatives(const std::vector<Sequence>& alternatives) {
        int most = static_cast<int>(alternatives.size());
        for (const Sequence& sequence : alternatives) {
            for (const auto& node : sequence) {
                most = std::max(most, max_alternatives(node->alternatives));
            }
        }
        return most;
    }

    // Appends the chosen form; `spaced` overrides the first part's own spacing.
    static void append_form(const std::vector<Sequence>& alternatives, int k, bool with_optional,
                            bool spaced, QList<Word>& words) {
        const Sequence& sequence = alternatives[static_cast<size_t>(k) % alternatives.size()];
        for (size_t i = 0; i < sequence.size(); ++i) {
            const Node& node = *sequence[i];
            for (int r = 0; r < node.repeat; ++r) {
                const bool space = i == 0 && r == 0 ? spaced : (r > 0 || node.spaced);
                if (node.kind == Node::word) {
                    if (space || words.isEmpty()) {
                        words.append(Word{});
                    }
                    words.last().append(node.piece);
                } else if (node.kind == Node::choice || with_optional) {
                    append_form(node.alternatives, k, with_optional, space, words);
                }
            }
        }
    }

    std::vector<Token> tokens_;
    std::vector<Sequence> root_;
    bool ok_ = false;
};

} // namespace hearth::test
