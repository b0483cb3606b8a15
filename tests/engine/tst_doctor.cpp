// The pre-flight checklist and the pitfall doctor on real files: the default model (fits,
// chat-tuned, its own template), a base-model copy of it (no template, a base name), the
// default model prompted with llama-2's template (the mismatch fires on its real reply), a
// memory budget it does not fit (red, the fixes computed and re-planned), the token-stream
// monitors on real traces, and each diagnosis's negative case.
#include "gguf_builder.h"
#include "hearth/diagnosis.h"
#include "hearth/memory_probe.h"
#include "hearth/preflight.h"
#include "hearth/prompt.h"
#include "test_support.h"

#include <QTemporaryDir>
#include <QtTest>

using namespace hearth;

namespace {

constexpr uint64_t kMiB = 1ull << 20;

struct Opened {
    GgufFile file;
    ModelInfo info;
    ModelFileFacts facts;
};

std::optional<Opened> open_model(const std::filesystem::path& path) {
    auto file = GgufFile::open(path);
    if (!file) {
        return std::nullopt;
    }
    auto info = read_model_info(file->header(), file->file_size());
    auto facts = read_model_file_facts(*file);
    if (!info || !facts) {
        return std::nullopt;
    }
    return Opened{std::move(*file), std::move(*info), std::move(*facts)};
}

// This machine as a test states it: no GPU, a budget given per test.
MachineFacts cpu_machine() {
    MachineFacts machine;
    machine.host = HostMemory{64ull << 30, 32ull << 30};
    machine.gpu_error = "no CUDA device";
    machine.physical_cores = 4;
    machine.logical_cpus = 8;
    return machine;
}

const CheckItem& item(const Checklist& checklist, const char* id) {
    for (const CheckItem& each : checklist.items) {
        if (each.id == id) {
            return each;
        }
    }
    static const CheckItem none;
    return none;
}

bool any_contains(const std::vector<std::string>& lines, const char* needle) {
    return std::any_of(lines.begin(), lines.end(),
                       [&](const std::string& line) { return line.find(needle) != line.npos; });
}

std::vector<QuantSibling> catalog_siblings_of(const std::string& file_name) {
    const std::string catalog = test::read_text(test::source_dir() / "resources" / "catalog.json");
    auto siblings = catalog_quant_siblings(catalog, file_name);
    return siblings ? *siblings : std::vector<QuantSibling>{};
}

// A reply of `model` to `question` rendered with template `name`, with its evidence.
struct Reply {
    GenerationStats stats;
    ReplyEvidence evidence;
    TokenStreamMonitor monitor;
};

std::optional<Reply> reply_of(const std::shared_ptr<const Model>& model, const char* name,
                              std::vector<ChatMessage> messages, SamplingParams sampling,
                              int32_t max_tokens) {
    auto format = resolve_prompt_format(*model, name);
    if (!format) {
        return std::nullopt;
    }
    auto text = render_prompt(*format, messages, true);
    auto tokens = text ? tokenize_prompt(model->tokenizer(), *text)
                       : Result<std::vector<int32_t>>(std::unexpected(text.error()));
    auto session = Session::create(model, {.n_ctx = 1024});
    if (!tokens || !session) {
        return std::nullopt;
    }
    sampling.trace = true;
    Reply reply{.stats = {}, .evidence = {}, .monitor = TokenStreamMonitor()};
    auto stats = session->generate(*tokens, sampling,
                                   {.max_tokens = max_tokens, .stop_strings = format->stop_strings},
                                   [&](const TokenEvent& event) {
                                       reply.monitor.observe(event.token, event.trace);
                                       return true;
                                   });
    if (!stats) {
        return std::nullopt;
    }
    reply.stats = *stats;
    std::vector<std::string> missing;
    for (const TemplateWarning& warning : format->warnings) {
        if (warning.kind == TemplateWarningKind::missing_special_tokens) {
            missing = warning.tokens;
        }
    }
    reply.evidence = {.text = stats->text,
                      .stop = stats->stop,
                      .n_generated = stats->n_generated,
                      .template_name = format->choice.name,
                      .template_source = format->choice.source,
                      .model_template_name = "model",
                      .template_tokens_missing = missing,
                      .chat_prompt = format->choice.origin != TemplateOrigin::raw};
    return reply;
}

} // namespace

