// What kind of OpenAI-compatible server a remote endpoint is, and which of Hearth's sampling
// knobs each kind honours: the table that decides what a request sends and what the sampling
// panel marks as ignored. The facts and their sources are in server_family.cpp.
#pragma once

#include "hearth/sampling.h"

#include <string>
#include <string_view>
#include <vector>

namespace hearth::remote {

enum class ServerFamily {
    unknown,      // answers the OpenAI API, says nothing of itself: only OpenAI's own fields
    hearth,       // hearth-cli serve / the app's server
    llama_server, // llama.cpp's llama-server (llama-cpp-python's server reports itself alike)
    vllm,
    tgi,    // Hugging Face Text Generation Inference, Messages API
    ollama, // Ollama's OpenAI-compatible endpoint (/v1)
};

// "Hearth", "llama.cpp server", "vLLM", "Text Generation Inference", "Ollama", "unknown".
const char* server_family_name(ServerFamily family);

// Which request fields a family takes and acts on. OpenAI's own fields (temperature, top_p,
// max_tokens, stop, seed, presence and frequency penalties) are honoured by every family but
// where marked false here.
struct KnobSupport {
    bool temperature = true;
    bool top_p = true;
    bool top_k = false;
    bool min_p = false;
    bool repeat_penalty = false; // repeat_penalty / repetition_penalty, by the family's name
    bool presence_penalty = true;
    bool frequency_penalty = true;
    bool seed = true;
    bool stop = true;
    bool max_tokens = true;
};

KnobSupport knob_support(ServerFamily family);

// The names of the knobs `family` ignores, in the sampling panel's words ("top-k", "min-p",
// "repetition penalty", ...), for a line such as "vLLM ignores: ...". Empty when it takes all.
std::vector<std::string> ignored_knobs(ServerFamily family);

} // namespace hearth::remote
