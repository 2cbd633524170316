// Presets, config.json / metadata resolution and weight binding errors.
#include "fixtures.hpp"

#include <fovea/models/registry.hpp>

using namespace fovea_test;

namespace {
const std::string kVit = "vit_base_patch16_224";  // a tiny fixture with timm's config.json
}

TEST(Registry, UnknownNameListsClosestPresets) {
    const std::string e = error_of([] { fovea::create_model("vit_bse_patch16_224", data_dir() + "/" + kVit); });
    EXPECT_NE(e.find("unknown model 'vit_bse_patch16_224'"), std::string::npos) << e;
    EXPECT_NE(e.find("vit_base_patch16_224"), std::string::npos) << e;
}

TEST(Registry, EveryPresetIsListedOnce) {
    const auto names = fovea::model_names();
    std::set<std::string> unique(names.begin(), names.end());
    EXPECT_EQ(unique.size(), names.size());
    for (const char* n : {"vit_tiny_patch16_224", "vit_large_patch16_384", "vit_base_patch32_384",
                          "deit_base_distilled_patch16_224", "deit3_base_patch16_224", "vit_medium_patch16_gap_256",
                          "vit_base_patch16_reg4_gap_256", "swin_tiny_patch4_window7_224",
                          "swin_large_patch4_window12_384"})
        EXPECT_TRUE(unique.count(n)) << n;
}

// The registration API from outside the library: a family of one's own (here ViT's trunk under a
// preset name of its own, built by the registered vit family's builder), registered at static
// initialisation as the README shows, and loaded by its preset's name. Its preset looks up a
// built-in one while this file's initialisers run, which in this program (fovea::compiled) come
// before the library's: the registry adds its built-in families when first used. Through the
// registry, not vision_transformer.hpp, which would compile all of ViT into this file.
namespace {
fovea::Family custom_family() {
    fovea::Preset p{"custom_tiny_vit",
                    {{"img_size", 32}, {"patch_size", 8}, {"embed_dim", 16}, {"depth", 2}, {"num_heads", 2}},
                    fovea::pretrained_cfg("vit_base_patch16_224")};
    p.data.input_size = {3, 32, 32};
    return {"custom", {p}, {}, nullptr, nullptr, [](const fovea::BuildArgs& a) {
                for (const auto& f : fovea::Registry::instance().families())
                    if (f->name == "vit") return f->build(a);
                throw fovea::Error("no vit family registered");
            }};
}
// At static initialisation; a failure is kept for the test (an exception here would end the program).
const std::string custom_registration_error = [] {
    try {
        static const fovea::Registration registration{custom_family()};
        return std::string();
    } catch (const std::exception& e) {
        return std::string(e.what());
    }
}();
}  // namespace

TEST(Registry, AFamilyRegisteredOutsideTheLibraryLoadsByName) {
    ASSERT_TRUE(custom_registration_error.empty()) << custom_registration_error;
    const auto names = fovea::model_names();
    EXPECT_TRUE(std::count(names.begin(), names.end(), "custom_tiny_vit"));
    const std::string d = temp_dir("custom_family");  // the weights alone (the fixture's config.json names its own preset)
    std::filesystem::copy_file(data_dir() + "/" + kVit + "/model.safetensors", d + "/w.safetensors",
                               std::filesystem::copy_options::overwrite_existing);
    const fovea::Model m = fovea::create_model("custom_tiny_vit", d + "/w.safetensors");
    EXPECT_EQ(m.architecture(), "custom_tiny_vit");
    const Reference ref(kVit);
    const auto y = m.forward(ref.input());
    EXPECT_TRUE(compare(y.data(), ref.data("logits"), y.size()).ok());
    EXPECT_NE(error_of([] { fovea::Registration again{custom_family()}; }).find("preset 'custom_tiny_vit' registered twice"),
              std::string::npos);
}

TEST(Registry, ExplicitPresetWithMatchingConfigLoadsAndTagsAreStripped) {
    const auto m = fovea::create_model(kVit + ".augreg2_in21k_ft_in1k", data_dir() + "/" + kVit + "/model.safetensors");
    EXPECT_EQ(m.architecture(), kVit);
    EXPECT_EQ(m.num_classes(), 5);
    EXPECT_EQ(m.num_features(), 16);
    EXPECT_EQ(m.info().family, "vit");
}