class TestDoctor : public QObject {
    Q_OBJECT

private slots:
    // First: freed memory of the others would be reused and hide the growth.
    void memoryTruthOnDefaultModel();
    void defaultModelChecklist();
    void baseModelCopy();
    void templateMismatchOnRealReply();
    void tooBigForBudget();
    void smallerQuantizationFix();
    void streamMonitorsOnRealTraces();
    void diagnosesFireAndStayQuiet();
    void samplingCheck();
    void hostileInputs();
};

void TestDoctor::defaultModelChecklist() {
    HEARTH_REQUIRE_DEFAULT_MODEL(path);
    auto model = open_model(path);
    QVERIFY(model);
    PreflightSettings settings;
    settings.memory_budget_bytes = 16ull << 30;
    const Checklist checklist = run_preflight(model->info, model->facts, settings, cpu_machine(),
                                              catalog_siblings_of(path.filename().string()));
    QCOMPARE(checklist.items.size(), size_t{4});
    const CheckItem& memory = item(checklist, "memory");
    QCOMPARE(memory.status, CheckStatus::green);
    QVERIFY(memory.fixes.empty());
    // 2 × 30 layers × 3 KV heads × 64 × 2 bytes = 22.5 KiB a token, against a 7B's 0.5 MiB
    const RuleOfThumb rule = rule_of_thumb(model->info, KvCacheType::f16);
    QCOMPARE(rule.kv_bytes_per_token, 23040.0);
    QVERIFY(any_contains(rule.reasons, "grouped-query attention: 3 KV heads serve 9"));
    QVERIFY(any_contains(memory.evidence, "0.0439×"));
    const CheckItem& format = item(checklist, "format");
    QCOMPARE(format.status, CheckStatus::green);
    QVERIFY(format.summary.starts_with("chat-tuned model, model template"));
    QVERIFY(any_contains(format.evidence, "It carries a chat template"));
    QVERIFY(any_contains(format.evidence, "appears in the prompt")); // ChatML shows a system
    QCOMPARE(item(checklist, "sampling").status, CheckStatus::green);
    QCOMPARE(item(checklist, "runtime").status, CheckStatus::green);
    QCOMPARE(checklist.overall(), CheckStatus::green);
    const auto json = checklist_json(checklist);
    QCOMPARE(json["overall"].get<std::string>(), std::string("green"));
    QCOMPARE(json["items"][0]["id"].get<std::string>(), std::string("memory"));

    // The context's cost: 22.5 KiB a token at 2K, 8K, 32K and 128K tokens.
    const auto cost = context_cost(model->info, KvCacheType::f16);
    QCOMPARE(cost.size(), size_t{4});
    QCOMPARE(cost[0].kv_bytes, uint64_t{2048} * 23040);
    QCOMPARE(cost[3].kv_bytes, uint64_t{131072} * 23040);
    QVERIFY(!cost[1].beyond_trained && cost[2].beyond_trained);
}

