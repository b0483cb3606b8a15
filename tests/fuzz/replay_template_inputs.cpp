// Replays fuzz inputs through the chat-template fuzz entry and prints what each one gave,
// or with --write-expected records it next to the input as FILE.expected (the outcome that
// tst_template_fuzz_regressions checks). For triaging what scripts/fuzz templates found.
#include "replay_main.h"
#include "template_fuzz_input.h"

int main(int argc, char** argv) {
    return hearth::fuzz::replay_inputs(argc, argv, hearth::fuzz::run_template_input);
}