TEST(Registry, PresetAgainstAnotherArchitectureNamesBoth) {
    // The folder's config.json describes another architecture: both are named.
    std::string e = error_of([] { fovea::create_model("deit_small_patch16_224", data_dir() + "/" + kVit); });
    EXPECT_NE(e.find("describes 'vit_base_patch16_224', not 'deit_small_patch16_224'"), std::string::npos) << e;
    e = error_of([] { fovea::create_model("swin_tiny_patch4_window7_224", data_dir() + "/" + kVit); });
    EXPECT_NE(e.find("describes 'vit_base_patch16_224', not 'swin_tiny_patch4_window7_224'"), std::string::npos) << e;
    // A bare weight file: another family is named, a same-family preset names the tensor and both shapes.
    const std::string d = temp_dir("mismatch");
    std::filesystem::copy_file(data_dir() + "/" + kVit + "/model.safetensors", d + "/w.safetensors");
    e = error_of([&] { fovea::create_model("swin_tiny_patch4_window7_224", d + "/w.safetensors"); });
    EXPECT_NE(e.find("holds a vit checkpoint, not the swin that 'swin_tiny_patch4_window7_224' is"), std::string::npos) << e;
    e = error_of([&] { fovea::create_model("deit_small_patch16_224", d + "/w.safetensors"); });
    EXPECT_NE(e.find("patch_embed.proj.weight"), std::string::npos) << e;
    EXPECT_NE(e.find("expected [384, 3, 16, 16] got [16, 3, 8, 8]"), std::string::npos) << e;
    // EVA-02 and Swin V2 weights under a ViT or Swin (v1) preset, and back: (fixture, preset, its family, the file's)
    const std::array<std::array<std::string, 4>, 5> cases = {{
        {"eva02_tiny_patch14_224", "vit_small_patch16_224", "vit", "eva"},
        {"eva02_base_patch14_224", "vit_small_patch16_224", "vit", "eva"},
        {"swinv2_tiny_window8_256", "swin_tiny_patch4_window7_224", "swin", "swinv2"},
        {kVit, "eva02_small_patch14_224", "eva", "vit"},
        {"swin_tiny_patch4_window7_224", "swinv2_tiny_window8_256", "swinv2", "swin"}}};
    for (const auto& [fixture, preset, family, found] : cases) {
        std::filesystem::copy_file(data_dir() + "/" + fixture + "/model.safetensors", d + "/other.safetensors",
                                   std::filesystem::copy_options::overwrite_existing);
        const std::string name = preset;  // clang 14 lambdas cannot capture structured bindings
        e = error_of([&] { fovea::create_model(name, d + "/other.safetensors"); });
        const std::string want = "holds a " + found + " checkpoint, not the " + family + " that '" + preset + "' is";
        EXPECT_NE(e.find(want), std::string::npos) << fixture << ": " << e;
    }
}

TEST(Registry, MissingAndUnexpectedTensorsAreNamed) {
    const std::string d = temp_dir("registry");
    auto entries = read_entries(data_dir() + "/" + kVit + "/model.safetensors");
    std::filesystem::copy_file(data_dir() + "/" + kVit + "/config.json", d + "/config.json");

    auto missing = entries;
    missing.erase("blocks.1.mlp.fc2.bias");
    write_safetensors(d + "/model.safetensors", missing);
    std::string e = error_of([&] { fovea::load_model(d); });
    EXPECT_NE(e.find("missing tensor 'blocks.1.mlp.fc2.bias' (expected [16])"), std::string::npos) << e;

    auto extra = entries;
    extra["blocks.2.norm1.weight"] = {"F32", {1}, floats({1})};
    write_safetensors(d + "/model.safetensors", extra);
    e = error_of([&] { fovea::load_model(d); });
    EXPECT_NE(e.find("unexpected tensor 'blocks.2.norm1.weight'"), std::string::npos) << e;

    auto wrong = entries;
    wrong["pos_embed"] = {"F32", {1, 16, 16}, std::string(16 * 16 * 4, '\0')};
    write_safetensors(d + "/model.safetensors", wrong);
    e = error_of([&] { fovea::load_model(d); });
    EXPECT_NE(e.find("tensor 'pos_embed': expected [1, 17, 16] got [1, 16, 16]"), std::string::npos) << e;
}

TEST(Registry, ArchitectureFromSafetensorsMetadata) {
    const std::string d = temp_dir("metadata");
    const auto entries = read_entries(data_dir() + "/" + kVit + "/model.safetensors");
    const std::string args = R"({"embed_dim":16,"depth":2,"num_heads":2,"img_size":32,"patch_size":8})";
    write_safetensors(d + "/w.safetensors", entries, {{"architecture", kVit}, {"model_args", args}});
    const auto m = fovea::load_model(d + "/w.safetensors");
    const Reference ref(kVit);
    const auto y = m.forward(ref.input());
    EXPECT_TRUE(compare(y.data(), ref.data("logits"), y.size()).ok());

    write_safetensors(d + "/w.safetensors", entries);  // no metadata, no config.json
    const std::string e = error_of([&] { fovea::load_model(d + "/w.safetensors"); });
    EXPECT_NE(e.find("cannot tell the architecture"), std::string::npos) << e;
}

