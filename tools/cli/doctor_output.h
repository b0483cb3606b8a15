// hearth-cli doctor's report: what it measured and diagnosed, printed for a person or as JSON,
// and the runs that produce it (the probe reply, the calibration of the stream thresholds).
#pragma once

#include "generation_args.h"
#include "hearth/diagnosis.h"
#include "hearth/memory_probe.h"
#include "hearth/preflight.h"

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

namespace hearth::cli {

// A reply generated with the user's settings, and what the doctor found in it.
struct ProbeReport {
    std::string question;
    std::string reply;
    GenerationStats stats;
    double max_mean_entropy = 0;
    size_t worst_loop_repeats = 0;
    double bandwidth_gbs = 0; // measured host memory bandwidth, 0 when the probe failed
    double roofline_tokens_per_second = 0;
    std::vector<Diagnosis> diagnoses;
};

struct RunReport {
    WarmupMeasurement warmup;
    MemoryTruth memory_truth;
    ProbeReport probe;
};

struct DoctorReport {
    std::string path;
    uint32_t n_ctx = 0;
    Checklist checklist;
    std::vector<ContextCostPoint> context_cost;
    std::optional<RunReport> run;
};

// The probe reply: `prompt` generated on `session` with the user's sampling (traced), watched
// by a TokenStreamMonitor, then every reply diagnosis run on it.
Result<ProbeReport> probe_reply(Session& session, const PromptFormat& format,
                                const std::string& prompt_text, const std::vector<int32_t>& prompt,
                                const GenerationArgs& generation, const PreflightSettings& settings,
                                const ModelInfo& info, const ModelFileFacts& file,
                                const MachineFacts& machine, int32_t max_tokens);

// --calibrate: replies of the model to a fixed set of prompts under healthy, overheated and
// loop-prone sampling, with each reply's peak window entropy and worst n-gram repeat count;
// prints the table and the thresholds that separate them. Returns the exit status.
int run_calibration(const std::string& path, const GenerationArgs& generation);

void print_doctor(const DoctorReport& report);
nlohmann::json doctor_json(const DoctorReport& report);

} // namespace hearth::cli
