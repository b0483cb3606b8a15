// Token sampling on the GPU, the chain of engine/src/sampling/sampler.cpp:
//   penalties: for each distinct token t of the window, with n its count there,
//              l_t = (l_t <= 0 ? l_t * r : l_t / r) - (n * frequency + presence)
//   greedy (temperature <= 0): argmax l, the lowest id on ties;
//   top-k: the k largest (ties to the lower id), sorted; top-p: p_i = exp(l_i - l_0) / sum
//   over the k, keep the shortest prefix whose running sum (double) reaches top_p;
//   min-p: keep the prefix with l_i >= l_0 + ln(min_p) (at least one);
//   temperature: p_i = softmax(l_i / T) over the kept; the draw: the first i whose running
//   sum exceeds u, else the last kept.
// u is computed on the host from the same mt19937 outputs as the CPU sampler, so with the
// same seed both chains make the same draw; they can differ only when u falls within a few
// float32 ulps of a cumulative boundary (expf here vs std::exp there) or when the order of
// the double-precision sums changes the last bits (top-p's boundary likewise).
//
// Work decomposition: one CTA of 1024 threads.
//  1. work = logits, with the penalties applied (each distinct window token is handled by the
//     thread holding its first occurrence, so no two threads write one logit).
//  2. The k-th largest (k = min(top_k or n_vocab, kSampleMaxCandidates)) by radix select on
//     order-preserving 32-bit keys: 4 rounds of a 256-bin shared histogram.
//  3. Gather the keys above the threshold, and the lowest-id ties equal to it (an ordered
//     compaction: each thread owns a contiguous slice, a block scan ranks the ties).
//  4. Bitonic sort of the <= 1024 candidates by (logit desc, id asc) in shared memory.
//  5. Top-p / min-p / temperature / draw over the sorted list by one thread (<= 1024 steps),
//     the softmax normaliser of top-p over the whole vocabulary when top-k is off.
#include "common.cuh"
#include "sampling.cuh"

