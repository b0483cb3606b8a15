// The pre-flight checklist: what running a model involves, checked before it loads, from its
// GGUF header and this machine's facts alone — memory (the plan against free RAM and each GPU's
// free memory, with the fixes that make it fit), format (base or chat-tuned, which template and
// why, the system prompt), runtime (device, threads, CUDA, partial offload), sampling (against
// the usual starting point) and warm-up (the first and second run, when measured).
//
// Everything here is data: the app draws it as a card, `hearth-cli doctor` prints it or writes
// it as JSON. Each fix is a machine-applicable change of settings (SettingsChange) with its
// computed effect, so that a button can apply it. Thread-safe: the functions share no state.
#pragma once

#include "hearth/cuda_device.h"
#include "hearth/device_choice.h"
#include "hearth/error.h"
#include "hearth/gguf.h"
#include "hearth/memory_plan.h"
#include "hearth/model_info.h"
#include "hearth/sampling.h"
#include "hearth/session.h"

#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace hearth {

enum class CheckStatus { green, amber, red };
const char* check_status_name(CheckStatus status); // "green", "amber", "red"

// A change of settings that a fix applies; only the fields it sets change. The app maps each
// onto its own setting, hearth-cli onto its options (--ctx, --kv-type, --gpu-layers, ...).
struct SettingsChange {
    std::optional<uint32_t> context = {};    // tokens per sequence
    std::optional<KvCacheType> kv_type = {}; // the KV cache's element type
    std::optional<int32_t> gpu_layers = {};  // hearth/gpu_layers.h: a count, all or auto
    std::optional<std::string> device = {};  // "cpu", "cuda:N", "auto" (parse_device)
    std::optional<uint32_t> n_seq = {};      // sequences decoded together (not `slots`: a Qt macro)
    std::optional<std::string> model = {};   // another file: "…-Q3_K_M.gguf"
    std::optional<std::string> template_name = {}; // "model", "raw" or a built-in's name
    std::optional<std::string> system_prompt = {}; // "" removes it
    std::optional<int> threads = {};               // CPU threads
    std::optional<float> temperature = {};
    std::optional<int32_t> top_k = {};
    std::optional<float> top_p = {};
    std::optional<float> repeat_penalty = {};
    bool empty() const;
};

// {"context": 8192}, {"kv_type": "q8_0"}, {"gpu_layers": 20}, {"model": "…Q3_K_M.gguf"}: the
// fields set, under those names (gpu_layers as a number, or "all" / "auto").
nlohmann::ordered_json settings_change_json(const SettingsChange& change);

// One way to make a check pass, and what it would do, computed (not guessed).
struct Fix {
    std::string label = {};  // "Use a context of 6,144 tokens"
    std::string effect = {}; // "needs 1.42 GiB of the 1.50 GiB available"
    SettingsChange change = {};
    // Memory fixes: the total the plan gives once applied; 0 where not a memory fix.
    uint64_t needed_bytes = 0;
};

// A number the check rests on, for display: "KV cache" = "180.0 MiB" (value 188743680, "B").
struct Figure {
    std::string label = {};
    std::string text = {}; // formatted for a person
    double value = 0;      // the raw number
    std::string unit = {}; // "B", "tokens", "threads", "", ...
};

struct CheckItem {
    std::string id = {};    // "memory", "format", "runtime", "sampling", "warmup"
    std::string title = {}; // "Memory", "Format", ...
    CheckStatus status = CheckStatus::green;
    std::string summary = {};         // one line: "Fits: needs 283.8 MiB of 22.7 GiB free RAM"
    std::vector<Figure> figures = {}; // the numbers, in reading order
    std::vector<std::string> evidence = {}; // one sentence each: what was read and what it means
    std::vector<Fix> fixes = {};            // empty when green; best first
};

struct Checklist {
    std::vector<CheckItem> items = {}; // memory, format, runtime, sampling, then warmup if measured
    CheckStatus overall() const;       // the worst item's status
};

// ---- what the checks read ----

// This machine, read once: free RAM (/proc/meminfo MemAvailable), the CUDA devices with their
// free memory (or why there are none), the CPU's cores.
struct MachineFacts {
    std::optional<HostMemory> host = {};   // nullopt when /proc/meminfo is unreadable
    std::vector<CudaDeviceInfo> gpus = {}; // empty when none
    std::string gpu_error;                 // why there are none: list_cuda_devices()'s error
    bool cuda_built = false;               // cuda_backend_available()
    bool cuda_driver_found = false;        // libcuda.so.1 loads (whatever the build)
    std::string cuda_toolkit = {};         // "CUDA runtime 12.4" or "" when not found
    int physical_cores = 0;                // what the engine's default thread count uses
    int logical_cpus = 0;                  // hardware threads this process may run on
};
// Reads the facts above. Creates a CUDA context on each device in a CUDA build.
MachineFacts read_machine_facts();

