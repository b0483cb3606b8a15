// Hostile hyper-parameters and weights against Model::load, read_model_info and
// `hearth-cli info`, on the architecture test models (tests/data/arch/) with one thing changed:
// block counts that would size a huge allocation (issue 16, item 3); values that are NaN,
// zero, negative, wider than 32 bits or of the wrong type (the loader's validation); every
// weight given a wrong shape or type, or left out; blocks the block count does not cover;
// expert counts and expert tensors of mixture-of-experts models (issue 17); and the memory plan
// at the limits. Each must fail at load with a message that names the key or the tensor,
// never crash or abort, and never reach the forward pass.
#include "gguf_builder.h"
#include "hearth/gguf.h"
#include "hearth/memory_plan.h"
#include "hearth/model.h"
#include "hearth/model_info.h"
#include "hearth/session.h"
#include "test_support.h"

#include <QTemporaryDir>
#include <QtTest>
#include <cmath>
#include <cstring>
#include <fmt/format.h>
#include <limits>
#include <map>
#include <numeric>

using namespace hearth;

namespace {

GgufValue u32(uint64_t v) {
    return {.type = GgufType::uint32, .data = v};
}
GgufValue u64(uint64_t v) {
    return {.type = GgufType::uint64, .data = v};
}
GgufValue i32(int64_t v) {
    return {.type = GgufType::int32, .data = v};
}
GgufValue i64(int64_t v) {
    return {.type = GgufType::int64, .data = v};
}
GgufValue f32(double v) {
    return {.type = GgufType::float32, .data = v};
}
GgufValue str(std::string v) {
    return {.type = GgufType::string, .data = std::move(v)};
}
GgufValue bool_array(std::vector<bool> flags) {
    GgufArray array(GgufType::boolean);
    for (bool flag : flags) {
        array.push_back({.type = GgufType::boolean, .data = flag});
    }
    return {.type = GgufType::array, .data = std::move(array)};
}

GgufValue u32_array(std::vector<uint32_t> values) {
    GgufArray array(GgufType::uint32);
    for (uint32_t v : values) {
        array.push_back(u32(v));
    }
    return {.type = GgufType::array, .data = std::move(array)};
}

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr double kInf = std::numeric_limits<double>::infinity();

// A change to a model's metadata: a key set to a value (or erased when `value` is unset).
struct KeyEdit {
    std::string key;
    std::optional<GgufValue> value;
};

// Tensors a model may leave out alone (the Q, K and V biases only go together; gemma4's V is
// then K's projection and its layer output scale 1; the experts' output scales then 1).
bool optional_tensor(const std::string& name) {
    return name == "output.weight" || name == "rope_freqs.weight" ||
           name == "blk.0.attn_v.weight" || name == "blk.0.layer_output_scale.weight" ||
           name == "blk.0.ffn_down_exps.scale";
}

// The tensor a missing one is reported as: without the fused gate_up experts the loader looks
// for the separate pair, and names the first.
std::string reported_missing(const std::string& name) {
    return name == "blk.0.ffn_gate_up_exps.weight" ? "blk.0.ffn_gate_exps.weight" : name;
}

// A tensor's bytes with the first float32 set to `value`, kept alive for the writer.
std::span<const uint8_t> with_first_float(std::span<const uint8_t> data, float value,
                                          std::vector<uint8_t>& storage) {
    storage.assign(data.begin(), data.end());
    std::memcpy(storage.data(), &value, sizeof value);
    return storage;
}

// The tensors whose shapes the tests change: outside the blocks and in the first block (the
// other blocks are bound by the same code).
bool in_first_block_or_global(const std::string& name) {
    auto block = tensor_block_index(name);
    return !block || *block == 0;
}

} // namespace

Q_DECLARE_METATYPE(GgufValue)
Q_DECLARE_METATYPE(std::optional<GgufValue>)

class TestModelHostile : public QObject {
    Q_OBJECT

    QTemporaryDir m_dir;
    std::map<std::string, GgufFile> m_models;
    int m_written = 0;

    const GgufFile& model(const std::string& name) { return m_models.at(name); }

    // Writes `base` with `metadata` and `tensors` in place of its own; returns the path.
    std::filesystem::path write(const std::vector<GgufKeyValue>& metadata,
                                const std::vector<test::TensorRecord>& tensors) {
        const auto path = std::filesystem::path(m_dir.path().toStdString()) /
                          fmt::format("m{}.gguf", ++m_written);
        test::write_file(path, test::serialize_gguf(metadata, tensors));
        return path;
    }

    std::filesystem::path with_key(const std::string& base, const KeyEdit& edit) {
        auto metadata = model(base).metadata();
        if (edit.value) {
            test::set_key(metadata, edit.key, *edit.value);
        } else {
            test::erase_key(metadata, edit.key);
        }
        return write(metadata, test::tensor_records(model(base)));
    }

    std::filesystem::path with_tensors(const std::string& base,
                                       const std::vector<test::TensorRecord>& tensors) {
        return write(model(base).metadata(), tensors);
    }

    static void expect_load_error(const std::filesystem::path& path, const std::string& needle) {
        auto loaded = Model::load(path, {.n_threads = 1, .on_progress = {}});
        QVERIFY2(!loaded, ("loaded; expected an error with: " + needle).c_str());
        const std::string& message = loaded.error().message;
        QVERIFY2(message.find(needle) != std::string::npos, message.c_str());
        QVERIFY2(message.find(path.string()) != std::string::npos, message.c_str());
        QVERIFY2(loaded.error().code == ErrorCode::bad_format ||
                     loaded.error().code == ErrorCode::unsupported,
                 message.c_str());
    }

private slots:
    void initTestCase() {
        QVERIFY(m_dir.isValid());
        for (const char* name :
             {"llama", "llama_yarn", "llama_rope_freqs", "qwen2", "qwen3", "gemma3", "phi3_long",
              "gemma2", "smollm3", "mistral3", "qwen3moe", "llama_moe", "gpt_oss", "qwen35",
              "qwen35moe", "gemma4", "gemma4_moe"}) {
            auto file = GgufFile::open(test::data_dir() / "arch" / (std::string(name) + ".gguf"));
            QVERIFY2(file, file ? "" : file.error().message.c_str());
            m_models.emplace(name, std::move(*file));
        }
    }

