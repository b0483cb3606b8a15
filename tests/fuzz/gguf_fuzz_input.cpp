// One fuzz input through the GGUF reader and the model loader (see gguf_fuzz_input.h).
#include "gguf_fuzz_input.h"

#include "hearth/gguf.h"
#include "hearth/memory_plan.h"
#include "hearth/model.h"
#include "hearth/model_info.h"
#include "hearth/session.h"
#include "hearth/tokenizer.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fmt/format.h>
#include <fstream>
#include <span>
#include <vector>

namespace hearth::fuzz {
namespace {

// Tensors are dequantized (read_tensor_f32) until this many elements in all, to keep one
// input fast; the loader still checks every tensor.
constexpr uint64_t kMaxDequantizedElements = 1u << 22;
// The session of the forward pass: a small context, two tokens.
constexpr uint32_t kSessionContext = 16;
constexpr std::string_view kTokenizerText = "Hello world, h\xc3\xa9llo \xe4\xb8\x96\xe7\x95\x8c "
                                            "<|im_end|><s>\n\t 123";

// The private directory the parts are written to, on tmpfs when there is one; removed at exit.
const std::filesystem::path& work_dir() {
    static const std::filesystem::path dir = [] {
        std::error_code ec;
        const std::filesystem::path base = std::filesystem::is_directory("/dev/shm", ec)
                                               ? std::filesystem::path("/dev/shm")
                                               : std::filesystem::temp_directory_path();
        std::string pattern = (base / "hearth-fuzz-gguf-XXXXXX").string();
        if (!::mkdtemp(pattern.data())) {
            std::perror("hearth fuzz: cannot create a temporary directory");
            std::abort();
        }
        return std::filesystem::path(pattern);
    }();
    static const bool cleanup = [] {
        return std::atexit([] {
                   std::error_code ec;
                   std::filesystem::remove_all(dir, ec);
               }) == 0;
    }();
    (void)cleanup;
    return dir;
}

std::vector<std::string_view> split_parts(std::string_view data) {
    std::vector<std::string_view> parts;
    while (parts.size() + 1 < kMaxGgufParts) {
        const size_t at = data.find(kGgufPartSeparator);
        if (at == std::string_view::npos) {
            break;
        }
        parts.push_back(data.substr(0, at));
        data.remove_prefix(at + kGgufPartSeparator.size());
    }
    parts.push_back(data);
    return parts;
}

// Writes the parts; returns the path to open (the first part), or nullopt when writing failed.
std::optional<std::filesystem::path> write_parts(const std::vector<std::string_view>& parts) {
    const auto n = static_cast<uint32_t>(parts.size());
    auto part_path = [&](uint32_t i) {
        return n == 1 ? work_dir() / "model.gguf" : gguf_split_path(work_dir() / "model", i, n);
    };
    for (uint32_t i = 0; i < n; ++i) {
        std::ofstream out(part_path(i), std::ios::binary | std::ios::trunc);
        out.write(parts[i].data(), static_cast<std::streamsize>(parts[i].size()));
        if (!out) {
            return std::nullopt;
        }
    }
    return part_path(0);
}

void remove_parts() {
    std::error_code ec;
    for (const auto& entry : std::filesystem::directory_iterator(work_dir(), ec)) {
        std::filesystem::remove(entry.path(), ec);
    }
}

std::string describe(const Error& error) {
    std::string message = error.message;
    const std::string dir = work_dir().string();
    for (size_t at = message.find(dir); at != std::string::npos; at = message.find(dir, at)) {
        message.replace(at, dir.size(), "<dir>");
    }
    return fmt::format("error ({}): {}", error_code_name(error.code), message);
}

std::string describe(const GgufHeader& header) {
    return fmt::format("ok, v{}, {} keys, {} tensors, alignment {}, data at {}", header.version,
                       header.metadata.size(), header.tensors.size(), header.alignment,
                       header.data_offset);
}

// The parses of one header disagree: a bug, which the fuzzer must keep like a crash.
[[noreturn]] void inconsistent(const std::string& out, const char* what) {
    std::fprintf(stderr, "%sinconsistent: %s\n", out.c_str(), what);
    std::abort();
}

// The header three ways: whole, without the file size, and a prefix (its first half) as a
// download reads it. Returns the whole file's header when it parses.
std::optional<GgufHeader> run_header(std::span<const uint8_t> bytes, std::string& out) {
    auto whole = parse_gguf_header(bytes, bytes.size());
    out += "header: " + (whole ? describe(*whole) : describe(whole.error())) + "\n";
    auto unsized = parse_gguf_header(bytes);
    out +=
        "header without size: " + (unsized ? describe(*unsized) : describe(unsized.error())) + "\n";
    auto prefix = parse_gguf_header(bytes.first(bytes.size() / 2), bytes.size());
    out += "header prefix: " + (prefix ? describe(*prefix) : describe(prefix.error())) + "\n";
    // A file that parses whole must parse from any prefix or report a truncation, so that
    // a download reading the header piecewise asks for more rather than giving up.
    if (whole && !prefix && !prefix.error().message.starts_with("file truncated")) {
        inconsistent(out, "the prefix failed without saying it is truncated");
    }
    if (whole && (!unsized || unsized->tensors.size() != whole->tensors.size())) {
        inconsistent(out, "the header without the file size differs");
    }
    return whole ? std::optional<GgufHeader>(std::move(*whole)) : std::nullopt;
}

void run_model_info(const GgufHeader& header, uint64_t file_size, std::string& out) {
    auto info = read_model_info(header, file_size);
    if (!info) {
        out += "info: " + describe(info.error()) + "\n";
        return;
    }
    out += fmt::format("info: ok, {}, {} layers, embd {}, heads {}/{}, head size {}/{}, ff {}, "
                       "vocab {}, ctx {}, rot {}, rope base {}, scaling {} x{}, eps {}, window "
                       "{}, params {}, weights {}\n",
                       info->architecture, info->n_layer, info->n_embd, info->n_head,
                       info->n_head_kv, info->head_dim_k, info->head_dim_v, info->n_ff,
                       info->n_vocab, info->n_ctx_train, info->n_rot, info->rope_freq_base,
                       info->rope_scaling.type, info->rope_scaling.factor, info->norm_rms_eps,
                       info->sliding_window, info->n_params, info->weights_bytes);
    const MemoryPlan trained = plan_memory(*info, {});
    const MemoryPlan q8 =
        plan_memory(*info, {.n_ctx = 64, .n_seq = 4, .kv_type = KvCacheType::q8_0});
    out += fmt::format("plan: {} bytes at the trained context, {} at 64 tokens x 4 (Q8_0)\n",
                       trained.total_bytes, q8.total_bytes);
    // A GPU with room for some layers of a small model, and no headroom kept.
    auto offload = plan_offload(*info, {.n_ctx = 64,
                                        .gpu_free_bytes = 512u << 10,
                                        .gpu_headroom_bytes = 0,
                                        .host_available_bytes = 1ull << 30});
    out += "offload: " +
           (offload ? fmt::format("ok, {} of {} layers", offload->n_gpu_layers, offload->n_layer)
                    : describe(offload.error())) +
           "\n";
}

// The vocabulary alone, as `hearth-cli tokenize` reads it, on a fixed text.
void run_tokenizer(const GgufHeader& header, std::string& out) {
    auto tokenizer = Tokenizer::from_gguf(header);
    if (!tokenizer) {
        out += "tokenizer: " + describe(tokenizer.error()) + "\n";
        return;
    }
    auto tokens = tokenizer->encode(kTokenizerText);
    if (!tokens) {
        out += "tokens: " + describe(tokens.error()) + "\n";
        return;
    }
    out += fmt::format("tokens: {}, decoded to {} bytes\n", fmt::join(*tokens, " "),
                       tokenizer->decode(*tokens).size());
}

void run_file(const std::filesystem::path& path, std::string& out) {
    auto file = GgufFile::open(path);
    if (!file) {
        out += "open: " + describe(file.error()) + "\n";
        return;
    }
    out += fmt::format("open: ok, {} parts, {} tensors, {} bytes\n", file->parts().size(),
                       file->tensors().size(), file->file_size());
    uint64_t budget = kMaxDequantizedElements;
    size_t n_read = 0;
    size_t n_failed = 0;
    for (const GgufTensorInfo& tensor : file->tensors()) {
        if (tensor.n_elements > budget) {
            continue;
        }
        budget -= tensor.n_elements;
        auto values = file->read_tensor_f32(tensor);
        (values && values->size() == tensor.n_elements ? n_read : n_failed) += 1;
    }
    out += fmt::format("tensors: {} dequantized, {} not\n", n_read, n_failed);
}

void run_model(const std::filesystem::path& path, std::string& out) {
    auto model = Model::load(path, {.n_threads = 1, .on_progress = {}});
    if (!model) {
        out += "load: " + describe(model.error()) + "\n";
        return;
    }
    const Tokenizer& tokenizer = (*model)->tokenizer();
    out += fmt::format("load: ok, vocab {}\n", tokenizer.n_vocab());
    const ModelInfo& info = (*model)->info();
    auto session = Session::create(
        *model, {.n_ctx = std::min(kSessionContext, info.n_ctx_train), .n_batch = 16});
    if (!session) {
        out += "session: " + describe(session.error()) + "\n";
        return;
    }
    const int32_t last = tokenizer.n_vocab() - 1;
    const std::vector<int32_t> prompt = {0, std::max(last, 0)};
    auto logits = session->append(prompt);
    out += "forward: " +
           (logits ? fmt::format("ok, {} logits", logits->size()) : describe(logits.error())) +
           "\n";
}

} // namespace

std::string run_gguf_input(std::string_view data) {
    const std::vector<std::string_view> parts = split_parts(data);
    std::string out = fmt::format("parts: {}\n", parts.size());
    const std::span<const uint8_t> first(reinterpret_cast<const uint8_t*>(parts.front().data()),
                                         parts.front().size());
    if (auto header = run_header(first, out)) {
        run_model_info(*header, first.size(), out);
        run_tokenizer(*header, out);
    }
    auto path = write_parts(parts);
    if (!path) {
        remove_parts();
        return out + "cannot write the parts\n";
    }
    run_file(*path, out);
    run_model(*path, out);
    remove_parts();
    return out;
}

} // namespace hearth::fuzz
