// This machine's facts (free RAM, GPUs, CUDA driver and toolkit, cores) and the checklist's
// runtime item: the device and why, threads against cores, partial offload and its cost.
#include "cpu/thread_pool.h"
#include "doctor_internal.h"
#include "hearth/gpu_layers.h"

#include <dlfcn.h>
#include <filesystem>
#include <fmt/format.h>
#include <fstream>
#include <thread>

namespace hearth {
namespace {

bool cuda_driver_loads() {
    void* handle = dlopen("libcuda.so.1", RTLD_LAZY | RTLD_LOCAL);
    if (!handle) {
        return false;
    }
    dlclose(handle);
    return true;
}

// "CUDA 12.4 at /usr/local/cuda" from the toolkit's version.json, or nvcc on the usual path.
std::string find_cuda_toolkit() {
    for (const char* root : {"/usr/local/cuda", "/usr/lib/cuda"}) {
        std::ifstream in(std::filesystem::path(root) / "version.json");
        std::string text, line;
        while (text.size() < 4096 && std::getline(in, line)) { // the version is near the top
            text += line;
        }
        const size_t at = text.find("\"cuda\"");
        const size_t version = at == std::string::npos ? at : text.find("\"version\"", at);
        if (version != std::string::npos) {
            const size_t open = text.find('"', text.find(':', version) + 1);
            const size_t close = open == std::string::npos ? open : text.find('"', open + 1);
            if (close != std::string::npos && close - open < 32) {
                return fmt::format("CUDA {} at {}", text.substr(open + 1, close - open - 1), root);
            }
        }
        if (std::filesystem::exists(std::filesystem::path(root) / "bin" / "nvcc")) {
            return fmt::format("CUDA toolkit at {}", root);
        }
    }
    if (std::filesystem::exists("/usr/bin/nvcc")) {
        return "CUDA toolkit (nvcc in /usr/bin)";
    }
    return {};
}

} // namespace

MachineFacts read_machine_facts() {
    MachineFacts facts;
    facts.host = read_host_memory();
    facts.cuda_built = cuda_backend_available();
    if (auto gpus = list_cuda_devices()) {
        facts.gpus = std::move(*gpus);
    } else {
        facts.gpu_error = gpus.error().message;
    }
    facts.cuda_driver_found = cuda_driver_loads();
    facts.cuda_toolkit = find_cuda_toolkit();
    facts.physical_cores = cpu::default_thread_count();
    facts.logical_cpus = static_cast<int>(std::thread::hardware_concurrency());
    return facts;
}

namespace {

void add_cuda_facts(CheckItem& item, const MachineFacts& machine) {
    item.figures.push_back({"CUDA in this build", machine.cuda_built ? "yes" : "no",
                            machine.cuda_built ? 1.0 : 0.0, ""});
    item.figures.push_back({"CUDA driver", machine.cuda_driver_found ? "found" : "not found",
                            machine.cuda_driver_found ? 1.0 : 0.0, ""});
    item.figures.push_back({"CUDA toolkit",
                            machine.cuda_toolkit.empty() ? "not found" : machine.cuda_toolkit,
                            machine.cuda_toolkit.empty() ? 0.0 : 1.0, ""});
    for (const CudaDeviceInfo& gpu : machine.gpus) {
        item.evidence.push_back(fmt::format("GPU {}: {}, {} free of {}.", gpu.index, gpu.name,
                                            doctor::bytes_text(gpu.free_bytes),
                                            doctor::bytes_text(gpu.total_bytes)));
    }
    if (machine.gpus.empty()) {
        item.evidence.push_back(fmt::format(
            "No usable GPU: {}.", machine.gpu_error.empty() ? "none found" : machine.gpu_error));
    }
}

// Threads against cores: more threads than cores contend, far fewer leave bandwidth unused.
void check_threads(CheckItem& item, const PreflightSettings& settings,
                   const MachineFacts& machine) {
    const int cores = std::max(machine.physical_cores, 1);
    const int threads = settings.n_threads > 0 ? settings.n_threads : cores;
    item.figures.push_back(doctor::count_figure("Threads", threads, "threads"));
    item.figures.push_back(doctor::count_figure("Physical cores", cores, "cores"));
    item.figures.push_back(
        doctor::count_figure("Hardware threads", machine.logical_cpus, "threads"));
    if (threads > cores) {
        item.status = std::max(item.status, CheckStatus::amber);
        item.evidence.push_back(fmt::format(
            "{} threads on {} physical cores: hyper-threads share a core's vector units, and a "
            "thread that waits for a busy core stalls every step.",
            threads, cores));
        item.fixes.push_back({.label = fmt::format("Use {} threads", cores),
                              .effect = "one per physical core",
                              .change = {.threads = cores}});
    } else if (threads * 2 <= cores) {
        item.status = std::max(item.status, CheckStatus::amber);
        item.evidence.push_back(fmt::format("{} threads on {} physical cores: decoding is "
                                            "bound by memory bandwidth, which one core alone "
                                            "does not reach.",
                                            threads, cores));
        item.fixes.push_back({.label = fmt::format("Use {} threads", cores),
                              .effect = "one per physical core",
                              .change = {.threads = cores}});
    } else {
        item.evidence.push_back(fmt::format("{} threads on {} physical cores.", threads, cores));
    }
}

// A partial offload's cost: the share of each token's weight reads that come from host RAM.
void describe_offload(CheckItem& item, const ModelInfo& info, const DeviceChoice& choice,
                      const PreflightSettings& settings, const MachineFacts& machine) {
    if (choice.kind != DeviceKind::cuda || info.layer_weight_bytes.size() != info.n_layer) {
        return;
    }
    const CudaDeviceInfo* gpu = nullptr;
    for (const CudaDeviceInfo& each : machine.gpus) {
        gpu = each.index == choice.cuda_device ? &each : gpu;
    }
    if (!gpu) {
        return;
    }
    OffloadOptions options{.n_ctx = effective_context(info, settings),
                           .n_seq = std::max<uint32_t>(settings.n_seq, 1),
                           .gpu_free_bytes = gpu->free_bytes};
    if (settings.gpu_layers >= 0) {
        options.n_gpu_layers = static_cast<uint32_t>(settings.gpu_layers);
    }
    auto plan = plan_offload(info, options);
    if (!plan || plan->n_gpu_layers >= info.n_layer) {
        return;
    }
    const double cpu_share =
        double(plan->cpu.weights) / double(std::max<uint64_t>(info.weights_bytes, 1));
    item.status = std::max(item.status, CheckStatus::amber);
    item.figures.push_back(doctor::count_figure("Layers on the GPU", plan->n_gpu_layers, "layers"));
    item.evidence.push_back(fmt::format(
        "Partial offload: {}. Each token reads {:.0f}% of the weights from host RAM, at the "
        "CPU's memory bandwidth (a tenth of a GPU's or less), so expect decoding well below the "
        "GPU's speed, roughly in proportion.",
        plan->summary, 100.0 * cpu_share));
}

} // namespace

CheckItem check_runtime(const ModelInfo& info, const PreflightSettings& settings,
                        const MachineFacts& machine) {
    CheckItem item{.id = "runtime", .title = "Runtime"};
    SessionOptions options;
    options.n_ctx = effective_context(info, settings);
    options.kv_type = settings.kv_type;
    options.gpu_layers = settings.gpu_layers;
    Result<std::vector<CudaDeviceInfo>> devices = machine.gpus;
    if (machine.gpus.empty()) {
        devices = fail(ErrorCode::device,
                       machine.gpu_error.empty() ? "no CUDA device" : machine.gpu_error);
    }
    const DeviceChoice choice = choose_device_among(settings.device, info, options, devices);
    item.figures.push_back({"Device", device_label(choice.kind, choice.cuda_device),
                            choice.kind == DeviceKind::cuda ? 1.0 : 0.0, ""});
    item.evidence.push_back("Device: " + choice.reason + ".");
    if (!settings.device.automatic && settings.device.kind == DeviceKind::cuda &&
        (!machine.cuda_built || machine.gpus.empty())) {
        item.status = CheckStatus::red;
        item.evidence.push_back(!machine.cuda_built
                                    ? "CUDA was asked for, but this build has no CUDA backend."
                                    : "CUDA was asked for, but no CUDA device is usable.");
        item.fixes.push_back({.label = "Run on the CPU",
                              .effect = "the model runs, at the CPU's speed",
                              .change = {.device = "cpu"}});
    }
    add_cuda_facts(item, machine);
    check_threads(item, settings, machine);
    describe_offload(item, info, choice, settings, machine);
    item.summary = fmt::format(
        "{}, {} threads on {} cores", device_label(choice.kind, choice.cuda_device),
        settings.n_threads > 0 ? settings.n_threads : std::max(machine.physical_cores, 1),
        std::max(machine.physical_cores, 1));
    return item;
}

} // namespace hearth