void TestDoctor::baseModelCopy() {
    HEARTH_REQUIRE_DEFAULT_MODEL(path);
    auto file = GgufFile::open(path);
    QVERIFY(file);
    // The default model made to look like a base model: no chat template, a base name.
    std::vector<GgufKeyValue> metadata = file->metadata();
    test::erase_key(metadata, "tokenizer.chat_template");
    test::erase_key(metadata, "general.finetune");
    test::set_key(metadata, "general.name", {GgufType::string, std::string("SmolLM2 135M")});
    QTemporaryDir dir;
    const auto base_path = std::filesystem::path(dir.path().toStdString()) / "SmolLM2-135M.gguf";
    test::write_file(base_path, test::serialize_gguf(metadata, test::tensor_records(*file)));
    auto base = open_model(base_path);
    QVERIFY(base);
    const TuningVerdict verdict = classify_model_tuning(base->info, base->facts);
    QCOMPARE(verdict.tuning, ModelTuning::base);
    QVERIFY(any_contains(verdict.evidence, "no chat template"));

    const CheckItem format = check_format(base->info, base->facts, {});
    QCOMPARE(format.status, CheckStatus::amber);
    QVERIFY(format.summary.starts_with("base model, chatml template"));
    QVERIFY(std::any_of(format.fixes.begin(), format.fixes.end(),
                        [](const Fix& fix) { return fix.change.template_name == "raw"; }));

    // Its real reply to a chat prompt: the base-model diagnosis fires; on the default model it
    // does not.
    auto model = Model::load(base_path);
    QVERIFY(model);
    SamplingParams greedy;
    greedy.temperature = 0;
    auto reply = reply_of(*model, "chatml", {{"user", "Tell me about cats."}}, greedy, 48);
    QVERIFY(reply);
    const auto diagnosis = diagnose_base_model_chat(verdict, reply->evidence);
    QVERIFY(diagnosis);
    QCOMPARE(diagnosis->fixes.at(0).change.template_name, std::optional<std::string>("raw"));
    auto chat = open_model(path);
    QVERIFY(chat);
    QVERIFY(
        !diagnose_base_model_chat(classify_model_tuning(chat->info, chat->facts), reply->evidence));
    // Raw text is what a base model wants: nothing to diagnose.
    ReplyEvidence raw = reply->evidence;
    raw.chat_prompt = false;
    QVERIFY(!diagnose_base_model_chat(verdict, raw));
}

void TestDoctor::templateMismatchOnRealReply() {
    HEARTH_REQUIRE_DEFAULT_MODEL(path);
    auto model = Model::load(path);
    QVERIFY(model);
    SamplingParams greedy;
    greedy.temperature = 0;
    // llama-2's [INST] markup on a ChatML model: greedy, it ends its turn at once.
    auto wrong =
        reply_of(*model, "llama2", {{"user", "What is the capital of France?"}}, greedy, 64);
    QVERIFY(wrong);
    QVERIFY(!wrong->evidence.template_tokens_missing.empty());
    const auto mismatch = diagnose_template_mismatch(wrong->evidence);
    QVERIFY2(mismatch, wrong->evidence.text.c_str());
    QCOMPARE(mismatch->kind, DiagnosisKind::template_mismatch);
    QVERIFY(any_contains(mismatch->evidence, "[INST]"));
    QCOMPARE(mismatch->fixes.at(0).change.template_name, std::optional<std::string>("model"));
    // Sampled, with a system prompt: the end-of-turn never comes.
    SamplingParams sampled;
    sampled.seed = 2;
    auto runaway =
        reply_of(*model, "llama2",
                 {{"system", "You are a helpful assistant."}, {"user", "Tell me about cats."}},
                 sampled, 100);
    QVERIFY(runaway);
    QVERIFY2(diagnose_template_mismatch(runaway->evidence), runaway->evidence.text.c_str());

    // Its own template: a healthy reply, no diagnosis.
    auto right = reply_of(*model, "", {{"user", "What is the capital of France?"}}, greedy, 64);
    QVERIFY(right);
    QVERIFY2(right->evidence.text.find("Paris") != std::string::npos, right->evidence.text.c_str());
    QVERIFY(!diagnose_template_mismatch(right->evidence));
    QVERIFY(find_template_markers(right->evidence.text).empty());
    QCOMPARE(find_template_markers("ok [INST] then <|im_start|>"),
             (std::vector<std::string>{"[INST]", "<|im_start|>"}));
}

