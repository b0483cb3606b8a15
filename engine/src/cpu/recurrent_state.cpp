// A sequence's recurrent state: storage, reset, the checkpoint it rewinds to, copies, and the
// copy and log a speculative verification pass rewinds with.
#include "cpu/recurrent_state.h"

#include <algorithm>
#include <cstring>

namespace hearth::cpu {

RecurrentState::RecurrentState(const ModelInfo& info) {
    const LinearAttentionInfo& la = info.linear_attention;
    slot_.assign(info.n_layer, 0);
    for (uint32_t il = 0; il < info.n_layer; ++il) {
        if (info.is_recurrent(il)) {
            slot_[il] = n_layers_++;
        }
    }
    if (n_layers_ == 0) {
        slot_.clear();
        return;
    }
    conv_floats_ = la.conv_state_floats();
    head_floats_ = size_t{la.d_state} * la.d_state;
    ssm_floats_ = la.ssm_state_floats();
    layer_floats_ = conv_floats_ + ssm_floats_;
    log_floats_ = la.verify_log_floats();
    live_.assign(size_t{n_layers_} * layer_floats_, 0.0f);
    checkpoint_.assign(live_.size(), 0.0f);
}

void RecurrentState::reset() {
    std::ranges::fill(live_, 0.0f);
    verifying_ = false;
    position_ = 0;
    has_checkpoint_ = false; // it was of tokens this sequence may no longer start with
}

void RecurrentState::request_checkpoint(uint32_t position) {
    if (empty()) {
        return;
    }
    if (position == position_) {
        checkpoint_ = live_;
        has_checkpoint_ = true;
        checkpoint_position_ = position;
        requested_ = false;
        return;
    }
    requested_ = position > position_;
    requested_position_ = position;
}

void RecurrentState::take_checkpoint_conv(uint32_t layer) {
    std::memcpy(checkpoint_.data() + offset(layer), conv(layer), conv_floats_ * sizeof(float));
}

void RecurrentState::take_checkpoint_ssm(uint32_t layer, uint32_t head) {
    const size_t at = offset(layer) + conv_floats_ + size_t{head} * head_floats_;
    std::memcpy(checkpoint_.data() + at, live_.data() + at, head_floats_ * sizeof(float));
}

void RecurrentState::commit_checkpoint(uint32_t first_position, uint32_t end_position) {
    if (requested_ && requested_position_ > first_position && requested_position_ <= end_position) {
        has_checkpoint_ = true;
        checkpoint_position_ = requested_position_;
        requested_ = false;
    }
}

uint32_t RecurrentState::rewind(uint32_t wanted) {
    verifying_ = false;
    if (empty() || wanted == position_) {
        return wanted;
    }
    if (has_checkpoint_ && checkpoint_position_ <= wanted) {
        live_ = checkpoint_;
        position_ = checkpoint_position_;
        return position_;
    }
    reset();
    return 0;
}

bool RecurrentState::take_from(const RecurrentState& other, uint32_t position) {
    if (other.position_ != position || other.slot_ != slot_ ||
        other.layer_floats_ != layer_floats_) {
        return false;
    }
    live_ = other.live_;
    position_ = position;
    has_checkpoint_ = false;
    verifying_ = false;
    return true;
}

void RecurrentState::begin_verify(uint32_t n_tokens) {
    if (empty()) {
        return;
    }
    verify_start_ = live_; // the same size each time: no allocation after the first
    const size_t log_size = size_t{n_tokens} * n_layers_ * log_floats_;
    if (verify_log_.size() < log_size) {
        verify_log_.resize(log_size);
    }
    verifying_ = true;
    verify_position_ = position_;
    verify_tokens_ = n_tokens;
}

void RecurrentState::restore_verify_start() {
    std::ranges::copy(verify_start_, live_.begin());
    position_ = verify_position_;
}

} // namespace hearth::cpu
