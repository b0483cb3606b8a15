// qwen35's gated attention: its query projection gives, per head, the query and then a gate
// of the same size ([q | gate] per head); the attention output is multiplied by
// sigmoid(gate), as llama.cpp's qwen35 build_layer_attn does.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <vector>

namespace hearth::cpu {

// qwen35's interleaved multi-section RoPE (ggml's IMROPE) for text, where the time, height
// and width positions are all the token's and the fourth is 0: for each of the n_rot / 2
// pairs, 1 when ggml_mrope_cache_init gives it the fourth section's position (0), else 0.
std::vector<uint8_t> imrope_pairs_at_position_zero(uint32_t n_rot,
                                                   const std::array<uint32_t, 4>& sections);

class AttentionGate {
public:
    // Room for the projection of n tokens, (n, n_head × 2 × head_dim) floats.
    float* projection(size_t n, size_t n_head, size_t head_dim);
    // Splits the projection of n tokens into q (n, n_head × head_dim) and the kept gate.
    void split(size_t n, float* q);
    // attn (n, n_head × head_dim) *= sigmoid(gate), elementwise.
    void apply(float* attn, size_t n) const;

private:
    size_t n_head_ = 0, head_dim_ = 0;
    std::vector<float> projection_, gate_;
};

} // namespace hearth::cpu
