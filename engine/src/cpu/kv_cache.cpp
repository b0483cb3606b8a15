// KV cache helpers.
#include "cpu/kv_cache.h"

#include <algorithm>

namespace hearth::cpu {

void KvCache::copy_prefix_from(const KvCache& other, uint32_t n) {
    n = std::min({n, n_ctx_, other.n_ctx_});
    for (uint32_t layer = 0; layer < n_layer_; ++layer) {
        std::copy_n(other.k(layer, 0), size_t{n} * k_width_, k(layer, 0));
        std::copy_n(other.v(layer, 0), size_t{n} * v_width_, v(layer, 0));
    }
}

} // namespace hearth::cpu
