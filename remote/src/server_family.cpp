// The sampling knobs each server family honours on its OpenAI-compatible endpoints, and where
// each fact comes from:
// - Hearth: server/src/openai_request.cpp reads every knob (repeat_penalty, also as vLLM's
//   repetition_penalty; top_k; min_p).
// - llama.cpp's llama-server: tools/server/README.md, "POST /v1/chat/completions": all of
//   /completion's options are accepted (top_k, min_p, repeat_penalty, seed, ...).
// - vLLM: vllm/entrypoints/openai/protocol.py, ChatCompletionRequest's "extra sampling params"
//   (top_k, min_p, repetition_penalty) beside OpenAI's.
// - TGI, Messages API: router/src/lib.rs, ChatRequest::try_into_generate takes temperature,
//   top_p, seed, stop, max_tokens and frequency_penalty; presence_penalty becomes
//   repetition_penalty = presence_penalty + 2 (so OpenAI's meaning is not honoured, and sending
//   0 would set a strong penalty); no top_k or min_p.
// - Ollama: openai/openai.go, ChatCompletionRequest: temperature, top_p, seed, stop,
//   max_tokens, frequency_penalty, presence_penalty; no top_k, min_p or repeat_penalty (those
//   are Ollama's native /api/chat options only).
// - unknown: OpenAI's own fields only (OpenAI's API refuses fields it does not know).
#include "hearth/remote/server_family.h"

namespace hearth::remote {

const char* server_family_name(ServerFamily family) {
    switch (family) {
    case ServerFamily::hearth:
        return "Hearth";
    case ServerFamily::llama_server:
        return "llama.cpp server";
    case ServerFamily::vllm:
        return "vLLM";
    case ServerFamily::tgi:
        return "Text Generation Inference";
    case ServerFamily::ollama:
        return "Ollama";
    case ServerFamily::unknown:
        break;
    }
    return "unknown";
}

KnobSupport knob_support(ServerFamily family) {
    KnobSupport knobs;
    switch (family) {
    case ServerFamily::hearth:
    case ServerFamily::llama_server:
    case ServerFamily::vllm:
        knobs.top_k = knobs.min_p = knobs.repeat_penalty = true;
        break;
    case ServerFamily::tgi:
        knobs.presence_penalty = false;
        break;
    case ServerFamily::ollama:
    case ServerFamily::unknown:
        break;
    }
    return knobs;
}

std::vector<std::string> ignored_knobs(ServerFamily family) {
    const KnobSupport k = knob_support(family);
    std::vector<std::string> ignored;
    const std::pair<bool, const char*> knobs[] = {
        {k.temperature, "temperature"},
        {k.top_p, "top-p"},
        {k.top_k, "top-k"},
        {k.min_p, "min-p"},
        {k.repeat_penalty, "repetition penalty"},
        {k.presence_penalty, "presence penalty"},
        {k.frequency_penalty, "frequency penalty"},
        {k.seed, "seed"},
        {k.stop, "stop strings"},
        {k.max_tokens, "max tokens"},
    };
    for (const auto& [honoured, name] : knobs) {
        if (!honoured) {
            ignored.emplace_back(name);
        }
    }
    return ignored;
}

} // namespace hearth::remote
