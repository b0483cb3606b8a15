// The recurrent state of one sequence of a hybrid model (qwen35): per gated delta-net layer,
// the short convolution's last inputs and the delta-rule state; fixed in size whatever the
// context, beside the KV cache that only the attention layers use.
#pragma once

#include "hearth/model_info.h"

#include <cstddef>
#include <cstdint>
#include <vector>

namespace hearth::cpu {

// Unlike a KV cache, the state after n positions holds no way back to the state after fewer:
// it is rewound by restoring a checkpoint (a copy taken as it passed a chosen position) or by
// starting over from position 0. The forward pass checks that a sequence's tokens continue
// exactly where its state stands (position() == the token's position) and resets it for a
// token at position 0.
class RecurrentState {
public:
    RecurrentState() = default; // no recurrent layers: holds nothing
    explicit RecurrentState(const ModelInfo& info);

    bool empty() const { return n_layers_ == 0; }
    uint64_t bytes() const {
        return (live_.size() + checkpoint_.size() + verify_start_.size() + verify_log_.size()) *
               sizeof(float);
    }
    // The positions the state has taken in: the next token's position.
    uint32_t position() const { return position_; }

    // The state of recurrent layer `layer` (absolute index), (conv_channels, d_conv - 1) floats
    // (each channel's last inputs together, oldest first: DeltaNet::convolve's layout, which the
    // CUDA kernels share) and (n_v_heads, d_state, d_state).
    float* conv(uint32_t layer) { return live_.data() + offset(layer); }
    float* ssm(uint32_t layer) { return conv(layer) + conv_floats_; }
    const float* conv(uint32_t layer) const { return live_.data() + offset(layer); }
    const float* ssm(uint32_t layer) const { return conv(layer) + conv_floats_; }

    // Zeroes the state, the start of a sequence, and drops the checkpoint (of tokens the
    // sequence may no longer start with); a requested checkpoint stays requested.
    void reset();
    // Records that the forward pass has taken in positions up to `position` (exclusive).
    void set_position(uint32_t position) { position_ = position; }

    // Asks for a checkpoint of the state once it has taken in `position` positions (taken at
    // once when it stands there). The forward pass takes it between two tokens of a batch:
    // checkpoint_wanted() tells it where, and take_checkpoint(layer) copies one layer.
    void request_checkpoint(uint32_t position);
    bool checkpoint_wanted(uint32_t position_after_token) const {
        return requested_ && position_after_token == requested_position_;
    }
    void take_checkpoint_conv(uint32_t layer);
    void take_checkpoint_ssm(uint32_t layer, uint32_t head);
    // Called by the forward pass after a batch: the requested checkpoint, if the batch passed
    // its position, becomes the one to rewind to.
    void commit_checkpoint(uint32_t first_position, uint32_t end_position);

    // Rewinds so that the next token can be at `wanted`: stays when already there, else
    // restores the checkpoint when it is at or before `wanted`, else starts over. Returns the
    // position the sequence resumes from (its tokens from there on must be run again).
    uint32_t rewind(uint32_t wanted);

    // Takes another sequence's state (same model) when it stands at `position`; false, and
    // nothing changed, when it does not or the layouts differ.
    bool take_from(const RecurrentState& other, uint32_t position);

    // Speculative decoding: a pass that verifies `n_tokens` tokens of this sequence from where
    // the state stands (its next token and the draft) cannot leave the rejected ones in the
    // state. begin_verify copies the state as it stands and logs, per token and recurrent
    // layer, what the token fed the convolution and the delta rule (log_row); after the pass,
    // DeltaNet::replay_verified restores the copy and runs the kept tokens' logged rows again.
    // The copy and the log are allocated on first use (ModelInfo::recurrent_verify_bytes for
    // the pass's size, the largest pass's kept; bytes() counts them). rewind() and
    // reset() end a verification.
    void begin_verify(uint32_t n_tokens);
    bool verifying() const { return verifying_; }
    uint32_t verify_position() const { return verify_position_; }
    // The floats of one log row (LinearAttentionInfo::verify_log_floats): the convolution's
    // input x (conv_channels), its output after silu and the q/k l2 norms (conv_channels),
    // beta and g (n_v_heads each).
    size_t log_floats() const { return log_floats_; }
    // The log row of recurrent layer `layer` (absolute index) for the token at `pos`; nullptr
    // when no verification logs that position.
    float* log_row(uint32_t layer, uint32_t pos) {
        if (!verifying_ || pos < verify_position_ || pos - verify_position_ >= verify_tokens_) {
            return nullptr;
        }
        return verify_log_.data() +
               (size_t{pos - verify_position_} * n_layers_ + slot_[layer]) * log_floats_;
    }
    // Puts back the state copied by begin_verify (its position included); the log stays.
    void restore_verify_start();
    void end_verify() { verifying_ = false; }

private:
    size_t offset(uint32_t layer) const { return size_t{slot_[layer]} * layer_floats_; }

    uint32_t n_layers_ = 0;      // recurrent layers
    std::vector<uint32_t> slot_; // absolute layer -> its state's slot
    size_t conv_floats_ = 0;     // per layer
    size_t ssm_floats_ = 0;      // per layer
    size_t head_floats_ = 0;     // d_state²
    size_t layer_floats_ = 0;    // conv + ssm
    std::vector<float> live_;    // (n_layers, layer_floats)
    std::vector<float> checkpoint_;
    uint32_t position_ = 0;
    // Speculation (begin_verify): the state at verify_position_, and the log of
    // verify_tokens_ tokens, (n_tokens, n_layers, log_floats).
    size_t log_floats_ = 0;
    std::vector<float> verify_start_;
    std::vector<float> verify_log_;
    bool verifying_ = false;
    uint32_t verify_position_ = 0;
    uint32_t verify_tokens_ = 0;
    bool requested_ = false;
    uint32_t requested_position_ = 0;
    bool has_checkpoint_ = false;
    uint32_t checkpoint_position_ = 0;
};

} // namespace hearth::cpu