void TestDoctor::tooBigForBudget() {
    HEARTH_REQUIRE_DEFAULT_MODEL(path);
    auto model = open_model(path);
    QVERIFY(model);
    PreflightSettings settings;
    settings.n_ctx = 8192;
    settings.memory_budget_bytes = 150 * kMiB; // the plan needs 283.8 MiB
    const CheckItem memory = check_memory(model->info, settings, cpu_machine(), {});
    QCOMPARE(memory.status, CheckStatus::red);
    QVERIFY(memory.summary.starts_with("Will not fit"));
    QVERIFY(memory.fixes.size() >= 2);
    // The largest context that fits, verified by planning it and one token more.
    const Fix& context = memory.fixes.at(0);
    QVERIFY(context.change.context);
    const uint32_t n_ctx = *context.change.context;
    MemoryPlanOptions options{.n_ctx = n_ctx};
    QVERIFY(plan_memory(model->info, options).total_bytes <= 150 * kMiB);
    options.n_ctx = n_ctx + 1;
    QVERIFY(plan_memory(model->info, options).total_bytes > 150 * kMiB);
    QVERIFY(n_ctx > 1024 && n_ctx < 8192);
    QCOMPARE(context.needed_bytes, plan_memory(model->info, {.n_ctx = n_ctx}).total_bytes);
    // A Q8_0 cache at a context that fits, also planned.
    const auto q8 = std::find_if(memory.fixes.begin(), memory.fixes.end(), [](const Fix& fix) {
        return fix.change.kv_type == KvCacheType::q8_0;
    });
    QVERIFY(q8 != memory.fixes.end());
    QVERIFY(q8->needed_bytes <= 150 * kMiB);
    QVERIFY(q8->change.context.value_or(8192) > n_ctx); // half the bytes: more tokens
    const auto json = settings_change_json(context.change);
    QCOMPARE(json.dump(), "{\"context\":" + std::to_string(n_ctx) + "}");

    // The out-of-memory diagnosis names the part that grew: the KV cache.
    const MemoryPlan fitted = plan_memory(model->info, {.n_ctx = 2048});
    const MemoryPlan needed = plan_memory(model->info, {.n_ctx = 8192});
    const auto oom = diagnose_out_of_memory(model->info, {fitted, needed, 150 * kMiB}, settings,
                                            cpu_machine(), {});
    QVERIFY(oom);
    QVERIFY(any_contains(oom->evidence, "the KV cache grew most"));
    QVERIFY(!oom->fixes.empty());
    QVERIFY(!diagnose_out_of_memory(model->info, {fitted, fitted, 150 * kMiB}, settings,
                                    cpu_machine(), {}));
}

void TestDoctor::smallerQuantizationFix() {
    HEARTH_REQUIRE_DEFAULT_MODEL(path);
    auto model = open_model(path);
    QVERIFY(model);
    const auto siblings = catalog_siblings_of("SmolLM2-135M-Instruct.Q4_1.gguf");
    QCOMPARE(siblings.size(), size_t{3}); // Q4_K_M, Q8_0, F16
    PreflightSettings settings;
    settings.n_ctx = 512;
    const MemoryPlan plan = plan_memory(model->info, {.n_ctx = 512});
    // A budget 1 MiB short: Q4_K_M (4.89 bits a weight against Q4_1's 5.0) saves 1.8 MiB.
    settings.memory_budget_bytes = plan.total_bytes - kMiB;
    const CheckItem memory = check_memory(model->info, settings, cpu_machine(), siblings);
    QCOMPARE(memory.status, CheckStatus::red);
    const auto smaller = std::find_if(memory.fixes.begin(), memory.fixes.end(),
                                      [](const Fix& fix) { return fix.change.model.has_value(); });
    QVERIFY(smaller != memory.fixes.end());
    QCOMPARE(*smaller->change.model, std::string("SmolLM2-135M-Instruct-Q4_K_M.gguf"));
    const uint64_t weights = uint64_t(double(model->info.weights_bytes) * 4.89 / 5.0);
    QCOMPARE(smaller->needed_bytes, plan.total_bytes - plan.weights_bytes + weights);
    QCOMPARE(quantization_bits_per_weight("q4_k_m"), std::optional<double>(4.89));
    QVERIFY(!quantization_bits_per_weight("Q9_Z"));
}

