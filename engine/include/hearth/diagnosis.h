// The pitfall doctor: diagnoses of what went wrong while chatting — out of memory, a template
// mismatch, a base model given a chat prompt, a temperature too high, a prompt the tokenizer
// does not round-trip, a degenerate token stream (entropy, repetition loops), slow decoding,
// refusals, a full context — each a pure function over evidence the app and hearth-cli collect,
// returning the diagnosis with its evidence and its fixes, or nothing when it does not apply.
//
// Thresholds are named constants, calibrated on the default model (docs/DOCTOR.md says how;
// `hearth-cli doctor --calibrate` measures them). Thread-safe: no shared state, except a
// TokenStreamMonitor, which is a plain value used by one thread.
#pragma once

#include "hearth/memory_plan.h"
#include "hearth/model_info.h"
#include "hearth/preflight.h"
#include "hearth/sampling.h"
#include "hearth/session.h"
#include "hearth/tokenizer.h"

#include <cstddef>
#include <cstdint>
#include <deque>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace hearth {

enum class DiagnosisKind {
    out_of_memory,
    template_mismatch,
    base_model_chat,
    temperature_too_high,
    tokenizer_round_trip,
    high_entropy,
    repetition_loop,
    slow,
    refusal,
    context_full,
};
const char* diagnosis_kind_name(DiagnosisKind kind); // "out_of_memory", "template_mismatch", ...

enum class Severity { info, warning, error };
const char* severity_name(Severity severity);

struct Diagnosis {
    DiagnosisKind kind = DiagnosisKind::out_of_memory;
    Severity severity = Severity::warning;
    std::string title = {};                 // "The reply shows another chat template's markup"
    std::string explanation = {};           // two or three sentences: what it means
    std::vector<std::string> evidence = {}; // the facts it rests on, one sentence each
    std::vector<Fix> fixes = {};            // best first; may be empty (nothing to apply)
};
nlohmann::ordered_json diagnosis_json(const Diagnosis& diagnosis);

// ---- out of memory ----

struct MemoryEvidence {
    MemoryPlan fitted;            // the plan that ran (or the last one that fit)
    MemoryPlan needed = {};       // the plan that failed: a larger context, more slots, ...
    uint64_t available_bytes = 0; // free RAM (or the budget), or the GPU's free memory
    DeviceKind device = DeviceKind::cpu;
};
// Fires when needed.total_bytes exceeds available_bytes; names the part that grew most
// (weights, KV cache, recurrent state, scratch, overhead) from fitted to needed, and carries
// check_memory's fixes for the needed settings.
std::optional<Diagnosis> diagnose_out_of_memory(const ModelInfo& info, const MemoryEvidence& memory,
                                                const PreflightSettings& settings,
                                                const MachineFacts& machine,
                                                const std::vector<QuantSibling>& siblings);

// ---- replies ----

// One finished reply and how it was produced.
struct ReplyEvidence {
    std::string text = {}; // the reply as shown
    StopReason stop = StopReason::end_of_generation;
    int32_t n_generated = 0;
    std::string template_name;        // the template it was prompted with ("model", "llama2", ...)
    std::string template_source = {}; // its Jinja text
    // The template choose_template picks for the model, with its name ("model" when embedded).
    std::string model_template_name = {};
    std::vector<std::string> template_tokens_missing = {}; // the template's special tokens the
                                                           // vocabulary lacks (template_warnings)
    bool chat_prompt = true; // the prompt was rendered with a chat template (not raw)
};

// Replies this short that end at once count as "ended at once" (an empty turn).
inline constexpr int32_t kEmptyReplyTokens = 1;
// A reply cut at max tokens counts as "the end-of-turn never came" from this many tokens.
inline constexpr int32_t kRunawayReplyTokens = 64;

// Template mismatch: the reply contains chat-template markers (the built-in templates' special
// tokens and markup such as [INST], <<SYS>>, <|im_start|>, ### Instruction:, <start_of_turn>),
// or the template writes tokens the vocabulary lacks and the reply ended at once or never
// ended (cut at max tokens after kRunawayReplyTokens). Fix: the model's own template.
std::optional<Diagnosis> diagnose_template_mismatch(const ReplyEvidence& reply);

// The chat-template markers `text` contains, in order of first appearance.
std::vector<std::string> find_template_markers(std::string_view text);

// A base model prompted with a chat template: from the tuning verdict and the reply (which
// only adds evidence: the model continuing the user's side, a marker, no end-of-turn).
// Fix: the raw template, or a chat-tuned model.
std::optional<Diagnosis> diagnose_base_model_chat(const TuningVerdict& tuning,
                                                  const ReplyEvidence& reply);

// Temperature above kHighTemperature: the draws leave the likely tokens. Fix: 0.7.
inline constexpr float kHighTemperature = 1.5f;
std::optional<Diagnosis> diagnose_temperature(const SamplingParams& sampling);

