// Launch interface of token sampling on the GPU (kernels/sampling.cu): the sampling chain of
// engine/src/sampling/sampler.cpp over a row of logits in device memory, writing only the
// chosen token (and optionally the top candidates) back.
// Plain C++ declarations for the engine's CUDA backend; launchers never print or exit.
#pragma once

#include <cstdint>
#include <cuda_runtime_api.h>

namespace hearth::kernels {

// Candidates the GPU sorts; a chain that needs more (top-k above it, or top-p / min-p that
// keep more than it) reports kSampleNeedsHost and the caller samples on the CPU.
inline constexpr int kSampleMaxCandidates = 1024;
// Most top candidates one call reports.
inline constexpr int kSampleMaxTop = 64;

// The chain's parameters (hearth::SamplingParams, already validated by the caller).
struct SampleConfig {
    float temperature = 0.0f; // <= 0: greedy (argmax, lowest id on ties)
    int top_k = 0;            // 0: off
    float top_p = 1.0f;
    float min_p = 0.0f;
    float repeat_penalty = 1.0f;
    float presence_penalty = 0.0f;
    float frequency_penalty = 0.0f;
    int n_top = 0; // top candidates to report, 0..kSampleMaxTop
};

// What changes between calls of one captured graph: written by the host before each replay.
struct SampleControl {
    double u = 0.0;        // the uniform draw in [0, 1): sample_uniform of two mt19937 outputs
    int32_t n_history = 0; // entries of `history` the penalties look at (the window)
    int32_t pad = 0;
};

enum SampleStatus : int32_t { kSampleOk = 0, kSampleNeedsHost = 1 };

struct SampleResult {
    int32_t token = -1;
    int32_t status = kSampleOk;
    int32_t n_top = 0;
    int32_t pad = 0;
    int32_t top_tokens[kSampleMaxTop];
    float top_logits[kSampleMaxTop]; // after the penalties, before the temperature
    float top_probs[kSampleMaxTop];  // final probabilities of the kept candidates
};

// The draw of hearth::Sampler from two consecutive outputs of its std::mt19937: 53 bits of
// (high << 21 | low >> 11) scaled to [0, 1). With the same seed, the GPU chain sees the same u
// as the CPU chain.
inline double sample_uniform(uint32_t high, uint32_t low) {
    const uint64_t bits = (static_cast<uint64_t>(high) << 21) | (low >> 11);
    return static_cast<double>(bits & ((uint64_t{1} << 53) - 1)) * 0x1.0p-53;
}

// Enqueues the chain over logits[0..n_vocab) (device, not modified): penalties from
// history[0..control->n_history) (device), then greedy or top-k, top-p, min-p, temperature and
// the draw with control->u; writes *result (device). `work` is n_vocab floats of device
// scratch. One CTA of 1024 threads. cudaErrorInvalidValue for n_vocab <= 0, n_top outside
// 0..kSampleMaxTop, null pointers.
cudaError_t launch_sample(const float* logits, int n_vocab, const int32_t* history,
                          const SampleControl* control, const SampleConfig& config, float* work,
                          SampleResult* result, cudaStream_t stream);

} // namespace hearth::kernels
