// Replays messages fuzz inputs through the fuzz target's entry (messages_fuzz_input.h) and
// prints what each gave, or records it with --write-expected for
// tst_template_fuzz_regressions.
#include "messages_fuzz_input.h"
#include "replay_main.h"

int main(int argc, char** argv) {
    return hearth::fuzz::replay_inputs(argc, argv, hearth::fuzz::run_messages_input);
}