// The prompt's text tokenized and decoded back differs from itself: the tokenizer loses or
// changes characters (invalid UTF-8, characters outside the vocabulary, normalisation).
// Names the first differing byte offset and the text around it.
std::optional<Diagnosis> diagnose_tokenizer_round_trip(const Tokenizer& tokenizer,
                                                       std::string_view prompt_text);

// A refusal: the reply opens like one ("I'm sorry", "I can't", "As an AI"), and why it may be:
// a restrictive system prompt (words like "only", "never", "refuse", "do not"), a template
// that adds a safety preamble of its own (a system text the user did not write), a base model.
struct RefusalEvidence {
    std::string reply = {};
    std::string system_prompt = {};   // the user's, "" when none
    std::string rendered_prompt = {}; // what the model saw
    std::string user_message = {};    // the last user message
    ModelTuning tuning = ModelTuning::unknown;
};
std::optional<Diagnosis> diagnose_refusal(const RefusalEvidence& evidence);

// The context filled: turns dropped by fit_prompt or the reply stopped with context_full.
// Evidence: the turns dropped, the KV cache per 1,000 tokens; fixes: a larger context that
// fits the memory (largest_fitting_context), a Q8_0 KV cache at twice the tokens.
struct ContextEvidence {
    size_t dropped_turns = 0;
    size_t dropped_messages = 0;
    bool reply_hit_context_full = false;
    uint32_t n_ctx = 0;
};
std::optional<Diagnosis> diagnose_context_full(const ModelInfo& info,
                                               const ContextEvidence& context,
                                               const PreflightSettings& settings,
                                               const MachineFacts& machine);

// ---- the token stream ----

// The entropy (nats) of one sampled distribution, from a sampling trace: of the final stage's
// candidates (renormalised), the distribution the token was drawn from.
double trace_entropy(const SamplingTrace& trace);

// The repetition and entropy thresholds, calibrated on the default model (docs/DOCTOR.md).
struct StreamThresholds {
    size_t window = 32;           // tokens the mean entropy is taken over
    double high_entropy_nats = 0; // mean entropy of the window above this: gibberish
    size_t ngram = 4;             // the n-gram length a loop is sought with
    size_t loop_repeats = 0;      // the same n-gram this many times in the last loop_window
    size_t loop_window = 0;       // tokens looked back for repeats
};
// The defaults (the calibrated numbers): docs/DOCTOR.md, "Token-stream thresholds".
StreamThresholds default_stream_thresholds();

// Watches a reply's tokens as they come: entropy from each token's sampling trace, loops from
// the token ids. Plain value; one per reply.
class TokenStreamMonitor {
public:
    explicit TokenStreamMonitor(StreamThresholds thresholds = default_stream_thresholds());
    // `trace` may be null (no trace asked): only loops are then watched.
    void observe(int32_t token, const SamplingTrace* trace);
    double mean_entropy() const;     // over the last `window` traced tokens; 0 before any
    double max_mean_entropy() const; // the highest window mean so far
    // The most repeated n-gram in the last loop_window tokens and its count.
    struct Loop {
        std::vector<int32_t> ngram;
        size_t repeats = 0;
    };
    Loop worst_loop() const;
    size_t n_tokens() const { return tokens_.size(); }

    // The diagnoses that fire now (high_entropy, repetition_loop), with `tokenizer` to show
    // the n-gram's text (may be null). Fixes: temperature 0.7 / a repetition penalty 1.1.
    std::vector<Diagnosis> diagnose(const Tokenizer* tokenizer,
                                    const SamplingParams& sampling) const;

private:
    StreamThresholds thresholds_ = {};
    std::vector<int32_t> tokens_ = {};
    std::deque<double> entropies_ = {}; // the last `window` traced tokens'
    double entropy_sum_ = 0;
    double max_mean_entropy_ = 0;
};

// ---- speed ----

// A decode measured, and what the machine could do.
struct SpeedEvidence {
    double decode_tokens_per_second = 0;
    uint64_t bytes_per_token = 0;    // weights read per token (active_weight_bytes) + KV read
    double memory_bandwidth_gbs = 0; // measured (measure_memory_bandwidth_gbs), 10^9 B/s
    DeviceKind device = DeviceKind::cpu;
    uint32_t gpu_layers = 0, n_layer = 0; // a partial offload when gpu_layers < n_layer on CUDA
    int n_threads = 0, physical_cores = 0;
    bool first_run = false; // the first generation after the model loaded
};
// Below kSlowTokensPerSecond or under kRooflineShare of bytes_per_token ÷ bandwidth: slow, told
// apart as: the first run (warming up), layers on the CPU, too few threads, or "as fast as this
// machine goes" (at the roofline: info, no fix).
inline constexpr double kSlowTokensPerSecond = 10.0;
inline constexpr double kRooflineShare = 0.5;
std::optional<Diagnosis> diagnose_slow(const SpeedEvidence& speed);
// The decode roofline in tokens/s: bandwidth ÷ bytes read per token.
double decode_roofline_tokens_per_second(uint64_t bytes_per_token, double bandwidth_gbs);

} // namespace hearth