void TestDoctor::streamMonitorsOnRealTraces() {
    HEARTH_REQUIRE_DEFAULT_MODEL(path);
    auto model = Model::load(path);
    QVERIFY(model);
    SamplingParams usual;
    auto healthy = reply_of(*model, "", {{"user", "Write a short poem about the sea."}}, usual, 96);
    QVERIFY(healthy);
    QVERIFY2(healthy->monitor.diagnose(&(*model)->tokenizer(), usual).empty(),
             healthy->evidence.text.c_str());

    SamplingParams hot;
    hot.temperature = 2.5f;
    hot.top_k = 0;
    hot.top_p = 1.0f;
    auto noisy = reply_of(*model, "", {{"user", "Write a short poem about the sea."}}, hot, 64);
    QVERIFY(noisy);
    const auto noise = noisy->monitor.diagnose(&(*model)->tokenizer(), hot);
    QVERIFY2(std::any_of(noise.begin(), noise.end(),
                         [](const Diagnosis& d) { return d.kind == DiagnosisKind::high_entropy; }),
             noisy->evidence.text.c_str());
    QVERIFY(noisy->monitor.max_mean_entropy() > default_stream_thresholds().high_entropy_nats);

    SamplingParams loop_prone;
    loop_prone.temperature = 0;
    loop_prone.repeat_penalty = 1.0f;
    auto looping =
        reply_of(*model, "", {{"user", "What is the capital of France?"}}, loop_prone, 128);
    QVERIFY(looping);
    const auto loops = looping->monitor.diagnose(&(*model)->tokenizer(), loop_prone);
    QVERIFY2(std::any_of(loops.begin(), loops.end(),
                         [](const Diagnosis& d) {
                             return d.kind == DiagnosisKind::repetition_loop && !d.fixes.empty();
                         }),
             looping->evidence.text.c_str());
}

void TestDoctor::memoryTruthOnDefaultModel() {
    HEARTH_REQUIRE_DEFAULT_MODEL(path);
    const auto before = read_resident_bytes();
    QVERIFY(before);
    auto model = Model::load(path);
    QVERIFY(model);
    const uint64_t after_load = read_resident_bytes().value_or(0);
    auto session = Session::create(*model, {.n_ctx = 2048});
    QVERIFY(session);
    // The KV cache is zero pages until written (cpu/memory_pages.h): a prompt that fills the
    // context makes all of it resident, so the plan's KV bytes can be held against the growth.
    std::vector<int32_t> prompt(2040);
    for (size_t i = 0; i < prompt.size(); ++i) {
        prompt[i] = int32_t(1 + i % 1000);
    }
    QVERIFY(session->append(prompt));
    const MemoryTruth truth =
        compare_memory(plan_memory((*model)->info(), {.n_ctx = 2048}), *before, after_load,
                       read_resident_bytes().value_or(0));
    // docs/DOCTOR.md, "Memory truth": the session's growth is its KV cache, resident as far
    // as it is written (here all of it), plus as much of the scratch as the prompt writes; the
    // load's is the weights plus the file's header and the tokenizer's tables (about 20 MiB on this
    // model's 49,152-token vocabulary), which the plan leaves out.
    const MemoryPlan plan = plan_memory((*model)->info(), {.n_ctx = 2048});
    QVERIFY2(truth.measured_session_bytes() >= plan.kv_bytes * 95 / 100 &&
                 truth.measured_session_bytes() <= truth.predicted_session_bytes * 110 / 100,
             truth.explanation.c_str());
    QVERIFY2(truth.measured_load_bytes() >= plan.weights_bytes * 95 / 100 &&
                 truth.measured_load_bytes() <= plan.weights_bytes + 32 * kMiB,
             truth.explanation.c_str());
    QVERIFY2(std::abs(truth.difference()) < 0.20, truth.explanation.c_str());
    QVERIFY(truth.explanation.find("the load grew") != std::string::npos);
}

