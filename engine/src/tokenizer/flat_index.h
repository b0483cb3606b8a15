// Flat hash tables for the tokenizer: token ids by text, and BPE merges by token pair. Private
// to engine/src/tokenizer.
#pragma once

#include <algorithm>
#include <bit>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace hearth {

// Token ids by their text, over strings held elsewhere (a vector the tokenizer owns, indexed by
// id): open addressing in one array of ids, without a copy of the strings nor a node per entry.
// The node-based map it replaces took a heap allocation per token and most of the load time of
// a small model; lookups take a string_view, so a caller builds no std::string to search.
class TextIndex {
public:
    // Indexes strings[i] -> i for every i where keep(i), in order (the first of equal texts
    // wins, as std::unordered_map::emplace kept it). `strings` must outlive the index, in place
    // and unchanged.
    template <class Keep>
    void build(const std::vector<std::string>& strings, const Keep& keep) {
        strings_ = &strings;
        count_ = 0;
        slots_.assign(capacity_for(strings.size()), kEmpty);
        for (size_t i = 0; i < strings.size(); ++i) {
            if (keep(i)) {
                place(static_cast<int32_t>(i));
            }
        }
    }
    void build(const std::vector<std::string>& strings) {
        build(strings, [](size_t) { return true; });
    }
    std::optional<int32_t> find(std::string_view text) const {
        if (slots_.empty()) {
            return std::nullopt;
        }
        const size_t mask = slots_.size() - 1;
        for (size_t at = hash(text) & mask;; at = (at + 1) & mask) {
            const int32_t id = slots_[at];
            if (id == kEmpty) {
                return std::nullopt;
            }
            if ((*strings_)[static_cast<size_t>(id)] == text) {
                return id;
            }
        }
    }
    bool contains(std::string_view text) const { return find(text).has_value(); }
    bool empty() const { return count_ == 0; }
    void clear() {
        slots_.clear();
        count_ = 0;
    }

private:
    static constexpr int32_t kEmpty = -1;

    static size_t hash(std::string_view text) { return std::hash<std::string_view>{}(text); }
    // A power of two at least twice the entries: probes stay short.
    static size_t capacity_for(size_t n) { return std::bit_ceil(std::max<size_t>(16, n * 2)); }

    void place(int32_t id) {
        const std::string& text = (*strings_)[static_cast<size_t>(id)];
        const size_t mask = slots_.size() - 1;
        for (size_t at = hash(text) & mask;; at = (at + 1) & mask) {
            if (slots_[at] == kEmpty) {
                slots_[at] = id;
                ++count_;
                return;
            }
            if ((*strings_)[static_cast<size_t>(slots_[at])] == text) {
                return; // the first id of this text stays
            }
        }
    }
    const std::vector<std::string>* strings_ = nullptr;
    std::vector<int32_t> slots_;
    size_t count_ = 0;
};

// BPE merges by the pair of token ids they join: (left id << 32 | right id) -> rank and result,
// open addressing in one array, sized once for the merges a vocabulary lists.
class MergeTable {
public:
    struct Merge {
        int32_t rank;
        int32_t result;
    };

    void reserve(size_t n) {
        entries_.assign(std::bit_ceil(std::max<size_t>(16, n * 2)), Entry{});
        count_ = 0;
    }
    // Adds a merge unless the pair has one (the first listed, lowest rank, stays).
    void add(uint64_t pair, Merge merge) {
        if ((count_ + 1) * 2 > entries_.size()) {
            grow();
        }
        const size_t mask = entries_.size() - 1;
        for (size_t at = hash(pair) & mask;; at = (at + 1) & mask) {
            Entry& entry = entries_[at];
            if (entry.merge.rank < 0) {
                entry = {pair, merge};
                ++count_;
                return;
            }
            if (entry.pair == pair) {
                return;
            }
        }
    }
    const Merge* find(uint64_t pair) const {
        if (entries_.empty()) {
            return nullptr;
        }
        const size_t mask = entries_.size() - 1;
        for (size_t at = hash(pair) & mask;; at = (at + 1) & mask) {
            const Entry& entry = entries_[at];
            if (entry.merge.rank < 0) {
                return nullptr;
            }
            if (entry.pair == pair) {
                return &entry.merge;
            }
        }
    }
    size_t size() const { return count_; }

private:
    struct Entry {
        uint64_t pair = 0;
        Merge merge{-1, -1}; // rank -1: an empty slot (ranks count from 0)
    };
    // Fibonacci hashing: ids are small and dense, their high bits would collide.
    static size_t hash(uint64_t pair) {
        return static_cast<size_t>((pair * 0x9E3779B97F4A7C15ull) >> 20);
    }
    void grow() {
        std::vector<Entry> old = std::move(entries_);
        reserve(std::max<size_t>(count_ + 1, old.size()));
        for (const Entry& entry : old) {
            if (entry.merge.rank >= 0) {
                add(entry.pair, entry.merge);
            }
        }
    }

    std::vector<Entry> entries_;
    size_t count_ = 0;
};

} // namespace hearth
