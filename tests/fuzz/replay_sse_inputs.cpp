// Replays SSE stream fuzz inputs through the fuzz target's entry (sse_fuzz_input.h) and prints
// what each gave, or records it with --write-expected for tst_remote_protocol.
#include "replay_main.h"
#include "sse_fuzz_input.h"

int main(int argc, char** argv) {
    return hearth::fuzz::replay_inputs(argc, argv, hearth::fuzz::run_sse_input);
}