// Facts of the model file beyond ModelInfo, read from its header: what Format needs.
struct ModelFileFacts {
    std::string file_name = {}; // the path's file name, no directory
    std::string name = {};      // general.name
    std::string basename = {};  // general.basename
    std::string finetune = {};  // general.finetune
    std::string size_label = {};
    std::vector<std::string> tags = {};       // general.tags
    std::string embedded_template = {};       // tokenizer.chat_template, "" when none
    std::vector<std::string> vocabulary = {}; // tokenizer.ggml.tokens
    std::string bos_token = {};               // the BOS and EOS tokens' text, "" when not given
    std::string eos_token = {};
};
// Fails with `bad_format` when tokenizer.ggml.tokens is missing or not an array of strings.
Result<ModelFileFacts> read_model_file_facts(const GgufFile& file);

// The settings a model would run with, as the app or hearth-cli would apply them.
struct PreflightSettings {
    uint32_t n_ctx = 0; // tokens per sequence; 0: the trained context capped at 4096 (Session)
    uint32_t n_seq = 1; // slots decoded together
    uint32_t n_batch = 512;
    KvCacheType kv_type = KvCacheType::f16;
    DeviceRequest device{.automatic = true};
    int32_t gpu_layers = -2;        // kAutoGpuLayers
    int n_threads = 0;              // 0: one per physical core
    std::string template_name = {}; // as resolve_prompt_format takes it; "" the model's own
    std::string system_prompt = {};
    SamplingParams sampling = {};
    // The memory to fit in instead of MemAvailable (a test, or a user keeping room for other
    // programs); unset: the machine's.
    std::optional<uint64_t> memory_budget_bytes = {};
};

// The context the settings mean for this model: n_ctx, or the trained context capped at 4096.
uint32_t effective_context(const ModelInfo& info, const PreflightSettings& settings);

// Another quantization of the same model (from the catalog), for "a smaller quantization".
struct QuantSibling {
    std::string quantization = {}; // "Q3_K_M"
    std::string file = {};         // "SmolLM2-135M-Instruct-Q3_K_M.gguf"
    uint64_t size_bytes = 0;       // 0: unknown; estimated from the bits per weight then
};

// The catalog's quantizations of the model whose file is named `model_file_name` (matched
// case-insensitively on the file name, ignoring its quantization part, against the entries'
// files), read from the catalog JSON (resources/catalog.json's format) with parse_json_input.
// Empty when the model is not in the catalog; `bad_format` when the JSON is malformed.
Result<std::vector<QuantSibling>> catalog_quant_siblings(std::string_view catalog_json,
                                                         std::string_view model_file_name);

// llama.cpp's average bits per weight of a file type ("Q4_K_M" 4.89, "Q8_0" 8.5, "F16" 16),
// case-insensitive; nullopt for an unknown name. The catalog's size estimate uses it too.
std::optional<double> quantization_bits_per_weight(std::string_view file_type);

// ---- the checks ----

// Memory: plan_memory at the settings against the budget (memory_budget_bytes, else
// MemAvailable) and, for a CUDA request, each GPU's free memory (whole model, else partial
// offload). Figures: each part, the total, the rule of thumb and the model's own KV per token.
// Evidence: why the model differs from the rule of thumb (grouped-query attention, head size,
// KV type, recurrent state). Red when it does not fit, amber above 85% of the budget; fixes for
// both: the largest context that fits (found by planning it), a Q8_0 KV cache (when the heads
// allow it), N layers on the CPU (with a GPU), a smaller quantization among `siblings`.
CheckItem check_memory(const ModelInfo& info, const PreflightSettings& settings,
                       const MachineFacts& machine, const std::vector<QuantSibling>& siblings);

// Format: base or chat-tuned (classify_model_tuning), which template and why (choose_template,
// or the one named in the settings), whether a system prompt is set and whether the template
// shows it (a probe conversation with a system message is rendered and searched for it).
// Red when the template does not parse or the chosen template's special tokens are missing
// from the vocabulary; amber for a base model with a chat template, a chat model used raw, or
// a system prompt the template drops.
CheckItem check_format(const ModelInfo& info, const ModelFileFacts& file,
                       const PreflightSettings& settings);

