// Matrix products that read quantized weights directly (no dequantized copy of the
// model): y = W x for one token (decode) and Y = X W^T for a batch (prefill).
//
// As in llama.cpp, activations are first quantized to the weight type's "dot type"
// (Q8_0, Q8_1 or Q8_K blocks; F16 for F16 weights, BF16 for BF16, F32 for F32) and
// the inner products run on integers where the formats allow. Kernels are chosen at run
// time from the CPU's features (AVX-512 VNNI, AVX2+FMA+F16C, or portable C++).
#pragma once

#include "hearth/tensor_type.h"

#include <cstddef>
#include <cstdint>
#include <span>

namespace hearth::cpu {

class ThreadPool;

// A weight matrix in its GGUF layout: n_rows rows of n_cols elements, each row
// row_bytes long (rows are contiguous). Shape in GGML terms: dims = {n_cols, n_rows}.
struct WeightMatrix {
    TensorType type = TensorType::F32;
    const void* data = nullptr;
    int64_t n_cols = 0;
    int64_t n_rows = 0;
    size_t row_bytes = 0;
    // Optional copy of the first n_rows / 8 * 8 rows interleaved by 8 (cpu/repack.h), made at
    // load where the type has a packed kernel; `data` still holds every row.
    const void* packed = nullptr;
};

// Whether matmul supports this weight type.
bool matmul_supports(TensorType type);

// The type activations are converted to for a dot product with `weight_type` rows.
TensorType dot_type(TensorType weight_type);

// Bytes needed to hold one activation row of n_cols values in dot_type(weight_type).
size_t activation_row_bytes(TensorType weight_type, int64_t n_cols);

// Converts one activation row x[n_cols] to dot_type(weight_type) into `out`.
void quantize_activation_row(TensorType weight_type, const float* x, void* out, int64_t n_cols);

// Which ggml operation a matmul stands for, where their float orders differ: ggml_mul_mat
// hands F32/F16 prompt batches to llamafile's tinyBLAS, ggml_mul_mat_id (the experts of a
// mixture-of-experts layer) always runs the per-row vec_dot kernels.
enum class MatmulOp { mul_mat, mul_mat_id };

// y[t * y_stride + r] = sum_c W[r][c] * x[t][c] for t in [0, n_tokens), r in [0, n_rows).
// `x` holds n_tokens rows of n_cols floats, `x_stride` floats apart. `scratch` must hold
// n_tokens * activation_row_bytes(W.type, W.n_cols) bytes. Rows are split over the pool.
void matmul(const WeightMatrix& w, const float* x, int64_t n_tokens, int64_t x_stride, float* y,
            int64_t y_stride, void* scratch, ThreadPool& pool, MatmulOp op = MatmulOp::mul_mat);

// One product of a group that shares its activations: y[t * y_stride + r] = (W x_t)[r].
struct MatmulTarget {
    const WeightMatrix* w;
    float* y;
    int64_t y_stride;
};

// Most matrices one matmul_group() call takes (a layer's Q, K, V; gate and up).
inline constexpr size_t kMaxMatmulGroup = 4;

// matmul() of each target, every one reading the same activations `x` (mul_mat, the same
// n_cols): the same bits as one matmul() per target. One token (a decode step): the activations
// are converted once per weight type on the calling thread and the rows of every matrix are
// dealt to the threads in one parallel region, one hand-off for Q, K and V instead of three. A
// batch runs one matmul() per target, with `scratch` as matmul()'s (its activations then live in
// the caller's planned scratch, not in buffers kept per thread). At most kMaxMatmulGroup targets.
void matmul_group(std::span<const MatmulTarget> targets, const float* x, int64_t n_tokens,
                  int64_t x_stride, void* scratch, ThreadPool& pool);

// Dot products over an F16 row (the KV cache): sum_i f16(a[i]) * b[i], and
// y[i] += f16(a[i]) * scale. Vectorised with F16C when the CPU has it.
float dot_f16_f32(const uint16_t* a, const float* b, int64_t n);
void axpy_f16_f32(const uint16_t* a, float scale, float* y, int64_t n);
// f32 -> f16 conversion of a row (for appending to the KV cache).
void convert_f32_to_f16(const float* x, uint16_t* out, int64_t n);

// The CPU features found at start-up, for logs and `hearth-bench`: "avx512vnni avx2 fma f16c".
const char* cpu_feature_string();

} // namespace hearth::cpu
