// Tokenizers: text <-> token ids for SentencePiece models (through the sentencepiece library)
// and byte-level BPE models (GPT-2, Llama 3, Qwen2, SmolLM, StarCoder, ... pre-tokenizers),
// built from a GGUF file's `tokenizer.ggml.*` metadata or a Hugging Face folder.
//
// Ownership and threads: a Tokenizer owns all its data (it keeps nothing from the GgufHeader
// it was built from). It is movable, not copyable; all const member functions may be called
// from several threads at once. A StreamingDetokenizer is a small per-stream state that
// refers to its Tokenizer, which must outlive it; use one per thread.
//
// Failures: building fails with `bad_format` when the vocabulary is missing or inconsistent
// (the message names the offending key and index), and with `unsupported` for a tokenizer
// model or pre-tokenizer Hearth does not know (named in the message). encode() fails with
// `invalid_argument` when the text is not valid UTF-8 (the message gives the byte offset).
#pragma once

#include "hearth/error.h"

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace hearth {

struct GgufHeader;

// docs/LIMITS.md, "Tokenizer input".
// The most text encode() takes at once: about 4 million tokens, 30 times the longest context
// a model here has. Bounds the work and memory of one call (about 25 bytes per byte of text
// for byte-level BPE, up to 100 for the sentencepiece library on one endless word).
inline constexpr size_t kMaxEncodeBytes = size_t{16} << 20;
// The longest special (control, user-defined, unknown) token a vocabulary may have: encode()
// tries them at every position of a text. Real ones are at most 31 bytes (Gemma's runs of
// spaces).
inline constexpr size_t kMaxSpecialTokenBytes = 256;
// The files of a Hugging Face folder, read only when they are regular files of at most this
// size: Gemma 3's tokenizer.json (262k tokens) is 33 MiB, its tokenizer.model 4.5 MiB.
inline constexpr size_t kMaxTokenizerJsonBytes = size_t{128} << 20;
inline constexpr size_t kMaxTokenizerModelBytes = size_t{64} << 20;
inline constexpr size_t kMaxTokenizerConfigBytes = size_t{16} << 20;

enum class TokenizerKind {
    spm, // SentencePiece (`tokenizer.ggml.model = "llama"`): Llama 2, Mistral, Phi-3, Gemma
    bpe, // byte-level BPE (`tokenizer.ggml.model = "gpt2"`)
};

// GGUF's token types (`tokenizer.ggml.token_type`), which are also SentencePiece's.
enum class TokenType : int32_t {
    undefined = 0,
    normal = 1,
    unknown = 2,
    control = 3,      // <s>, </s>, <|im_start|>: only ever produced from text with parse_special
    user_defined = 4, // always matched whole inside text
    unused = 5,
    byte = 6, // SentencePiece byte fallback: <0x0A>
};

struct EncodeOptions {
    // Add BOS / EOS as the model asks (`tokenizer.ggml.add_bos_token`, `add_eos_token`).
    bool add_special = true;
    // Recognise control tokens written in the text ("<|im_start|>") as those tokens. When
    // false they are tokenized as ordinary text.
    bool parse_special = false;
};

struct DecodeOptions {
    // Drop the text of control tokens (BOS, EOS, <|im_end|>, ...).
    bool skip_special = false;
};

class Tokenizer {
public:
    static Result<Tokenizer> from_gguf(const GgufHeader& header);
    // Opens a GGUF file and reads only its metadata.
    static Result<Tokenizer> from_gguf_file(const std::filesystem::path& path);
    // A Hugging Face folder: tokenizer.json (byte-level BPE) or tokenizer.model
    // (SentencePiece), plus tokenizer_config.json when present.
    static Result<Tokenizer> from_hf_folder(const std::filesystem::path& folder);

    Tokenizer(Tokenizer&&) noexcept;
    Tokenizer& operator=(Tokenizer&&) noexcept;
    Tokenizer(const Tokenizer&) = delete;
    Tokenizer& operator=(const Tokenizer&) = delete;
    ~Tokenizer();

    Result<std::vector<int32_t>> encode(std::string_view text, EncodeOptions options = {}) const;

    // The text of `ids`; ill-formed UTF-8 (a sequence cut in the middle of a character)
    // becomes U+FFFD. Ids out of range are skipped. SentencePiece's dummy-prefix space is
    // removed at the start and after each special token, mirroring encode().
    std::string decode(std::span<const int32_t> ids, DecodeOptions options = {}) const;

    // The bytes a token stands for, exactly (it may be part of a UTF-8 character); control
    // tokens give their text. Empty for an id out of range.
    std::string token_to_piece(int32_t id) const;

    std::optional<int32_t> bos_id() const;
    std::optional<int32_t> eos_id() const;
    std::optional<int32_t> eot_id() const;
    std::optional<int32_t> pad_id() const;
    std::optional<int32_t> unk_id() const;
    bool add_bos() const;
    bool add_eos() const;
    bool add_space_prefix() const;

    // EOS, EOT and the end-of-turn tokens a model may emit (<|im_end|>, <|eot_id|>, ...).
    bool is_end_of_generation(int32_t id) const;
    // Control, user-defined or unknown tokens: the ones matched whole in text.
    bool is_special(int32_t id) const;
    bool is_control(int32_t id) const;
    TokenType token_type(int32_t id) const;

    int32_t n_vocab() const;
    // The token's text as the vocabulary spells it ("Ġthe", "▁the", "<0x0A>"); empty out of range.
    const std::string& token_text(int32_t id) const;
    std::optional<int32_t> find_token(std::string_view text) const;
    TokenizerKind kind() const;
    // `tokenizer.ggml.pre` for BPE ("smollm", "llama-bpe", ...); "" for SentencePiece.
    std::string pre_tokenizer() const;

    struct Impl;

private:
    explicit Tokenizer(std::unique_ptr<Impl> impl);
    std::unique_ptr<Impl> impl_;
    friend class StreamingDetokenizer;
};

// Turns ids into text one at a time, as they are generated, in the context of the tokens
// before them (a prompt): the concatenation of everything push() and flush() return equals
// decode(context + ids) minus decode(context), exactly, as llama.cpp and vLLM stream a
// completion. So a SentencePiece continuation keeps the space it starts with (" Mensumes"
// after "Once upon a time": decode drops that space only at the start of a text and after a
// special token). Where the context ends inside a character, decode(context) ends with
// U+FFFD and decode(context + ids) may show the whole character there: "minus" is then what
// follows the two texts' common prefix, so the completed character is returned whole. No
// returned chunk ends in the middle of a UTF-8 character: bytes are held back until the
// character completes.
class StreamingDetokenizer {
public:
    // `context` is read here and not kept. Costs O(context) once.
    explicit StreamingDetokenizer(const Tokenizer& tokenizer, DecodeOptions options = {},
                                  std::span<const int32_t> context = {});

    std::string push(int32_t id);
    // What is still held back (an unfinished character becomes U+FFFD); resets the state to
    // that of an empty context.
    std::string flush();

private:
    std::string take_text(std::string_view bytes);

    const Tokenizer* tokenizer_;
    DecodeOptions options_;
    std::string pending_;
    bool strip_space_ = true;
    // The U+FFFD that decode(context) ended with for the bytes of its unfinished last
    // character: not returned again if those bytes still make no character.
    size_t context_replacements_ = 0;
};

} // namespace hearth
