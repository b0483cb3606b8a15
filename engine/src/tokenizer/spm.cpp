// SentencePiece models: the ModelProto is serialized here from the GGUF vocabulary (the
// protobuf wire format needs only varints, fixed32 floats and length-delimited fields, so no
// protobuf headers are needed) and loaded with SentencePieceProcessor.
#include "tokenizer/tokenizer_impl.h"

#include <bit>
#include <cstring>
#include <sentencepiece_processor.h>

namespace hearth {

struct SpmModel::Processor {
    sentencepiece::SentencePieceProcessor sp;
};

SpmModel::SpmModel() : processor_(std::make_unique<Processor>()) {}
SpmModel::~SpmModel() = default;

namespace {

// Protobuf wire format: field key = (number << 3) | wire type.
void put_varint(std::string& out, uint64_t v) {
    while (v >= 0x80) {
        out.push_back(static_cast<char>((v & 0x7F) | 0x80));
        v >>= 7;
    }
    out.push_back(static_cast<char>(v));
}
void put_int(std::string& out, uint32_t field, int64_t v) {
    put_varint(out, uint64_t{field} << 3 | 0);
    put_varint(out, static_cast<uint64_t>(v)); // negative int32 is sign-extended to 10 bytes
}
void put_bytes(std::string& out, uint32_t field, std::string_view bytes) {
    put_varint(out, uint64_t{field} << 3 | 2);
    put_varint(out, bytes.size());
    out.append(bytes);
}
void put_float(std::string& out, uint32_t field, float v) {
    put_varint(out, uint64_t{field} << 3 | 5);
    const uint32_t bits = std::bit_cast<uint32_t>(v);
    for (int i = 0; i < 4; ++i) {
        out.push_back(static_cast<char>((bits >> (8 * i)) & 0xFF));
    }
}

// sentencepiece_model.proto field numbers.
namespace field {
constexpr uint32_t pieces = 1, trainer_spec = 2, normalizer_spec = 3;
constexpr uint32_t piece_text = 1, piece_score = 2, piece_type = 3;
constexpr uint32_t model_type = 3, vocab_size = 4, byte_fallback = 35, unk_id = 40, bos_id = 41,
                   eos_id = 42, pad_id = 43;
constexpr uint32_t norm_name = 1, add_dummy_prefix = 3, remove_extra_whitespaces = 4,
                   escape_whitespaces = 5;
} // namespace field
constexpr int64_t kModelTypeBpe = 2;

} // namespace

Result<std::shared_ptr<const SpmModel>> SpmModel::build(const std::vector<std::string>& texts,
                                                        const std::vector<float>& scores,
                                                        const std::vector<TokenType>& types,
                                                        const Spec& spec) {
    std::string proto;
    proto.reserve(texts.size() * 24);
    std::string piece;
    for (size_t i = 0; i < texts.size(); ++i) {
        piece.clear();
        put_bytes(piece, field::piece_text, texts[i]);
        put_float(piece, field::piece_score, scores[i]);
        put_int(piece, field::piece_type, static_cast<int64_t>(types[i]));
        put_bytes(proto, field::pieces, piece);
    }
    std::string trainer;
    put_int(trainer, field::model_type, kModelTypeBpe);
    put_int(trainer, field::vocab_size, static_cast<int64_t>(texts.size()));
    put_int(trainer, field::byte_fallback, spec.byte_fallback ? 1 : 0);
    put_int(trainer, field::unk_id, spec.unk.value_or(-1));
    put_int(trainer, field::bos_id, spec.bos.value_or(-1));
    put_int(trainer, field::eos_id, spec.eos.value_or(-1));
    put_int(trainer, field::pad_id, spec.pad.value_or(-1));
    put_bytes(proto, field::trainer_spec, trainer);
    // Identity normalization; the dummy-prefix space is added by the Tokenizer (after each
    // special token too, as llama.cpp does), so the library must not add its own.
    std::string normalizer;
    put_bytes(normalizer, field::norm_name, "identity");
    put_int(normalizer, field::add_dummy_prefix, 0);
    put_int(normalizer, field::remove_extra_whitespaces, spec.remove_extra_whitespaces ? 1 : 0);
    put_int(normalizer, field::escape_whitespaces, 1);
    put_bytes(proto, field::normalizer_spec, normalizer);
    return load(proto);
}

Result<std::shared_ptr<const SpmModel>> SpmModel::load(std::string_view serialized) {
    std::shared_ptr<SpmModel> model(new SpmModel());
    const auto status = model->processor_->sp.LoadFromSerializedProto(serialized);
    if (!status.ok()) {
        return fail(ErrorCode::bad_format,
                    std::string("sentencepiece rejected the vocabulary: ") + status.ToString());
    }
    return model;
}

Result<void> SpmModel::encode(std::string_view text, std::vector<int32_t>& out) const {
    std::vector<int> ids;
    const auto status = processor_->sp.Encode(text, &ids);
    if (!status.ok()) {
        return fail(ErrorCode::invalid_argument,
                    std::string("sentencepiece could not encode the text: ") + status.ToString());
    }
    out.insert(out.end(), ids.begin(), ids.end());
    return {};
}

int32_t SpmModel::size() const {
    return processor_->sp.GetPieceSize();
}
std::string SpmModel::piece(int32_t id) const {
    return processor_->sp.IdToPiece(id);
}
float SpmModel::score(int32_t id) const {
    return processor_->sp.GetScore(id);
}

TokenType SpmModel::type(int32_t id) const {
    const auto& sp = processor_->sp;
    if (sp.IsUnknown(id))
        return TokenType::unknown;
    if (sp.IsControl(id))
        return TokenType::control;
    if (sp.IsByte(id))
        return TokenType::byte;
    if (sp.IsUnused(id))
        return TokenType::unused;
    return TokenType::normal;
}

} // namespace hearth