void TestDoctor::diagnosesFireAndStayQuiet() {
    HEARTH_REQUIRE_DEFAULT_MODEL(path);
    auto model = Model::load(path);
    QVERIFY(model);
    const Tokenizer& tokenizer = (*model)->tokenizer();
    // Temperature.
    SamplingParams hot;
    hot.temperature = 2.0f;
    QVERIFY(diagnose_temperature(hot));
    QVERIFY(!diagnose_temperature(SamplingParams{}));
    // Tokenizer round trip: plain text survives; invalid UTF-8 does not.
    QVERIFY(!diagnose_tokenizer_round_trip(tokenizer, "What is the capital of France?"));
    const auto broken = diagnose_tokenizer_round_trip(tokenizer, "caf\xc3 au lait \xff");
    QVERIFY(broken);
    QVERIFY(!broken->evidence.empty());
    // Refusals: the restrictive system prompt is named; a healthy reply stays quiet.
    const auto refusal = diagnose_refusal({.reply = "I'm sorry, but I can't help with that.",
                                           .system_prompt = "Only answer questions about cooking. "
                                                            "Never discuss anything else.",
                                           .rendered_prompt = "",
                                           .user_message = "What is the capital of France?",
                                           .tuning = ModelTuning::chat});
    QVERIFY(refusal);
    QVERIFY(any_contains(refusal->evidence, "restrictive"));
    QCOMPARE(refusal->fixes.at(0).change.system_prompt, std::optional<std::string>(""));
    const auto preamble =
        diagnose_refusal({.reply = "I cannot do that.",
                          .system_prompt = "",
                          .rendered_prompt = "[INST] <<SYS>> Always answer safely and avoid "
                                             "harmful content. <</SYS>> Hi [/INST]",
                          .user_message = "Hi",
                          .tuning = ModelTuning::chat});
    QVERIFY(preamble && any_contains(preamble->evidence, "safety preamble"));
    QVERIFY(!diagnose_refusal({.reply = "The capital of France is Paris.",
                               .system_prompt = "Only answer briefly.",
                               .rendered_prompt = "",
                               .user_message = "",
                               .tuning = ModelTuning::chat}));
    // Context full: turns dropped, the KV cost per 1,000 tokens (22.5 KiB a token).
    const auto opened = open_model(test::default_model_path());
    QVERIFY(opened);
    PreflightSettings settings;
    settings.memory_budget_bytes = 16ull << 30;
    const auto full = diagnose_context_full(
        opened->info, {.dropped_turns = 3, .dropped_messages = 6, .n_ctx = 2048}, settings,
        cpu_machine());
    QVERIFY(full);
    QVERIFY(any_contains(full->evidence, "21.97 MiB per 1,000 tokens"));
    QCOMPARE(full->fixes.at(0).change.context, std::optional<uint32_t>(4096));
    QVERIFY(!diagnose_context_full(opened->info, {.n_ctx = 2048}, settings, cpu_machine()));
    // Slow, told apart by cause; a fast decode stays quiet.
    SpeedEvidence speed{.decode_tokens_per_second = 4,
                        .bytes_per_token = 92 * kMiB,
                        .memory_bandwidth_gbs = 2.0,
                        .n_layer = 30,
                        .n_threads = 4,
                        .physical_cores = 4};
    auto slow = diagnose_slow(speed); // roofline 20.7 tokens/s: far below it
    QVERIFY(slow && slow->title == "Slow");
    speed.first_run = true;
    QCOMPARE(diagnose_slow(speed)->title, std::string("The first run is warming up"));
    speed.first_run = false;
    speed.n_threads = 1;
    QCOMPARE(diagnose_slow(speed)->fixes.at(0).change.threads, std::optional<int>(4));
    speed.n_threads = 4;
    speed.decode_tokens_per_second = 8; // 39% of a 20.7 roofline... at 12 tokens/s and 1 GB/s:
    speed.memory_bandwidth_gbs = 1.0;   // the roofline is 10.4: as fast as it goes
    QCOMPARE(diagnose_slow(speed)->title, std::string("As fast as this machine goes"));
    speed.device = DeviceKind::cuda;
    speed.gpu_layers = 20;
    speed.memory_bandwidth_gbs = 3000;
    QCOMPARE(diagnose_slow(speed)->title, std::string("Layers are on the CPU"));
    QVERIFY(!diagnose_slow({.decode_tokens_per_second = 30,
                            .bytes_per_token = 92 * kMiB,
                            .memory_bandwidth_gbs = 3.0}));
}

