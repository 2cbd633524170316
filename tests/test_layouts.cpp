// Checkpoint layouts other than timm >= 0.9 load under timm's names and give the reference
// numbers. The transformers fixtures (hf_*) also run through the stage-by-stage parity suite.
#include "fixtures.hpp"

using namespace fovea_test;

TEST(Layouts, DetectedFromTensorNames) {
    auto layout_of = [](const std::string& f) {
        return fovea::checkpoint_layout(fovea::SafeTensorsFile::open(data_dir() + "/" + f + "/model.safetensors"));
    };
    EXPECT_EQ(layout_of("vit_base_patch16_224"), "timm");
    EXPECT_EQ(layout_of("swin_tiny_patch4_window7_224"), "timm");
    EXPECT_EQ(layout_of("hf_vit"), "hf-vit");           // transformers 4 names, as on the hub
    EXPECT_EQ(layout_of("hf_deit_teacher"), "hf-deit");  // transformers 5 names
    EXPECT_EQ(layout_of("hf_swin"), "hf-swin");
    EXPECT_EQ(layout_of("layouts/swin_original"), "swin-original");
    EXPECT_EQ(layout_of("swinv2_tiny_window8_256"), "timm");
    EXPECT_EQ(layout_of("layouts/swinv2_original"), "swinv2-original");
    EXPECT_EQ(layout_of("hf_swinv2"), "hf-swinv2");
    EXPECT_EQ(layout_of("hf_clip"), "hf-clip");
    EXPECT_EQ(layout_of("hf_siglip"), "hf-siglip");
}

// Microsoft's release / timm <= 0.6: stage-end downsample, head.weight, stored buffers (Swin and Swin V2).
TEST(Layouts, OriginalSwinEqualsTheTimmFixture) {
    for (auto [folder, fixture] : {std::pair{"swin_original", "swin_tiny_patch4_window7_224"},
                                   std::pair{"swinv2_original", "swinv2_tiny_window8_256"}}) {
        const fovea::Model m = fovea::load_model(data_dir() + "/layouts/" + folder);
        const Reference ref(fixture);  // same weights, timm >= 0.9 names
        const auto x = ref.input();
        const auto y = m.forward(x);
        const Diff d = compare(y.data(), ref.data("logits"), y.size());
        EXPECT_TRUE(d.ok()) << folder << " " << d.max_err;
        const auto maps = m.forward_intermediates(x);
        ASSERT_EQ(maps.size(), 4u);
        for (std::size_t i = 0; i < maps.size(); ++i)
            EXPECT_TRUE(compare(maps[i].data(), ref.data("intermediates." + std::to_string(i)), maps[i].size()).ok()) << folder << " " << i;
    }
}

// transformers' Swinv2: its config.json read (pretrained_window_sizes, layer_norm_eps, labels).
TEST(Layouts, TransformersSwinV2ConfigIsRead) {
    const fovea::Model m = fovea::load_model(data_dir() + "/hf_swinv2");
    EXPECT_EQ(m.info().family, "swinv2");
    EXPECT_EQ(m.num_classes(), 5);
    ASSERT_EQ(m.label_names().size(), 5u);
    EXPECT_EQ(m.label_names()[2], "label 2");
    EXPECT_EQ(m.pretrained_cfg().input_size, (std::array<std::int64_t, 3>{3, 64, 64}));
}

// transformers' CLIPModel checkpoint (both towers): the image tower is read, the text tower left;
// CLIPImageProcessor's shortest-edge resize and center crop become timm's resize and crop.
TEST(Layouts, TransformersClipImageTowerAndProcessor) {
    const std::string d = temp_dir("hf_clip_processor");
    for (const char* f : {"model.safetensors", "config.json"})
        std::filesystem::copy_file(data_dir() + "/hf_clip/" + f, d + "/" + f, std::filesystem::copy_options::overwrite_existing);
    for (const int edge : {32, 36}) {
        write_file(d + "/preprocessor_config.json",
                   R"({"crop_size": {"height": 32, "width": 32}, "do_center_crop": true, "do_resize": true, "resample": 3,
                       "image_mean": [0.48145466, 0.4578275, 0.40821073], "image_std": [0.26862954, 0.26130258, 0.27577711],
                       "size": {"shortest_edge": )" + std::to_string(edge) + "}}");
        const fovea::Model m = fovea::load_model(d);
        EXPECT_EQ(m.info().family, "clip");
        EXPECT_EQ(m.num_classes(), 5);  // visual_projection
        const auto& cfg = m.pretrained_cfg();
        EXPECT_EQ(cfg.input_size, (std::array<std::int64_t, 3>{3, 32, 32}));
        EXPECT_EQ(cfg.crop_mode, "center");
        EXPECT_EQ(cfg.interpolation, "bicubic");
        EXPECT_EQ(static_cast<int>(std::floor(32 / cfg.crop_pct)), edge) << cfg.crop_pct;  // timm's resize of the shortest edge
        EXPECT_NEAR(cfg.mean[0], 0.48145466, 1e-7);
    }
}

TEST(Layouts, TransformersConfigLabelsAndProcessor) {
    const fovea::Model m = fovea::load_model(data_dir() + "/hf_vit");
    EXPECT_EQ(m.num_classes(), 5);
    ASSERT_EQ(m.label_names().size(), 5u);
    EXPECT_EQ(m.label_names()[3], "label 3");  // id2label
    const auto& cfg = m.pretrained_cfg();     // from preprocessor_config.json
    EXPECT_EQ(cfg.input_size, (std::array<std::int64_t, 3>{3, 32, 32}));
    EXPECT_EQ(cfg.interpolation, "bicubic");
    EXPECT_EQ(cfg.crop_mode, "squash");
    EXPECT_EQ(cfg.crop_pct, 1.0);
    EXPECT_EQ(cfg.mean, (std::vector<float>{0.5f, 0.5f, 0.5f}));
    // the distillation head is read off the weights: the teacher's checkpoint carries it (and
    // loading is strict, so it was read), the student's has the distillation token but no head;
    // that the logits average both heads, or take the class token's alone, is the parity suite's
    auto has_head_dist = [](const std::string& f) {
        auto file = fovea::to_timm_names(fovea::SafeTensorsFile::open(data_dir() + "/" + f + "/model.safetensors"));
        return file->tensors().count("head_dist.weight") > 0;
    };
    EXPECT_TRUE(has_head_dist("hf_deit_teacher"));
    EXPECT_FALSE(has_head_dist("hf_deit"));
    EXPECT_EQ(fovea::load_model(data_dir() + "/hf_deit_teacher").prefix_tokens(), 2);
    EXPECT_EQ(fovea::load_model(data_dir() + "/hf_deit").prefix_tokens(), 2);
}

TEST(Layouts, MissingKeyOfAFusedProjectionIsNamed) {
    const std::string d = temp_dir("layouts");
    auto entries = read_entries(data_dir() + "/hf_vit/model.safetensors");
    entries.erase("vit.encoder.layer.1.attention.attention.key.bias");
    write_safetensors(d + "/model.safetensors", entries);
    std::filesystem::copy_file(data_dir() + "/hf_vit/config.json", d + "/config.json");
    const std::string e = error_of([&] { fovea::load_model(d); });
    EXPECT_NE(e.find("'blocks.1.attn.qkv.bias' needs query, key and value"), std::string::npos) << e;
}
