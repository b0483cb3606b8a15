// The pitfall doctor on the chat's replies: the engine's diagnoses (hearth/diagnosis.h) fed
// from the evidence the worker has when a reply ends — its text and stop reason, the template
// it was prompted with against the model's own, the sampling traces (entropy, repetition
// loops, through a TokenStreamMonitor fed token by token), the turns fit_prompt left out, the
// decode speed — returned with their fixes for the chat to show under the reply.
//
// Engine thread (EngineWorker's): one per worker, reset on each model load.
#pragma once

#include "doctor_api.h"
#include "hearth/model.h"
#include "hearth/prompt.h"

#include <optional>
#include <string>
#include <vector>

class ReplyDoctor {
public:
    // Reads the model file's facts (name, tags, template: whether it is chat-tuned); a file
    // whose facts cannot be read leaves the base-model check out.
    void modelLoaded(const std::string& path, const hearth::Model& model);

    struct Reply {
        const hearth::PromptFormat& format;
        const hearth::GenerationStats& stats;
        const hearth::TokenStreamMonitor& monitor;
        const hearth::SamplingParams& sampling;
        std::string renderedPrompt;
        std::string systemPrompt;
        std::string userMessage;
        size_t droppedMessages = 0;
        size_t droppedTurns = 0;
        uint32_t nCtx = 0;
        int nThreads = 0;
        bool firstRun = false;
        hearth::DeviceKind device = hearth::DeviceKind::cpu;
        uint32_t gpuLayers = 0;
    };
    std::vector<hearth::Diagnosis> diagnose(const hearth::Model& model, const Reply& reply);

private:
    std::optional<hearth::TuningVerdict> m_tuning;
    std::optional<hearth::MachineFacts> m_machine; // read on first use
};