TEST(Registry, BadConfigJsonIsAClearError) {
    const std::string d = temp_dir("badconfig");
    std::filesystem::copy_file(data_dir() + "/" + kVit + "/model.safetensors", d + "/model.safetensors");
    write_file(d + "/config.json", "{not json");
    EXPECT_NE(error_of([&] { fovea::load_model(d); }).find("not valid JSON"), std::string::npos);
    write_file(d + "/config.json", R"({"architecture": 3})");
    EXPECT_NE(error_of([&] { fovea::load_model(d); }).find("'architecture' must be a string"), std::string::npos);
    write_file(d + "/config.json", R"({"architecture": "vit_base_patch16_224", "model_args": {"depth": "two"}})");
    EXPECT_NE(error_of([&] { fovea::load_model(d); }).find("model_args 'depth': expected an integer"), std::string::npos);
    write_file(d + "/config.json", R"({"architecture": "vit_base_patch16_224", "model_args": {"qk_norm": true}})");
    EXPECT_NE(error_of([&] { fovea::load_model(d); }).find("'qk_norm' is not supported"), std::string::npos);
}

// The families whose kwargs are translated to the ViT trunk's (BEiT, EVA-02) name what fovea refuses,
// by their own kwarg names.
TEST(Registry, BeitAndEvaKwargsFoveaDoesNotRunAreRefusedByName) {
    const std::string d = temp_dir("translated_kwargs");
    const std::pair<std::string, std::string> cases[] = {
        {"beit_base_patch16_224", R"({"use_shared_rel_pos_bias": true})"},
        {"eva02_base_patch14_224", R"({"use_post_norm": true})"},
        {"eva02_base_patch14_224", R"({"rope_type": "mixed"})"},
        {"eva02_base_patch14_224", R"({"rope_rotate_half": true})"},
        {"eva02_tiny_patch14_224", R"({"global_pool": "map"})"},
        {"eva02_tiny_patch14_224", R"({"qk_norm": true})"}};
    for (const auto& [fixture, args] : cases) {
        for (const char* f : {"model.safetensors", "config.json"})
            std::filesystem::copy_file(data_dir() + "/" + fixture + "/" + f, d + "/" + f, std::filesystem::copy_options::overwrite_existing);
        std::ifstream in(d + "/config.json");
        auto cfg = nlohmann::json::parse(in);
        cfg["model_args"].update(nlohmann::json::parse(args));
        write_file(d + "/config.json", cfg.dump());
        const std::string e = error_of([&] { fovea::load_model(d); });
        EXPECT_NE(e.find("'" + nlohmann::json::parse(args).begin().key() + "'"), std::string::npos) << args << ": " << e;
        EXPECT_TRUE(e.find("not supported") != std::string::npos || e.find("is not supported by fovea") != std::string::npos) << e;
    }
    // BEiT's relative position tables are for one grid: another input size is refused
    const auto beit = fovea::load_model(data_dir() + "/beit_base_patch16_224");
    fovea::Tensor<float, 4> x({1, 3, 48, 48});
    const std::string e = error_of([&] { beit.forward(x); });
    EXPECT_NE(e.find("the relative position tables are for this size"), std::string::npos) << e;
}

TEST(Registry, WrongInputShapeIsRejectedInOnnxRuntimeStyle) {
    const auto m = fovea::load_model(data_dir() + "/" + kVit);
    fovea::Tensor<float, 4> x({1, 1, 32, 32});
    std::string e = error_of([&] { m.forward(x); });
    EXPECT_NE(e.find("expected [N,3,32,32]"), std::string::npos) << e;
    EXPECT_NE(e.find("got [1, 1, 32, 32]"), std::string::npos) << e;
    fovea::Tensor<float, 4> odd({1, 3, 33, 32});
    EXPECT_NE(error_of([&] { m.forward(odd); }).find("multiples of 8"), std::string::npos);
}

// An MLP of width 0 (weights [0, C] and a config whose mlp_ratio floors to 0) once divided by
// zero in the GEMM's blocking: refused at load, by the config and by the layer alike.
TEST(Registry, ZeroWidthMlpIsRefused) {
    const std::string d = temp_dir("registry_zero_width");
    auto entries = read_entries(data_dir() + "/" + kVit + "/model.safetensors");
    for (auto& [name, e] : entries) {
        if (name.find("mlp.fc1.") != std::string::npos) e = {"F32", name.find("weight") != std::string::npos ? std::vector<std::int64_t>{0, 16} : std::vector<std::int64_t>{0}, ""};
        if (name.find("mlp.fc2.weight") != std::string::npos) e = {"F32", {16, 0}, ""};
    }
    write_safetensors(d + "/model.safetensors", entries);
    std::ifstream f(data_dir() + "/" + kVit + "/config.json");
    auto cfg = nlohmann::json::parse(f);
    cfg["model_args"]["mlp_ratio"] = 0.01;
    write_file(d + "/config.json", cfg.dump());
    std::string e = error_of([&] { fovea::load_model(d); });
    EXPECT_NE(e.find("mlp_ratio 0.01 gives an MLP of width 0 for embed_dim 16"), std::string::npos) << e;
    // the layer's own check (a family that computes its width otherwise would meet it): test_layers
}