enum class ModelTuning { chat, base, unknown };
const char* model_tuning_name(ModelTuning tuning); // "chat-tuned", "base", "unknown"
struct TuningVerdict {
    ModelTuning tuning = ModelTuning::unknown;
    std::vector<std::string> evidence = {}; // each fact read and which way it points
};
// From the metadata: an embedded chat template; instruct/chat/-it/sft/dpo/rlhf in the name,
// fine-tune or file name; "base" in the name or tags. Vocabulary chat tokens alone do not make
// a chat model (base models of several families carry them).
TuningVerdict classify_model_tuning(const ModelInfo& info, const ModelFileFacts& file);

// Runtime: which device choose_device would pick and why, threads against cores, the CUDA
// driver and toolkit, and for a partial offload the split and its expected cost (the share of
// the weights read from RAM per token). Amber for more threads than cores or fewer than half
// of them, a CUDA request without CUDA, or layers left on the CPU.
CheckItem check_runtime(const ModelInfo& info, const PreflightSettings& settings,
                        const MachineFacts& machine);

// Sampling: the settings against the usual starting point (temperature 0.7, top-p 0.9, top-k
// 40, repetition penalty 1.1); amber with a reason and a fix back to the starting value for a
// temperature above 1.5, top-k 0 with top-p 1 (the whole vocabulary), or no repetition penalty
// on a small model (under 3B parameters); other differences are listed as evidence, green.
CheckItem check_sampling(const ModelInfo& info, const SamplingParams& sampling);

// Warm-up, measured: the same prompt generated twice on one fresh session's model.
struct WarmupRun {
    double load_ms = 0; // only the first: Model::load (0 when the model was already loaded)
    double prefill_tokens_per_second = 0;
    double decode_tokens_per_second = 0;
    double ttft_ms = 0;
    int32_t n_prompt = 0;
    int32_t n_generated = 0;
};
struct WarmupMeasurement {
    WarmupRun first = {};
    WarmupRun second = {};
};
// Generates `max_tokens` greedily from `prompt` twice on `session` (its cache cleared before
// each, so that both prefill the whole prompt) and reports both runs; `load_ms` is the caller's
// measure of Model::load, kept with the first. The session stays the caller's, so that the
// memory it holds can be measured after. Fails as generate does. Timing: for tools and the
// app, never a test's assertion.
Result<WarmupMeasurement> measure_warmup(Session& session, double load_ms,
                                         std::span<const int32_t> prompt, int32_t max_tokens);
// Green when the second run's decode is within 20% of the first's, amber otherwise, with the
// ratio and why (pages of the mapped file faulted in, caches cold).
CheckItem check_warmup(const WarmupMeasurement& measured);

// All of the above but warm-up (and that too when given).
Checklist run_preflight(const ModelInfo& info, const ModelFileFacts& file,
                        const PreflightSettings& settings, const MachineFacts& machine,
                        const std::vector<QuantSibling>& siblings,
                        const std::optional<WarmupMeasurement>& warmup = std::nullopt);

// The checklist as JSON: {"overall": "green", "items": [{id, title, status, summary, figures:
// [{label, text, value, unit}], evidence: [...], fixes: [{label, effect, change, needed_bytes}]}]}.
nlohmann::ordered_json checklist_json(const Checklist& checklist);

// ---- memory arithmetic the fixes use ----

// The largest context (tokens per sequence, at most the trained one) whose plan's total fits
// `available_bytes`, found by bisection over plan_memory; 0 when not even one token fits.
uint32_t largest_fitting_context(const ModelInfo& info, MemoryPlanOptions options,
                                 uint64_t available_bytes);

// The rule of thumb people use and what the model needs instead.
struct RuleOfThumb {
    double kv_bytes_per_token_7b = 0.5 * 1024 * 1024; // Llama-2-7B: 32 layers × 4096 × 2 × 2 B
    double kv_bytes_per_token = 0;                    // this model's, at the KV type
    double weights_bytes_rule = 0;         // parameters × bits per weight (of its file type) / 8
    uint64_t weights_bytes = 0;            // the file's real tensor bytes
    std::vector<std::string> reasons = {}; // why it differs: GQA, head size, layers, KV type, state
};
RuleOfThumb rule_of_thumb(const ModelInfo& info, KvCacheType kv_type);

} // namespace hearth