namespace hearth::kernels {
namespace {

constexpr int kThreads = 1024;
constexpr int kCap = kSampleMaxCandidates;
static_assert(kCap == kThreads, "one candidate per thread in the sort");

// Larger float -> larger unsigned key (NaN aside).
__device__ __forceinline__ uint32_t order_key(float f) {
    const uint32_t bits = __float_as_uint(f);
    return (bits & 0x80000000u) ? ~bits : bits | 0x80000000u;
}

__device__ __forceinline__ int warp_inclusive_scan(int value, int lane) {
#pragma unroll
    for (int offset = 1; offset < 32; offset *= 2) {
        const int other = __shfl_up_sync(0xffffffffu, value, offset);
        if (lane >= offset) {
            value += other;
        }
    }
    return value;
}

// Exclusive prefix sum of `value` over the CTA (thread order); *total gets the sum.
__device__ int block_exclusive_scan(int value, int* total) {
    __shared__ int warp_totals[kThreads / 32];
    const int lane = static_cast<int>(threadIdx.x) % 32;
    const int warp = static_cast<int>(threadIdx.x) / 32;
    const int inclusive = warp_inclusive_scan(value, lane);
    if (lane == 31) {
        warp_totals[warp] = inclusive;
    }
    __syncthreads();
    if (warp == 0) {
        const int t = warp_inclusive_scan(warp_totals[lane], lane);
        warp_totals[lane] = t;
    }
    __syncthreads();
    const int before = warp == 0 ? 0 : warp_totals[warp - 1];
    *total = warp_totals[kThreads / 32 - 1];
    __syncthreads();
    return before + inclusive - value;
}

// Sum of `value` over the CTA, returned to every thread.
__device__ double block_sum_double(double value) {
    __shared__ double warp_sums[kThreads / 32];
    __shared__ double total;
    const int lane = static_cast<int>(threadIdx.x) % 32;
    const int warp = static_cast<int>(threadIdx.x) / 32;
#pragma unroll
    for (int offset = 16; offset > 0; offset /= 2) {
        value += __shfl_xor_sync(0xffffffffu, value, offset);
    }
    if (lane == 0) {
        warp_sums[warp] = value;
    }
    __syncthreads();
    if (warp == 0) {
        double s = warp_sums[lane];
#pragma unroll
        for (int offset = 16; offset > 0; offset /= 2) {
            s += __shfl_xor_sync(0xffffffffu, s, offset);
        }
        if (lane == 0) {
            total = s;
        }
    }
    __syncthreads();
    return total;
}

__global__ void __launch_bounds__(kThreads)
    sample_kernel(const float* __restrict__ logits, int n, const int32_t* __restrict__ history,
                  const SampleControl* __restrict__ control, SampleConfig cfg,
                  float* __restrict__ work, SampleResult* __restrict__ result) {
    __shared__ int hist[256];
    __shared__ uint32_t s_prefix;
    __shared__ int s_want;
    __shared__ int s_n_above;
    __shared__ unsigned long long sort_keys[kCap];
    const int tid = static_cast<int>(threadIdx.x);

    // 1. Penalties.
    for (int i = tid; i < n; i += kThreads) {
        work[i] = logits[i];
    }
    __syncthreads();
    const bool penalise =
        cfg.repeat_penalty != 1.0f || cfg.presence_penalty != 0.0f || cfg.frequency_penalty != 0.0f;
    const int n_history = control->n_history;
    if (penalise) {
        for (int i = tid; i < n_history; i += kThreads) {
            const int32_t t = history[i];
            bool first = t >= 0 && t < n;
            for (int j = 0; j < i && first; ++j) {
                first = history[j] != t;
            }
            if (first) {
                int count = 0;
                for (int j = i; j < n_history; ++j) {
                    count += history[j] == t;
                }
                float l = work[t];
                l = l <= 0.0f ? __fmul_rn(l, cfg.repeat_penalty) : __fdiv_rn(l, cfg.repeat_penalty);
                work[t] = __fsub_rn(
                    l, __fadd_rn(__fmul_rn(static_cast<float>(count), cfg.frequency_penalty),
                                 cfg.presence_penalty));
            }
        }
        __syncthreads();
    }

    // 2. Radix select of the k-th largest key. Greedy is top-1.
    const bool greedy = cfg.temperature <= 0.0f;
    const int k_all = greedy ? 1 : (cfg.top_k > 0 ? min(cfg.top_k, n) : n);
    const int k = min(k_all, kCap);
    if (tid == 0) {
        s_prefix = 0;
        s_want = k;
    }
    for (int shift = 24; shift >= 0; shift -= 8) {
        for (int b = tid; b < 256; b += kThreads) {
            hist[b] = 0;
        }
        __syncthreads();
        const uint32_t prefix = s_prefix;
        const uint32_t high_mask = shift == 24 ? 0u : 0xffffffffu << (shift + 8);
        for (int i = tid; i < n; i += kThreads) {
            const uint32_t key = order_key(work[i]);
            if ((key & high_mask) == (prefix & high_mask)) {
                atomicAdd(&hist[(key >> shift) & 0xff], 1);
            }
        }
        __syncthreads();
        if (tid == 0) {
            int want = s_want;
            int digit = 255;
            for (; digit > 0; --digit) {
                if (hist[digit] >= want) {
                    break;
                }
                want -= hist[digit];
            }
            s_prefix = prefix | (static_cast<uint32_t>(digit) << shift);
            s_want = want;
        }
        __syncthreads();
    }
    const uint32_t threshold = s_prefix;
    const int n_ties = s_want; // keys equal to the threshold to take, lowest ids first

    // 3. Gather into sort_keys: (key << 32) | ~id, so that one descending sort orders by logit
    // descending then id ascending. Unused slots stay 0 (below every real entry).
    sort_keys[tid] = 0;
    if (tid == 0) {
        s_n_above = 0;
    }
    __syncthreads();
    const int slice = (n + kThreads - 1) / kThreads;
    const int lo = min(n, tid * slice), hi = min(n, lo + slice);
    int my_ties = 0;
    for (int i = lo; i < hi; ++i) {
        const uint32_t key = order_key(work[i]);
        if (key > threshold) {
            const int at = atomicAdd(&s_n_above, 1);
            sort_keys[at] = (static_cast<unsigned long long>(key) << 32) |
                            (0xffffffffu - static_cast<uint32_t>(i));
        } else if (key == threshold) {
            ++my_ties;
        }
    }
    int total_ties = 0;
    int rank = block_exclusive_scan(my_ties, &total_ties); // also syncs: s_n_above is final
    const int n_above = s_n_above;
    for (int i = lo; i < hi && rank < n_ties; ++i) {
        if (order_key(work[i]) == threshold) {
            sort_keys[n_above + rank] = (static_cast<unsigned long long>(threshold) << 32) |
                                        (0xffffffffu - static_cast<uint32_t>(i));
            ++rank;
        }
    }
    __syncthreads();

    // 4. Bitonic sort, descending.
    for (int size = 2; size <= kCap; size *= 2) {
        for (int stride = size / 2; stride > 0; stride /= 2) {
            const int partner = tid ^ stride;
            if (partner > tid) {
                const bool descending = (tid & size) == 0;
                const unsigned long long a = sort_keys[tid], b = sort_keys[partner];
                if ((a < b) == descending) {
                    sort_keys[tid] = b;
                    sort_keys[partner] = a;
                }
            }
            __syncthreads();
        }
    }

    // Softmax normaliser at temperature 1 over the whole vocabulary, for top-p when top-k is
    // off and the list was cut at kCap.
    const float max_logit = work[0xffffffffu - static_cast<uint32_t>(sort_keys[0] & 0xffffffffu)];
    double full_sum = 0.0;
    const bool need_full_sum = !greedy && cfg.top_p < 1.0f && k_all > k && cfg.top_k == 0;
    if (need_full_sum) {
        double part = 0.0;
        for (int i = tid; i < n; i += kThreads) {
            part += static_cast<double>(expf(work[i] - max_logit));
        }
        full_sum = block_sum_double(part);
    }

    // 5. The rest of the chain, on one thread.
    if (tid != 0) {
        return;
    }
    auto id_at = [&](int i) {
        return static_cast<int32_t>(0xffffffffu -
                                    static_cast<uint32_t>(sort_keys[i] & 0xffffffffu));
    };
    result->status = kSampleOk;
    if (greedy) {
        result->token = id_at(0);
        result->n_top = min(cfg.n_top, 1);
        if (cfg.n_top > 0) {
            result->top_tokens[0] = id_at(0);
            result->top_logits[0] = max_logit;
            result->top_probs[0] = 1.0f;
        }
        return;
    }
    int keep = k_all; // may exceed k (= what is sorted) until a stage cuts within k
    if (cfg.top_p < 1.0f) {
        double sum = 0.0;
        if (k_all == k) {
            for (int i = 0; i < k; ++i) {
                sum += static_cast<double>(expf(work[id_at(i)] - max_logit));
            }
        } else if (cfg.top_k == 0) {
            sum = full_sum;
        } else {
            result->status = kSampleNeedsHost; // top-k above the cap with top-p
            result->token = -1;
            return;
        }
        double cumulative = 0.0;
        for (int i = 0; i < k; ++i) {
            const float p =
                static_cast<float>(static_cast<double>(expf(work[id_at(i)] - max_logit)) / sum);
            cumulative += p;
            if (cumulative >= cfg.top_p) {
                keep = i + 1;
                break;
            }
        }
    }
    if (cfg.min_p > 0.0f) {
        const float min_logit = max_logit + logf(cfg.min_p);
        int kept = 0;
        while (kept < min(keep, k) && work[id_at(kept)] >= min_logit) {
            ++kept;
        }
        if (kept < min(keep, k) || keep <= k) {
            keep = max(kept, 1);
        }
    }
    if (keep > k) {
        result->status = kSampleNeedsHost; // the kept set is longer than the sorted list
        result->token = -1;
        return;
    }
    const float top = work[id_at(0)] / cfg.temperature;
    double sum = 0.0;
    for (int i = 0; i < keep; ++i) {
        sum += static_cast<double>(expf(work[id_at(i)] / cfg.temperature - top));
    }
    const double u = control->u;
    double cumulative = 0.0;
    int32_t chosen = id_at(keep - 1);
    const int n_top = min(cfg.n_top, keep);
    bool drawn = false;
    for (int i = 0; i < keep; ++i) {
        const float p = static_cast<float>(
            static_cast<double>(expf(work[id_at(i)] / cfg.temperature - top)) / sum);
        if (i < n_top) {
            result->top_tokens[i] = id_at(i);
            result->top_logits[i] = work[id_at(i)];
            result->top_probs[i] = p;
        }
        cumulative += p;
        if (!drawn && u < cumulative) {
            chosen = id_at(i);
            drawn = true;
        }
        if (drawn && i + 1 >= n_top) {
            break;
        }
    }
    result->token = chosen;
    result->n_top = n_top;
}

} // namespace

cudaError_t launch_sample(const float* logits, int n_vocab, const int32_t* history,
                          const SampleControl* control, const SampleConfig& config, float* work,
                          SampleResult* result, cudaStream_t stream) {
    if (n_vocab <= 0 || config.n_top < 0 || config.n_top > kSampleMaxTop || logits == nullptr ||
        history == nullptr || control == nullptr || work == nullptr || result == nullptr) {
        return cudaErrorInvalidValue;
    }
    sample_kernel<<<1, kThreads, 0, stream>>>(logits, n_vocab, history, control, config, work,
                                              result);
    return cudaGetLastError();
}

} // namespace hearth::kernels