    void rewritten_models_load() {
        // The files below differ from these in one thing only.
        for (const auto& [name, file] : m_models) {
            const auto path = with_tensors(name, test::tensor_records(file));
            auto loaded = Model::load(path, {.n_threads = 1, .on_progress = {}});
            QVERIFY2(loaded, loaded ? "" : loaded.error().message.c_str());
        }
    }

    void bad_hyper_parameter_data() {
        QTest::addColumn<QString>("base");
        QTest::addColumn<QString>("key");
        QTest::addColumn<std::optional<GgufValue>>("value");
        QTest::addColumn<QString>("needle");
        QTest::addColumn<bool>("info_fails"); // read_model_info refuses it too, so `info` does
        auto row = [](const char* name, const char* base, const char* key,
                      std::optional<GgufValue> value, const char* needle, bool info_fails) {
            QTest::newRow(name) << QString(base) << QString(key) << std::move(value)
                                << QString(needle) << info_fails;
        };
        // The architecture prefixes every key named in a message.
        row("architecture with an escape", "llama", "general.architecture", str("llama\x1b[2J"),
            "general.architecture must be a name", true);
        row("architecture of 100 letters", "llama", "general.architecture",
            str(std::string(100, 'a')), "general.architecture must be a name", true);
        // Item 3: a block count sized the layers before any tensor was looked up.
        row("block_count 0xFFFFFFFF", "llama", "llama.block_count", u32(0xFFFFFFFFu),
            "llama.block_count", true);
        row("block_count 10^8", "llama", "llama.block_count", u32(100'000'000), "llama.block_count",
            true);
        row("block_count 2^32 + 2 (u64)", "llama", "llama.block_count", u64((1ull << 32) + 2),
            "llama.block_count", true);
        row("block_count 3 of 2 blocks", "llama", "llama.block_count", u32(3),
            "llama.block_count is 3 but the file holds tensors of 2 blocks", false);
        row("block_count 1 of 2 blocks", "llama", "llama.block_count", u32(1),
            "llama.block_count is 1 but the file holds tensors of 2 blocks", false);
        row("block_count as f32", "llama", "llama.block_count", f32(2.0), "llama.block_count",
            true);
        // Counts truncated to 32 bits, of the wrong type, zero or out of range.
        row("head_count_kv 2^32 + 2", "llama", "llama.attention.head_count_kv",
            u64((1ull << 32) + 2), "llama.attention.head_count_kv", true);
        row("head_count_kv 2^32 + 3", "llama", "llama.attention.head_count_kv",
            u64((1ull << 32) + 3), "llama.attention.head_count_kv", true);
        row("head_count_kv as a string", "llama", "llama.attention.head_count_kv", str("2"),
            "llama.attention.head_count_kv", true);
        row("head_count_kv 0", "llama", "llama.attention.head_count_kv", u32(0),
            "llama.attention.head_count_kv", true);
        row("head_count_kv 3 of 4 heads", "llama", "llama.attention.head_count_kv", u32(3),
            "llama.attention.head_count_kv 3", false);
        row("head_count 0", "llama", "llama.attention.head_count", u32(0),
            "llama.attention.head_count", true);
        row("head_count not dividing", "llama", "llama.attention.head_count", u32(5), "(64 / 5)",
            true);
        row("embedding_length 0", "llama", "llama.embedding_length", u32(0),
            "llama.embedding_length", true);
        row("embedding_length -64 (i32)", "llama", "llama.embedding_length", i32(-64),
            "llama.embedding_length", true);
        row("context_length 0", "llama", "llama.context_length", u32(0), "llama.context_length",
            true);
        row("context_length 2^31", "llama", "llama.context_length", u32(1u << 31),
            "llama.context_length", true);
        row("context_length missing", "llama", "llama.context_length", std::nullopt,
            "llama.context_length is missing", true);
        row("feed_forward_length 0", "llama", "llama.feed_forward_length", u32(0),
            "llama.feed_forward_length", false);
        row("vocab_size 267 of 268 tokens", "llama", "llama.vocab_size", u32(267), "267", false);
        row("vocab_size 2^30", "llama", "llama.vocab_size", u32(1u << 30), "llama.vocab_size",
            true);
        row("key_length 0", "qwen3", "qwen3.attention.key_length", u32(0),
            "qwen3.attention.key_length", true);
        row("key_length 5000", "qwen3", "qwen3.attention.key_length", u32(5000),
            "qwen3.attention.key_length", true);
        row("rope.dimension_count odd", "llama", "llama.rope.dimension_count", u32(15),
            "llama.rope.dimension_count 15", false);
        row("rope.dimension_count 0", "llama", "llama.rope.dimension_count", u32(0),
            "llama.rope.dimension_count 0", false);
        row("rope.dimension_count past the head", "llama", "llama.rope.dimension_count", u32(64),
            "llama.rope.dimension_count 64", false);
        // Real numbers: NaN, infinite, zero or negative.
        for (auto [name, value] : {std::pair{"NaN", kNaN}, std::pair{"-1e-5", -1e-5},
                                   std::pair{"0", 0.0}, std::pair{"inf", kInf}}) {
            row(qPrintable(QString("rms epsilon %1").arg(name)), "llama",
                "llama.attention.layer_norm_rms_epsilon", f32(value),
                "llama.attention.layer_norm_rms_epsilon", true);
        }
        row("rms epsilon as a string", "llama", "llama.attention.layer_norm_rms_epsilon",
            str("1e-5"), "llama.attention.layer_norm_rms_epsilon", true);
        for (auto [name, value] : {std::pair{"0", 0.0}, std::pair{"NaN", kNaN},
                                   std::pair{"-10000", -1e4}, std::pair{"1", 1.0}}) {
            row(qPrintable(QString("rope.freq_base %1").arg(name)), "llama", "llama.rope.freq_base",
                f32(value), "llama.rope.freq_base", true);
        }
        for (auto [name, value] :
             {std::pair{"0", 0.0}, std::pair{"NaN", kNaN}, std::pair{"-4", -4.0}}) {
            row(qPrintable(QString("YaRN factor %1").arg(name)), "llama_yarn",
                "llama.rope.scaling.factor", f32(value), "llama.rope.scaling.factor", true);
        }
        row("YaRN original context -64", "llama_yarn", "llama.rope.scaling.original_context_length",
            i32(-64), "llama.rope.scaling.original_context_length", true);
        row("rope.scaling.type longrope", "llama", "llama.rope.scaling.type", str("longrope"),
            "llama.rope.scaling.type 'longrope' is not supported", false);
        row("rope.scaling.type as a number", "llama", "llama.rope.scaling.type", u32(2),
            "llama.rope.scaling.type", true);
        // Gemma 3's sliding window.
        row("sliding_window -1", "gemma3", "gemma3.attention.sliding_window", i32(-1),
            "gemma3.attention.sliding_window", true);
        row("sliding_window_pattern INT64_MIN", "gemma3", "gemma3.attention.sliding_window_pattern",
            i64(std::numeric_limits<int64_t>::min()), "gemma3.attention.sliding_window_pattern",
            false);
        row("sliding_window_pattern as a string", "gemma3",
            "gemma3.attention.sliding_window_pattern", str("6"),
            "gemma3.attention.sliding_window_pattern", false);
        row("sliding_window_pattern of 2 layers", "gemma3",
            "gemma3.attention.sliding_window_pattern", bool_array({true, false}),
            "gemma3.attention.sliding_window_pattern", false);
        row("rope.freq_base_swa NaN", "gemma3", "gemma3.rope.freq_base_swa", f32(kNaN),
            "gemma3.rope.freq_base_swa", false);
        row("rope.freq_base_swa 0", "gemma3", "gemma3.rope.freq_base_swa", f32(0.0),
            "gemma3.rope.freq_base_swa", false);
        // Issue 17's dense architectures: soft-caps, RoPE attention factor, YaRN's betas and
        // multiplier, attention temperature; each NaN, infinite, zero or negative.
        for (auto [name, value] : {std::pair{"NaN", kNaN}, std::pair{"0", 0.0},
                                   std::pair{"-50", -50.0}, std::pair{"inf", kInf}}) {
            for (const char* key :
                 {"gemma2.attn_logit_softcapping", "gemma2.final_logit_softcapping"}) {
                row(qPrintable(QString("%1 %2").arg(key, name)), "gemma2", key, f32(value), key,
                    true);
            }
            row(qPrintable(QString("rope.scaling.attn_factor %1").arg(name)), "phi3_long",
                "phi3.rope.scaling.attn_factor", f32(value), "phi3.rope.scaling.attn_factor", true);
            row(qPrintable(QString("yarn_beta_fast %1").arg(name)), "mistral3",
                "mistral3.rope.scaling.yarn_beta_fast", f32(value),
                "mistral3.rope.scaling.yarn_beta_fast", true);
        }
        row("softcapping as a string", "gemma2", "gemma2.attn_logit_softcapping", str("50"),
            "gemma2.attn_logit_softcapping", true);
        row("yarn_log_multiplier -0.5", "mistral3", "mistral3.rope.scaling.yarn_log_multiplier",
            f32(-0.5), "mistral3.rope.scaling.yarn_log_multiplier", true);
        row("temperature_scale NaN", "mistral3", "mistral3.attention.temperature_scale", f32(kNaN),
            "mistral3.attention.temperature_scale", true);
        row("temperature_scale -0.1", "mistral3", "mistral3.attention.temperature_scale", f32(-0.1),
            "mistral3.attention.temperature_scale", true);
        row("gemma2 sliding_window_pattern of 2 layers", "gemma2",
            "gemma2.attention.sliding_window_pattern", bool_array({true, false}),
            "gemma2.attention.sliding_window_pattern", false);
        row("gemma2 sliding_window -1", "gemma2", "gemma2.attention.sliding_window", i32(-1),
            "gemma2.attention.sliding_window", true);
        // Mixture of experts (issue 17): counts checked before the experts are bound.
        row("expert_count 0", "qwen3moe", "qwen3moe.expert_count", u32(0),
            "qwen3moe.expert_count (0)", true);
        row("expert_count missing", "qwen3moe", "qwen3moe.expert_count", std::nullopt,
            "qwen3moe.expert_count (0)", true);
        row("expert_count 10^9", "qwen3moe", "qwen3moe.expert_count", u32(1'000'000'000),
            "qwen3moe.expert_count", true);
        row("expert_count 2^32 + 8 (u64)", "qwen3moe", "qwen3moe.expert_count",
            u64((1ull << 32) + 8), "qwen3moe.expert_count", true);
        row("expert_count as a string", "qwen3moe", "qwen3moe.expert_count", str("8"),
            "qwen3moe.expert_count", true);
        row("expert_count 16 of 8 experts", "qwen3moe", "qwen3moe.expert_count", u32(16),
            "tensor 'blk.0.ffn_gate_inp.weight' has shape [64, 8]", false);
        row("expert_used_count 9 of 8", "qwen3moe", "qwen3moe.expert_used_count", u32(9),
            "qwen3moe.expert_used_count must be from 1 to qwen3moe.expert_count (8)", true);
        row("expert_used_count 65", "qwen3moe", "qwen3moe.expert_used_count", u32(65),
            "qwen3moe.expert_used_count is 65, over the limit of 64", true);
        row("expert_used_count 0", "qwen3moe", "qwen3moe.expert_used_count", u32(0),
            "qwen3moe.expert_used_count", true);
        row("expert_used_count missing", "qwen3moe", "qwen3moe.expert_used_count", std::nullopt,
            "qwen3moe.expert_used_count", true);
        row("expert_used_count -3", "qwen3moe", "qwen3moe.expert_used_count", i32(-3),
            "qwen3moe.expert_used_count", true);
        row("expert_feed_forward_length 2^30", "qwen3moe", "qwen3moe.expert_feed_forward_length",
            u32(1u << 30), "qwen3moe.expert_feed_forward_length", true);
        row("expert_feed_forward_length 64 of 32", "qwen3moe",
            "qwen3moe.expert_feed_forward_length", u32(64),
            "tensor 'blk.0.ffn_gate_exps.weight' has shape [64, 32, 8], expected [64, 64, 8]",
            false);
        // Without the key, an expert is feed_forward_length / expert_used_count = 42 wide.
        row("expert_feed_forward_length missing", "qwen3moe", "qwen3moe.expert_feed_forward_length",
            std::nullopt, "expected [64, 42, 8]", false);
        row("llama experts removed", "llama_moe", "llama.expert_count", u32(0),
            "llama.expert_used_count must be from 1 to llama.expert_count (0)", true);
        // qwen35's gated delta-net sizes, checked before the recurrent state is sized.
        row("ssm.conv_kernel 0", "qwen35", "qwen35.ssm.conv_kernel", u32(0),
            "qwen35.ssm.conv_kernel", true);
        row("ssm.conv_kernel 2^20", "qwen35", "qwen35.ssm.conv_kernel", u32(1u << 20),
            "qwen35.ssm.conv_kernel", true);
        row("ssm.state_size 0", "qwen35", "qwen35.ssm.state_size", u32(0), "qwen35.ssm.state_size",
            true);
        row("ssm.state_size 2^31", "qwen35", "qwen35.ssm.state_size", u32(1u << 31),
            "qwen35.ssm.state_size", true);
        row("ssm.state_size as a string", "qwen35", "qwen35.ssm.state_size", str("16"),
            "qwen35.ssm.state_size", true);
        row("ssm.time_step_rank 3 of 2 groups", "qwen35", "qwen35.ssm.time_step_rank", u32(3),
            "qwen35.ssm.time_step_rank 3 is not a multiple", true);
        row("ssm.time_step_rank 2^32 + 4", "qwen35", "qwen35.ssm.time_step_rank",
            u64((1ull << 32) + 4), "qwen35.ssm.time_step_rank", true);
        row("ssm.group_count missing", "qwen35", "qwen35.ssm.group_count", std::nullopt,
            "qwen35.ssm.group_count is missing", true);
        row("ssm.group_count 0", "qwen35", "qwen35.ssm.group_count", u32(0),
            "qwen35.ssm.group_count", true);
        row("ssm.inner_size not heads × state", "qwen35", "qwen35.ssm.inner_size", u32(65),
            "qwen35.ssm.inner_size 65 must be", true);
        row("full_attention_interval 0", "qwen35", "qwen35.full_attention_interval", u32(0),
            "qwen35.full_attention_interval", true);
        // Layer 0 then attends, and its delta-net projection attn_qkv is taken for a fused Q/K/V.
        row("full_attention_interval 1 (no delta-net tensors read)", "qwen35",
            "qwen35.full_attention_interval", u32(1),
            "tensor 'blk.0.attn_qkv.weight' has shape [64, 128], expected [64, 192]", false);
        row("recurrent_layers of 2 layers", "qwen35", "qwen35.attention.recurrent_layers",
            bool_array({true, false}), "qwen35.attention.recurrent_layers", true);
        row("recurrent_layers marking an attention layer", "qwen35",
            "qwen35.attention.recurrent_layers", bool_array({true, true, true, false}),
            "tensor 'blk.1.attn_qkv.weight' is missing", false);
        row("rope.dimension_sections missing", "qwen35", "qwen35.rope.dimension_sections",
            std::nullopt, "qwen35.rope.dimension_sections", true);
        row("rope.dimension_sections past the head", "qwen35", "qwen35.rope.dimension_sections",
            u32_array({40, 0, 0, 0}), "qwen35.rope.dimension_sections", true);
        row("rope.dimension_sections all 0", "qwen35", "qwen35.rope.dimension_sections",
            u32_array({0, 0, 0, 0}), "qwen35.rope.dimension_sections", true);
        row("rope.dimension_sections of 5", "qwen35", "qwen35.rope.dimension_sections",
            u32_array({1, 1, 1, 1, 1}), "qwen35.rope.dimension_sections", true);
        row("value_length ≠ key_length", "qwen35", "qwen35.attention.value_length", u32(8),
            "must be equal in a model with recurrent layers", false);
        // qwen35moe: its expert counts and the widths of its routed and shared experts (8 and
        // 16 in the file; feed_forward_length 64).
        row("qwen35moe expert_count 0", "qwen35moe", "qwen35moe.expert_count", u32(0),
            "qwen35moe.expert_used_count must be from 1 to qwen35moe.expert_count (0)", true);
        row("qwen35moe expert_count 2^32 + 8 (u64)", "qwen35moe", "qwen35moe.expert_count",
            u64((1ull << 32) + 8), "qwen35moe.expert_count", true);
        row("qwen35moe expert_count 16 of 8 experts", "qwen35moe", "qwen35moe.expert_count",
            u32(16), "tensor 'blk.0.ffn_gate_inp.weight' has shape [64, 8], expected [64, 16]",
            false);
        row("qwen35moe expert_used_count 9 of 8", "qwen35moe", "qwen35moe.expert_used_count",
            u32(9), "qwen35moe.expert_used_count must be from 1 to qwen35moe.expert_count (8)",
            true);
        row("qwen35moe expert_used_count 1000", "qwen35moe", "qwen35moe.expert_used_count",
            u32(1000), "qwen35moe.expert_used_count", true);
        // Without the key, an expert is feed_forward_length / expert_used_count = 32 wide.
        row("qwen35moe expert_feed_forward_length missing", "qwen35moe",
            "qwen35moe.expert_feed_forward_length", std::nullopt,
            "tensor 'blk.0.ffn_gate_exps.weight' has shape [64, 8, 8], expected [64, 32, 8]",
            false);
        row("qwen35moe expert_shared_feed_forward_length 2^30", "qwen35moe",
            "qwen35moe.expert_shared_feed_forward_length", u32(1u << 30),
            "qwen35moe.expert_shared_feed_forward_length", true);
        row("qwen35moe expert_shared_feed_forward_length as a string", "qwen35moe",
            "qwen35moe.expert_shared_feed_forward_length", str("16"),
            "qwen35moe.expert_shared_feed_forward_length", true);
        row("qwen35moe expert_shared_feed_forward_length 0", "qwen35moe",
            "qwen35moe.expert_shared_feed_forward_length", u32(0),
            "qwen35moe.expert_shared_feed_forward_length is missing or 0", false);
        row("qwen35moe expert_shared_feed_forward_length 32 of 16", "qwen35moe",
            "qwen35moe.expert_shared_feed_forward_length", u32(32),
            "tensor 'blk.0.ffn_gate_shexp.weight' has shape [64, 16], expected [64, 32]", false);
        // Without the key, the shared expert is feed_forward_length (64) wide.
        row("qwen35moe expert_shared_feed_forward_length missing", "qwen35moe",
            "qwen35moe.expert_shared_feed_forward_length", std::nullopt,
            "tensor 'blk.0.ffn_gate_shexp.weight' has shape [64, 16], expected [64, 64]", false);
        // gemma4 (4 layers: sliding, global, then two reading their caches): per-layer sizes.
        row("gemma4 head_count_kv of 3 layers", "gemma4", "gemma4.attention.head_count_kv",
            u32_array({2, 1, 2}), "gemma4.attention.head_count_kv", true);
        row("gemma4 head_count_kv 0 in a layer", "gemma4", "gemma4.attention.head_count_kv",
            u32_array({2, 0, 2, 1}), "gemma4.attention.head_count_kv", true);
        row("gemma4 head_count_kv 3 of 4 heads", "gemma4", "gemma4.attention.head_count_kv",
            u32_array({3, 1, 3, 1}), "layer 0: gemma4.attention.head_count 4 is not a multiple",
            true);
        row("gemma4 head_count of 5 layers", "gemma4", "gemma4.attention.head_count",
            u32_array({4, 4, 4, 4, 4}), "gemma4.attention.head_count", true);
        row("gemma4 feed_forward_length of 2 layers", "gemma4", "gemma4.feed_forward_length",
            u32_array({64, 64}), "gemma4.feed_forward_length", true);
        row("gemma4 feed_forward_length swapped", "gemma4", "gemma4.feed_forward_length",
            u32_array({128, 128, 64, 64}), "tensor 'blk.0.ffn_gate.weight' has shape", false);
        row("gemma4 key_length_swa 0", "gemma4", "gemma4.attention.key_length_swa", u32(0),
            "gemma4.attention.key_length_swa", true);
        row("gemma4 key_length_swa 2^20", "gemma4", "gemma4.attention.key_length_swa",
            u32(1u << 20), "gemma4.attention.key_length_swa", true);
        row("gemma4 key_length_swa missing", "gemma4", "gemma4.attention.key_length_swa",
            std::nullopt, "gemma4.attention.key_length_swa is missing", true);
        row("gemma4 value_length_swa ≠ key_length_swa", "gemma4",
            "gemma4.attention.value_length_swa", u32(32), "must be equal in gemma4", true);
        row("gemma4 key_length 2^32 + 32", "gemma4", "gemma4.attention.key_length",
            u64((1ull << 32) + 32), "gemma4.attention.key_length", true);
        row("gemma4 rope.dimension_count_swa odd", "gemma4", "gemma4.rope.dimension_count_swa",
            u32(15), "gemma4.rope.dimension_count_swa", true);
        row("gemma4 rope.dimension_count_swa past the head", "gemma4",
            "gemma4.rope.dimension_count_swa", u32(32), "gemma4.rope.dimension_count_swa", true);
        row("gemma4 sliding_window_pattern of 3 layers", "gemma4",
            "gemma4.attention.sliding_window_pattern", bool_array({true, false, true}),
            "gemma4.attention.sliding_window_pattern", true);
        row("gemma4 sliding_window_pattern as a period", "gemma4",
            "gemma4.attention.sliding_window_pattern", u32(2),
            "gemma4.attention.sliding_window_pattern", true);
        row("gemma4 sliding_window_pattern missing", "gemma4",
            "gemma4.attention.sliding_window_pattern", std::nullopt,
            "gemma4.attention.sliding_window_pattern", true);
        row("gemma4 sliding_window missing", "gemma4", "gemma4.attention.sliding_window",
            std::nullopt, "gemma4.attention.sliding_window is missing", true);
        // Sharing past the layer count, or onto a layer of another kind or size.
        row("gemma4 shared_kv_layers = block_count", "gemma4", "gemma4.attention.shared_kv_layers",
            u32(4), "gemma4.attention.shared_kv_layers", true);
        row("gemma4 shared_kv_layers 2^32 - 1", "gemma4", "gemma4.attention.shared_kv_layers",
            u32(0xFFFFFFFFu), "gemma4.attention.shared_kv_layers", true);
        row("gemma4 shared_kv_layers onto another kind", "gemma4",
            "gemma4.attention.shared_kv_layers", u32(1),
            "layer 3 (global) would read the KV cache of layer 2", true);
        row("gemma4 shared_kv_layers before the first layer", "gemma4",
            "gemma4.attention.shared_kv_layers", u32(3),
            "gemma4.attention.shared_kv_layers is 3: layer 1 (global) would read the KV cache",
            true);
        row("gemma4 embedding_length_per_layer_input 2^20", "gemma4",
            "gemma4.embedding_length_per_layer_input", u32(1u << 20),
            "gemma4.embedding_length_per_layer_input", true);
        row("gemma4 embedding_length_per_layer_input 16", "gemma4",
            "gemma4.embedding_length_per_layer_input", u32(16),
            "tensor 'blk.0.inp_gate.weight' has shape", false);
        row("gemma4 experts", "gemma4", "gemma4.expert_count", u32(8), "gemma4.expert_used_count",
            true);
        // gemma4 with experts (8 of width 16, 2 per token, gate and up fused).
        row("gemma4_moe expert_count 10^9", "gemma4_moe", "gemma4.expert_count", u32(1'000'000'000),
            "gemma4.expert_count", true);
        row("gemma4_moe expert_count 2^32 + 8 (u64)", "gemma4_moe", "gemma4.expert_count",
            u64((1ull << 32) + 8), "gemma4.expert_count", true);
        row("gemma4_moe expert_count 0", "gemma4_moe", "gemma4.expert_count", u32(0),
            "gemma4.expert_used_count must be from 1 to gemma4.expert_count (0)", true);
        row("gemma4_moe expert_count missing", "gemma4_moe", "gemma4.expert_count", std::nullopt,
            "gemma4.expert_used_count must be from 1 to gemma4.expert_count (0)", true);
        row("gemma4_moe expert_count 16 of 8 experts", "gemma4_moe", "gemma4.expert_count", u32(16),
            "tensor 'blk.0.ffn_gate_inp.weight' has shape [64, 8], expected [64, 16]", false);
        row("gemma4_moe expert_used_count 9 of 8", "gemma4_moe", "gemma4.expert_used_count", u32(9),
            "gemma4.expert_used_count must be from 1 to gemma4.expert_count (8)", true);
        row("gemma4_moe expert_used_count 65", "gemma4_moe", "gemma4.expert_used_count", u32(65),
            "gemma4.expert_used_count is 65, over the limit of 64", true);
        row("gemma4_moe expert_used_count as a string", "gemma4_moe", "gemma4.expert_used_count",
            str("2"), "gemma4.expert_used_count", true);
        row("gemma4_moe expert_feed_forward_length 2^30", "gemma4_moe",
            "gemma4.expert_feed_forward_length", u32(1u << 30), "gemma4.expert_feed_forward_length",
            true);
        // No fallback to feed_forward_length (the dense FFN's width), as in llama.cpp.
        row("gemma4_moe expert_feed_forward_length missing", "gemma4_moe",
            "gemma4.expert_feed_forward_length", std::nullopt,
            "gemma4.expert_feed_forward_length is missing or 0", false);
        row("gemma4_moe expert_feed_forward_length 32 of 16", "gemma4_moe",
            "gemma4.expert_feed_forward_length", u32(32),
            "tensor 'blk.0.ffn_gate_up_exps.weight' has shape [64, 32, 8], expected [64, 64, 8]",
            false);
    }

    void bad_hyper_parameter() {
        QFETCH(QString, base);
        QFETCH(QString, key);
        QFETCH(std::optional<GgufValue>, value);
        QFETCH(QString, needle);
        QFETCH(bool, info_fails);
        const auto path = with_key(base.toStdString(), {key.toStdString(), value});
        expect_load_error(path, needle.toStdString());
        if (QTest::currentTestFailed()) {
            return;
        }
        auto file = GgufFile::open(path);
        QVERIFY2(file, file ? "" : file.error().message.c_str());
        auto info = read_model_info(file->header(), file->file_size());
        QCOMPARE(!info, info_fails);
        const auto cli = test::run_cli({"info", QString::fromStdString(path.string())});
        QVERIFY2(cli.exit_code == (info_fails ? 1 : 0),
                 qPrintable(QString("exit %1: %2").arg(cli.exit_code).arg(QString(cli.err))));
        if (info_fails) {
            QVERIFY2(cli.err.contains(needle.toUtf8()), cli.err.constData());
        }
    }

    void gemma3_sliding_pattern_as_written_loads() {
        // The validation keeps what llama.cpp writes: a period, or one boolean per layer.
        for (const auto& value : {u32(3), bool_array({true, true, false, true, true, false})}) {
            const auto path =
                with_key("gemma3", {"gemma3.attention.sliding_window_pattern", value});
            auto loaded = Model::load(path, {.n_threads = 1, .on_progress = {}});
            QVERIFY2(loaded, loaded ? "" : loaded.error().message.c_str());
        }
    }

    void qwen35_prediction_blocks_are_not_run() {
        // llama.cpp's converter appends multi-token-prediction blocks to a qwen35 file and says
        // how many in nextn_predict_layers: they are not layers of the forward pass (here the
        // file's last block stands for one).
        const auto path = with_key("qwen35", {"qwen35.nextn_predict_layers", u32(1)});
        auto loaded = Model::load(path, {.n_threads = 1, .on_progress = {}});
        QVERIFY2(loaded, loaded ? "" : loaded.error().message.c_str());
        const ModelInfo& info = (*loaded)->info();
        QCOMPARE(info.n_layer, 3u);
        QCOMPARE(info.recurrent_layers, (std::vector<bool>{true, false, true}));
        QCOMPARE(info.layer_weight_bytes.size(), size_t{3});
        auto session = Session::create(*loaded, {.n_ctx = 16});
        QVERIFY(session);
        const int32_t tokens[] = {1, 2, 3};
        QVERIFY(session->append(tokens));
        // All of them, or more than there are, is refused naming the key.
        for (uint32_t n : {4u, 1000u}) {
            expect_load_error(with_key("qwen35", {"qwen35.nextn_predict_layers", u32(n)}),
                              "qwen35.nextn_predict_layers");
        }
    }

    void qwen35moe_widths_need_no_feed_forward_length() {
        // Every feed-forward of qwen35moe is experts: with both expert widths in the file,
        // feed_forward_length is not needed (a dense model without it is refused above). Without
        // it and the shared width, the shared expert's width is unknown, named by its key.
        auto loaded = Model::load(with_key("qwen35moe", {"qwen35moe.feed_forward_length", {}}),
                                  {.n_threads = 1, .on_progress = {}});
        QVERIFY2(loaded, loaded ? "" : loaded.error().message.c_str());
        QCOMPARE((*loaded)->info().n_ff, 0u);
        auto original = Model::load(test::data_dir() / "arch" / "qwen35moe.gguf",
                                    {.n_threads = 1, .on_progress = {}});
        QVERIFY(original);
        auto last_logits = [](const std::shared_ptr<const Model>& m) {
            auto session = Session::create(m, {.n_ctx = 16});
            if (!session) {
                return std::vector<float>{};
            }
            const int32_t tokens[] = {1, 2, 3};
            auto logits = session->append(tokens);
            return logits ? std::vector<float>(logits->begin(), logits->end())
                          : std::vector<float>{};
        };
        const auto without = last_logits(*loaded);
        QVERIFY(!without.empty());
        QCOMPARE(without, last_logits(*original));
        auto metadata = model("qwen35moe").metadata();
        test::erase_key(metadata, "qwen35moe.feed_forward_length");
        test::erase_key(metadata, "qwen35moe.expert_shared_feed_forward_length");
        expect_load_error(write(metadata, test::tensor_records(model("qwen35moe"))),
                          "qwen35moe.expert_shared_feed_forward_length is missing or 0");
    }

    void qwen35moe_shared_gate_input_of_another_shape() {
        // The shared expert's gate input is one row: [64] or [64, 1]. Two rows of 32, or a row
        // of another width, would be read past.
        for (const auto& dims : {std::vector<uint64_t>{32, 2}, std::vector<uint64_t>{32}}) {
            auto records = test::tensor_records(model("qwen35moe"));
            auto target = std::ranges::find(records, "blk.1.ffn_gate_inp_shexp.weight",
                                            &test::TensorRecord::name);
            QVERIFY(target != records.end());
            const uint64_t n =
                std::accumulate(dims.begin(), dims.end(), uint64_t{1}, std::multiplies<>());
            if (n != 64) {
                target->data = target->data.first(n * sizeof(float));
            }
            target->dims = dims;
            expect_load_error(with_tensors("qwen35moe", records),
                              "tensor 'blk.1.ffn_gate_inp_shexp.weight' has shape");
        }
    }

    void wrong_shaped_weight_data() {
        QTest::addColumn<QString>("base");
        QTest::addColumn<QString>("tensor");
        for (const auto& [name, file] : m_models) {
            for (const GgufTensorInfo& tensor : file.tensors()) {
                if (in_first_block_or_global(tensor.name)) {
                    QTest::addRow("%s %s", name.c_str(), tensor.name.c_str())
                        << QString::fromStdString(name) << QString::fromStdString(tensor.name);
                }
            }
        }
    }

    void wrong_shaped_weight() {
        // The same bytes under another shape (the forward pass would read past its rows), then
        // under a type of the same size that cannot be computed with, then left out.
        QFETCH(QString, base);
        QFETCH(QString, tensor);
        const std::string name = tensor.toStdString();
        auto records = test::tensor_records(model(base.toStdString()));
        auto target = std::ranges::find(records, name, &test::TensorRecord::name);
        QVERIFY(target != records.end());
        const test::TensorRecord original = *target;
        std::vector<uint64_t>& dims = target->dims;
        if (dims.size() == 1) {
            dims = {dims[0] / 2, 2};
        } else if (dims[0] != dims[1]) {
            std::swap(dims[0], dims[1]);
        } else {
            dims = {dims[0] * 2, dims[1] / 2};
        }
        expect_load_error(with_tensors(base.toStdString(), records), "tensor '" + name + "'");

        *target = original;
        target->type = original.type == TensorType::F32 ? TensorType::I32 : TensorType::I16;
        QCOMPARE(tensor_type_traits(target->type).type_size * 1u,
                 tensor_type_traits(original.type).type_size * 1u);
        expect_load_error(with_tensors(base.toStdString(), records), "tensor '" + name + "'");

        if (!optional_tensor(name)) {
            records.erase(records.begin() + (target - records.begin()));
            expect_load_error(with_tensors(base.toStdString(), records),
                              "tensor '" + reported_missing(name) + "' is missing");
        }
    }

    void qkv_biases_come_together() {
        // Found by the fuzzer: qwen2 with attn_v.bias renamed loaded, and the forward pass,
        // adding all three biases when the first is there, read past the empty one.
        auto records = test::tensor_records(model("qwen2"));
        std::erase_if(records,
                      [](const test::TensorRecord& r) { return r.name.ends_with(".bias"); });
        auto loaded =
            Model::load(with_tensors("qwen2", records), {.n_threads = 1, .on_progress = {}});
        QVERIFY2(loaded, loaded ? "" : loaded.error().message.c_str());
        for (const char* bias : {"attn_q.bias", "attn_k.bias", "attn_v.bias"}) {
            auto some = test::tensor_records(model("qwen2"));
            std::erase_if(some, [&](const test::TensorRecord& r) {
                return r.name == std::string("blk.1.") + bias;
            });
            expect_load_error(with_tensors("qwen2", some),
                              std::string("tensor 'blk.1.") + bias + "' is missing");
        }
    }

    void longrope_factors_come_together_and_finite() {
        // phi3: one of the two factor tensors alone, or a factor that is NaN, 0 or negative,
        // would rotate by nonsense angles.
        for (const char* name : {"rope_factors_long.weight", "rope_factors_short.weight"}) {
            auto records = test::tensor_records(model("phi3_long"));
            std::erase_if(records, [&](const test::TensorRecord& r) { return r.name == name; });
            expect_load_error(with_tensors("phi3_long", records),
                              std::string("tensor '") + name + "' is missing");
            for (float bad : {std::numeric_limits<float>::quiet_NaN(), 0.0f, -1.0f}) {
                auto changed = test::tensor_records(model("phi3_long"));
                auto target = std::ranges::find(changed, name, &test::TensorRecord::name);
                QVERIFY(target != changed.end());
                std::vector<uint8_t> storage;
                target->data = with_first_float(target->data, bad, storage);
                expect_load_error(with_tensors("phi3_long", changed),
                                  std::string("tensor '") + name + "' must hold finite factors");
            }
        }
    }

    void expert_tensors_of_another_rank() {
        // An expert tensor flattened to 2-D or given a fourth dimension: the same bytes, which
        // the per-expert views would otherwise read as n_expert matrices.
        for (const char* name : {"blk.0.ffn_up_exps.weight", "blk.1.ffn_down_exps.weight"}) {
            for (const bool flatten : {true, false}) {
                auto records = test::tensor_records(model("qwen3moe"));
                auto target =
                    std::ranges::find(records, std::string(name), &test::TensorRecord::name);
                QVERIFY(target != records.end());
                auto& dims = target->dims;
                dims = flatten ? std::vector<uint64_t>{dims[0], dims[1] * dims[2]}
                               : std::vector<uint64_t>{dims[0], dims[1], dims[2] / 2, 2};
                expect_load_error(with_tensors("qwen3moe", records),
                                  std::string("tensor '") + name + "' has shape");
            }
        }
    }

    void mistral3_biases_are_refused() {
        // llama.cpp binds optional output and feed-forward biases for mistral3; Hearth does not
        // add them yet, so a file with one is refused rather than run without it.
        auto records = test::tensor_records(model("mistral3"));
        const auto norm =
            std::ranges::find(records, "blk.0.ffn_norm.weight", &test::TensorRecord::name);
        QVERIFY(norm != records.end());
        test::TensorRecord bias = *norm;
        bias.name = "blk.0.attn_output.bias";
        records.push_back(bias);
        auto loaded =
            Model::load(with_tensors("mistral3", records), {.n_threads = 1, .on_progress = {}});
        QVERIFY(!loaded);
        QCOMPARE(loaded.error().code, ErrorCode::unsupported);
        QVERIFY2(loaded.error().message.find("blk.0.attn_output.bias") != std::string::npos,
                 loaded.error().message.c_str());
    }

    void gemma4_router_needs_an_expert_count() {
        // A router in a gemma4 file that counts no experts is refused naming it, not run as a
        // dense model without its experts.
        auto records = test::tensor_records(model("gemma4"));
        const auto gate =
            std::ranges::find(records, "blk.0.inp_gate.weight", &test::TensorRecord::name);
        QVERIFY(gate != records.end());
        test::TensorRecord router = *gate;
        router.name = "blk.0.ffn_gate_inp.weight";
        records.push_back(router);
        expect_load_error(with_tensors("gemma4", records),
                          "tensor 'blk.0.ffn_gate_inp.weight' routes to experts, but "
                          "gemma4.expert_count is missing or 0");
    }

    void expert_output_scales_are_finite() {
        // ffn_down_exps.scale multiplies each expert's output: NaN or infinite is refused.
        for (float bad :
             {std::numeric_limits<float>::quiet_NaN(), std::numeric_limits<float>::infinity()}) {
            auto records = test::tensor_records(model("gemma4_moe"));
            auto target =
                std::ranges::find(records, "blk.1.ffn_down_exps.scale", &test::TensorRecord::name);
            QVERIFY(target != records.end());
            std::vector<uint8_t> storage;
            target->data = with_first_float(target->data, bad, storage);
            expect_load_error(with_tensors("gemma4_moe", records),
                              "tensor 'blk.1.ffn_down_exps.scale' must hold finite factors");
        }
    }

    void weight_scales_are_refused() {
        // llama.cpp multiplies a matrix's product by NAME.scale (NVFP4 conversions: one factor
        // for a matrix, one per expert for the experts'); Hearth applies only the experts'
        // output scales and gemma4's router scale, so a file with another is refused naming it,
        // not run without it.
        const std::pair<const char*, const char*> cases[] = {
            {"qwen3moe", "blk.1.ffn_gate_exps.scale"},
            {"qwen3moe", "blk.0.ffn_up_exps.scale"},
            {"llama", "blk.0.attn_q.scale"},
            {"llama", "blk.1.ffn_down.scale"},
            {"llama", "output.scale"},
            {"qwen35", "blk.0.ssm_out.scale"}};
        for (const auto& [base, name] : cases) {
            auto records = test::tensor_records(model(base));
            const auto norm =
                std::ranges::find(records, "blk.0.attn_norm.weight", &test::TensorRecord::name);
            QVERIFY(norm != records.end());
            test::TensorRecord scale = *norm; // F32
            scale.name = name;
            const uint64_t n = std::string_view(name).ends_with("exps.scale") ? 8 : 1;
            scale.dims = {n};
            scale.data = scale.data.first(n * sizeof(float));
            records.push_back(scale);
            auto loaded =
                Model::load(with_tensors(base, records), {.n_threads = 1, .on_progress = {}});
            QVERIFY(!loaded);
            QCOMPARE(loaded.error().code, ErrorCode::unsupported);
            QVERIFY2(loaded.error().message.find(std::string("tensor '") + name + "'") !=
                         std::string::npos,
                     loaded.error().message.c_str());
        }
    }

    void absent_keys_take_llama_cpps_defaults() {
        // gemma2 without its soft-caps or window: llama.cpp's 50, 30 and 4096; phi3's sliding
        // window (2047 in the file) is ignored, as llama.cpp ignores it.
        auto metadata = model("gemma2").metadata();
        for (const char* key : {"gemma2.attn_logit_softcapping", "gemma2.final_logit_softcapping",
                                "gemma2.attention.sliding_window"}) {
            test::erase_key(metadata, key);
        }
        auto file = GgufFile::open(write(metadata, test::tensor_records(model("gemma2"))));
        QVERIFY(file);
        auto gemma2 = read_model_info(file->header(), file->file_size());
        QVERIFY2(gemma2, gemma2 ? "" : gemma2.error().message.c_str());
        QCOMPARE(gemma2->attn_logit_softcap, 50.0);
        QCOMPARE(gemma2->final_logit_softcap, 30.0);
        QCOMPARE(gemma2->sliding_window, 4096u);
        const GgufFile& phi3 = model("phi3_long");
        QVERIFY(phi3.find("phi3.attention.sliding_window"));
        auto info = read_model_info(phi3.header(), phi3.file_size());
        QVERIFY(info);
        QCOMPARE(info->sliding_window, 0u);
    }

    void longrope_scaling_type_loads_for_phi3() {
        // "longrope" is what a Phi-3 file may declare; llama still refuses it (above).
        auto loaded =
            Model::load(with_key("phi3_long", {"phi3.rope.scaling.type", str("longrope")}),
                        {.n_threads = 1, .on_progress = {}});
        QVERIFY2(loaded, loaded ? "" : loaded.error().message.c_str());
    }

    void llama_claiming_experts_needs_them() {
        // A dense llama file that claims experts must have them: the router is looked for.
        auto metadata = model("llama").metadata();
        test::set_key(metadata, "llama.expert_count", u32(4));
        test::set_key(metadata, "llama.expert_used_count", u32(2));
        expect_load_error(write(metadata, test::tensor_records(model("llama"))),
                          "tensor 'blk.0.ffn_gate_inp.weight' is missing");
    }

    void memory_plan_saturates_at_the_limits() {
        // A model at every hyper-parameter limit, planned for the largest context and many
        // sequences: the KV cache needs more than 2^64 bytes, which the plan must not wrap.
        ModelInfo info;
        info.n_layer = kMaxLayers;
        info.n_embd = kMaxEmbeddingLength;
        info.n_head = kMaxHeads;
        info.n_head_kv = kMaxHeads;
        info.head_dim_k = kMaxHeadSize;
        info.head_dim_v = kMaxHeadSize;
        info.n_ff = kMaxFeedForwardLength;
        info.n_vocab = kMaxVocabulary;
        info.n_ctx_train = kMaxContextLength;
        info.weights_bytes = 1ull << 40;
        const MemoryPlan plan = plan_memory(info, {.n_ctx = 0, .n_seq = 1u << 20});
        QCOMPARE(plan.kv_bytes, UINT64_MAX);
        QCOMPARE(plan.total_bytes, UINT64_MAX);
        QCOMPARE(assess_fit(plan.total_bytes, 1ull << 40), Fit::wont_fit);
        // One sequence at the trained context still fits in 64 bits, exactly.
        const MemoryPlan one = plan_memory(info, {});
        QCOMPARE(one.kv_bytes,
                 uint64_t{kMaxLayers} * kMaxHeads * 2 * kMaxHeadSize * 2 * kMaxContextLength);
    }
};

QTEST_APPLESS_MAIN(TestModelHostile)
#include "tst_model_hostile.moc"