void TestDoctor::samplingCheck() {
    ModelInfo small;
    small.n_params = 135'000'000;
    QCOMPARE(check_sampling(small, {}).status, CheckStatus::green);
    SamplingParams wild;
    wild.temperature = 1.8f;
    wild.top_k = 0;
    wild.top_p = 1.0f;
    wild.repeat_penalty = 1.0f;
    const CheckItem item = check_sampling(small, wild);
    QCOMPARE(item.status, CheckStatus::amber);
    QCOMPARE(item.fixes.size(), size_t{3});
    QCOMPARE(item.fixes[0].change.temperature, std::optional<float>(0.7f));
    QCOMPARE(item.fixes[1].change.top_k, std::optional<int32_t>(40));
    QCOMPARE(item.fixes[2].change.repeat_penalty, std::optional<float>(1.1f));
    ModelInfo large;
    large.n_params = 8'000'000'000;
    SamplingParams no_penalty;
    no_penalty.repeat_penalty = 1.0f;
    QCOMPARE(check_sampling(large, no_penalty).status, CheckStatus::green);
}

void TestDoctor::hostileInputs() {
    QCOMPARE(catalog_quant_siblings("{\"models\": 3}", "x.gguf").error().code,
             ErrorCode::bad_format);
    QCOMPARE(catalog_quant_siblings("[[[[", "x.gguf").error().code, ErrorCode::bad_format);
    auto none = catalog_quant_siblings("{\"models\": [{\"files\": [{\"file\": 1}]}]}", "x.gguf");
    QVERIFY(none && none->empty());
    // A file without a vocabulary: the facts fail naming the key, nothing crashes.
    const auto bytes = test::GgufBuilder().str("general.architecture", "llama").build();
    QTemporaryDir dir;
    const auto path = std::filesystem::path(dir.path().toStdString()) / "empty.gguf";
    test::write_file(path, bytes);
    auto file = GgufFile::open(path);
    QVERIFY(file);
    const auto facts = read_model_file_facts(*file);
    QVERIFY(!facts);
    QVERIFY(facts.error().message.find("tokenizer.ggml.tokens") != std::string::npos);
    // A model that fits nowhere: no context fits, and no fix pretends otherwise.
    ModelInfo huge;
    huge.n_ctx_train = 4096;
    huge.n_layer = 1;
    huge.weights_bytes = 1ull << 40;
    QCOMPARE(largest_fitting_context(huge, {}, 1ull << 30), 0u);
    PreflightSettings settings;
    settings.memory_budget_bytes = 1ull << 30;
    const CheckItem memory = check_memory(huge, settings, cpu_machine(), {});
    QCOMPARE(memory.status, CheckStatus::red);
    QVERIFY(std::none_of(memory.fixes.begin(), memory.fixes.end(),
                         [](const Fix& fix) { return fix.change.context.has_value(); }));
}

QTEST_GUILESS_MAIN(TestDoctor)
#include "tst_doctor.moc"
