// fovea-classify end to end: logits files equal timm's, and every failure is one "error:" line.
#include <stdlib.h>

#include <cmath>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <sstream>

#include <fovea/io/image.hpp>

#include "fixtures.hpp"

using namespace fovea_test;

namespace {

using CliResult = ProgramResult;

CliResult run_cli(const std::string& args, const std::string& shell = "") { return run_program(FOVEA_CLI, args, shell); }

// --json prints one object per line.
std::vector<nlohmann::json> json_lines(const std::string& out) {
    std::vector<nlohmann::json> v;
    std::istringstream s(out);
    for (std::string line; std::getline(s, line);)
        if (!line.empty()) v.push_back(nlohmann::json::parse(line));
    return v;
}

}  // namespace

TEST(Cli, SavesTimmLogitsAndFeatures) {
    for (const std::string name : {"vit_base_patch16_224", "deit_base_distilled_patch16_224", "swin_tiny_patch4_window7_224"}) {
        const std::string d = temp_dir("cli_" + name);
        const Reference ref(name);
        const auto x = ref.input();
        fovea::write_npy(d + "/x.npy", x.data(), {x.shape(0), x.shape(1), x.shape(2), x.shape(3)});
        const CliResult r = run_cli("--weights " + data_dir() + "/" + name + " --input-npy " + d + "/x.npy --save-logits " +
                              d + "/y.npy --save-features " + d + "/f.npy --top-k 3 --json");
        ASSERT_EQ(r.code, 0) << r.err;
        const auto y = fovea::read_npy(d + "/y.npy");
        ASSERT_EQ(static_cast<std::int64_t>(y.data.size()), ref.numel("logits"));
        EXPECT_TRUE(compare(y.data.data(), ref.data("logits"), ref.numel("logits")).ok()) << name;
        const auto f = fovea::read_npy(d + "/f.npy");
        EXPECT_TRUE(compare(f.data.data(), ref.data("pre_logits"), ref.numel("pre_logits")).ok()) << name;
        const auto j = json_lines(r.out);
        ASSERT_EQ(j.size(), 1u);
        EXPECT_EQ(j[0]["top"].size(), 3u);
    }
}

TEST(Cli, BenchPrintsItsSummaryLine) {
    const CliResult r = run_cli("--weights " + data_dir() + "/swin_tiny_patch4_window7_224 --bench 3 --threads 1");
    ASSERT_EQ(r.code, 0) << r.err;
    EXPECT_NE(r.out.find("bench: model=swin_tiny_patch4_window7_224 batch=1 threads=1 precision=f32 median_ms="), std::string::npos)
        << r.out;
    EXPECT_NE(r.out.find(" compiler='"), std::string::npos) << r.out;  // every figure names its compiler and CPU
    EXPECT_NE(r.out.find(" cpu='"), std::string::npos) << r.out;
}

TEST(Cli, FailuresAreOneErrorLineAndExitCodeOne) {
    const std::string d = temp_dir("cli_bad");
    write_file(d + "/bad.safetensors", le64(1ull << 40) + "{}");
    write_file(d + "/x.npy", "not numpy");
    const std::string good = data_dir() + "/vit_base_patch16_224";
    for (const std::string args :
         {"--weights " + d + "/bad.safetensors --model vit_base_patch16_224 --bench 1",
          "--weights " + d + "/missing --bench 1", "--weights " + good + " --input-npy " + d + "/x.npy",
          "--weights " + good + " --model vit_nope --bench 1", "--weights " + good + " --frobnicate",
          "--weights " + good + " --top-k zero --bench 1", "--weights " + good + " --threads"}) {
        const CliResult r = run_cli(args);
        EXPECT_EQ(r.code, 1) << args;
        EXPECT_EQ(r.err.rfind("error: ", 0), 0u) << args << " -> " << r.err;
        EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << args << " -> " << r.err;
    }
}

namespace {
const std::string kImages = std::string(FOVEA_TEST_DATA) + "/images";
const std::string kFashion = std::string(FOVEA_SOURCE_DIR) + "/examples/fashion_mnist/images";

std::vector<std::string> fashion_images() {
    std::vector<std::string> v;
    for (auto& e : std::filesystem::directory_iterator(kFashion)) v.push_back(e.path().string());
    std::sort(v.begin(), v.end());
    return v;
}

std::string join(const std::vector<std::string>& v) {
    std::string s;
    for (auto& x : v) s += " " + x;
    return s;
}
}  // namespace

// No --weights: the bundled Fashion-MNIST Swin classifies the bundled images correctly.
TEST(Cli, DefaultModelClassifiesBundledImages) {
    const auto files = fashion_images();
    ASSERT_EQ(files.size(), 10u);
    const CliResult r = run_cli(join(files) + " --json --top-k 1");
    ASSERT_EQ(r.code, 0) << r.err;
    const auto j = json_lines(r.out);
    ASSERT_EQ(j.size(), files.size());
    int right = 0;
    for (std::size_t i = 0; i < files.size(); ++i) {
        EXPECT_EQ(j[i]["path"], files[i]);
        // file names end in the true class: .../test0000_ankle_boot.png
        std::string label = j[i]["top"][0]["label"];
        std::transform(label.begin(), label.end(), label.begin(), [](char c) { return c == '/' || c == '-' || c == ' ' ? '_' : std::tolower(c); });
        right += files[i].find(label) != std::string::npos;
    }
    EXPECT_GE(right, 9) << r.out;
}

// A bad file among good ones: one error line naming it, the others classified, exit code 1.
TEST(Cli, BadFileAmongGoodOnesLosesNothing) {
    const std::string d = temp_dir("cli_mixed");
    write_file(d + "/broken.png", "not a png");
    const auto files = fashion_images();
    const CliResult r = run_cli(files[0] + " " + d + "/broken.png " + files[1] + " " + d + "/absent.png --json");
    EXPECT_EQ(r.code, 1);
    EXPECT_NE(r.err.find("error: " + d + "/broken.png: "), std::string::npos) << r.err;
    EXPECT_NE(r.err.find("error: " + d + "/absent.png: "), std::string::npos) << r.err;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 2) << r.err;
    const auto j = json_lines(r.out);
    ASSERT_EQ(j.size(), 2u);
    EXPECT_EQ(j[0]["path"], files[0]);
    EXPECT_EQ(j[1]["path"], files[1]);
}

// --save-input writes exactly timm's preprocessed tensor; batching does not change the logits.
TEST(Cli, SaveInputIsTimmsTensorAndBatchSizeDoesNotMatter) {
    const std::string d = temp_dir("cli_input");
    const std::string model = data_dir() + "/swin_tiny_patch4_window7_224";  // its config.json: Swin-T data cfg
    const std::string photo = kImages + "/photo_chelsea_333x251.png";
    CliResult r = run_cli("--weights " + model + " " + photo + " --save-input " + d + "/x.npy");
    ASSERT_EQ(r.code, 0) << r.err;
    const auto x = fovea::read_npy(d + "/x.npy");
    ASSERT_EQ(x.shape, (std::vector<std::int64_t>{1, 3, 224, 224}));
    const auto ref = fovea::load_image(data_dir() + "/preprocess/photo_chelsea_333x251__swin_tiny_patch4_window7_224.png");
    const auto& cfg = fovea::pretrained_cfg("swin_tiny_patch4_window7_224");
    for (std::int64_t c = 0; c < 3; ++c)
        for (std::int64_t i = 0; i < 224 * 224; ++i)
            ASSERT_EQ(x.data[c * 224 * 224 + i], (ref.pixels[i * 3 + c] / 255.0f - cfg.mean[c]) / cfg.std[c]);

    const auto files = join(fashion_images());
    r = run_cli(files + " --batch-size 3 --save-logits " + d + "/a.npy");
    ASSERT_EQ(r.code, 0) << r.err;
    r = run_cli(files + " --batch-size 10 --save-logits " + d + "/b.npy");
    ASSERT_EQ(r.code, 0) << r.err;
    const auto a = fovea::read_npy(d + "/a.npy"), b = fovea::read_npy(d + "/b.npy");
    ASSERT_EQ(a.shape, (std::vector<std::int64_t>{10, 10}));
    EXPECT_TRUE(compare(a.data.data(), b.data.data(), 100).ok());
}

TEST(Cli, LabelsFileOverridesConfigNames) {
    const std::string d = temp_dir("cli_labels");
    std::string names;
    for (int i = 0; i < 10; ++i) names += "name" + std::to_string(i) + "\n";
    write_file(d + "/labels.txt", names);
    const auto files = fashion_images();
    const CliResult r = run_cli(files[0] + " --labels " + d + "/labels.txt --top-k 1");
    ASSERT_EQ(r.code, 0) << r.err;
    EXPECT_NE(r.out.find("name9"), std::string::npos) << r.out;  // an ankle boot
}

// Inputs as a hostile user would write them (issue 17's kinds): each ends in exactly one
// "error: ..." line and exit code 1 (or, for --threads, a note and a normal run), never a signal,
// and quickly: nothing is allocated or recursed into before its size is checked.
TEST(Cli, HostileInputsAreOneErrorLine) {
    const std::string d = temp_dir("cli_hostile");
    const std::string fixture = data_dir() + "/vit_base_patch16_224";
    const std::string image = kImages + "/tiny_13x9.png";
    // A copy of the fixture folder whose config.json `edit` changes (text in, text out).
    auto variant = [&](const std::string& name, const std::function<std::string(nlohmann::json)>& edit) {
        const std::string dir = d + "/" + name;
        std::filesystem::create_directories(dir);
        std::filesystem::copy_file(fixture + "/model.safetensors", dir + "/model.safetensors");
        std::ifstream f(fixture + "/config.json");
        write_file(dir + "/config.json", edit(nlohmann::json::parse(f)));
        return dir;
    };
    const std::string deep = std::string(200000, '[') + std::string(200000, ']');
    auto set = [](const std::string& where, const std::string& key, nlohmann::json v) {
        return [=](nlohmann::json j) {
            (where.empty() ? j : j[where])[key] = v;
            return j.dump();
        };
    };
    auto with_deep = [&](const std::string& where) {
        return [&, where](nlohmann::json j) {
            (where.empty() ? j : j[where])["deep"] = 0;
            std::string t = j.dump();
            const auto at = t.find("\"deep\":0");
            return t.replace(at, 8, "\"deep\":" + deep);
        };
    };
    // safetensors with a 300,000-character tensor name; a .npy with a 1 MB header; a .npy that
    // declares a batch of 100,000 images; a 3 GB sparse config.json.
    write_file(d + "/long_name.safetensors",
               safetensors_bytes("{\"" + std::string(300000, 'n') + "\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", floats({1})));
    std::string npy = std::string("\x93NUMPY\x01\x00", 8);
    write_file(d + "/big_header.npy", npy + std::string("\xff\xff", 2) + std::string(65535, ' '));
    const std::string hdr = "{'descr': '<f4', 'fortran_order': False, 'shape': (100000, 3, 224, 224), }";
    write_file(d + "/huge_shape.npy", npy + static_cast<char>(hdr.size() + 1) + '\0' + hdr + "\n" + std::string(64, '\0'));
    const std::string sparse = variant("sparse", [](nlohmann::json j) { return j.dump(); });
    std::filesystem::resize_file(sparse + "/config.json", 3ull << 30);
    write_file(d + "/empty_labels.txt", "");
    write_file(d + "/two_labels.txt", "a\nb\n");

    const std::vector<std::pair<std::string, std::string>> cases = {
        {"--weights " + variant("deep_model_args", with_deep("model_args")) + " " + image, "nested deeper than"},
        {"--weights " + variant("deep_pretrained_cfg", with_deep("pretrained_cfg")) + " " + image, "nested deeper than"},
        {"--weights " + sparse + " " + image, "MB limit for a JSON file"},
        {"--weights " + d + "/long_name.safetensors --model vit_base_patch16_224 " + image, "a name of 300000 bytes"},
        {"--weights " + fixture + " --input-npy " + d + "/big_header.npy", "big_header.npy"},
        {"--weights " + fixture + " --input-npy " + d + "/huge_shape.npy", "huge_shape.npy"},
        {"--weights " + variant("input_size", set("pretrained_cfg", "input_size", {3, 65536, 65536})) + " " + image, "input_size"},
        {"--weights " + variant("std0", set("pretrained_cfg", "std", {0, 0, 0})) + " " + image, "std[0] must be a positive number"},
        {"--weights " + variant("img_size", set("model_args", "img_size", 1ll << 40)) + " " + image, "img_size"},
        {"--weights " + variant("mlp0", set("model_args", "mlp_ratio", 0)) + " " + image, "mlp_ratio"},
        {"--weights " + variant("labels3", set("", "label_names", {"a", "b", "c"})) + " " + image, "3 label names for 5 classes"},
        {"--weights " + fixture + " --labels /dev/zero " + image, "labels must be a regular file"},
        {"--weights " + fixture + " --labels " + d + " " + image, "labels must be a regular file"},
        {"--weights " + fixture + " --labels " + d + "/empty_labels.txt " + image, "empty_labels.txt"},
        {"--weights " + fixture + " --labels " + d + "/two_labels.txt " + image, "two_labels.txt"},
        {"--weights " + fixture + " --save-logits /dev/full " + image, "/dev/full: write failed"},
        {"--weights " + fixture + " --batch-size 100000000 " + image, "--batch-size"},
        {"--weights " + fixture + " --threads -1 " + image, "--threads"},
        {"--weights " + fixture + " --top-k 99999999999 " + image, "--top-k"},
        {"--weights " + fixture + " '" + d + "/a\nb.png'", "a\\nb.png"},
    };
    for (const auto& [args, fragment] : cases) {
        const CliResult r = run_cli(args);
        EXPECT_EQ(r.code, 1) << args.substr(0, 300) << " -> " << r.err;
        EXPECT_EQ(r.err.rfind("error: ", 0), 0u) << args.substr(0, 300) << " -> " << r.err;
        EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << args.substr(0, 300) << " -> " << r.err;
        EXPECT_NE(r.err.find(fragment), std::string::npos) << args.substr(0, 300) << " -> " << r.err;
    }
    // More threads than the machine has: one note, then a normal run.
    const CliResult r = run_cli("--weights " + fixture + " --threads 100000 " + image);
    EXPECT_EQ(r.code, 0) << r.err;
    EXPECT_EQ(r.err.rfind("note: --threads 100000 is more than this machine's", 0), 0u) << r.err;
}

// Under resource limits: an input too large for the address space is one error line (not an
// uncaught std::bad_alloc), and a system that refuses threads gets a single-threaded run with
// the same outputs.
TEST(Cli, ResourceLimitsGiveCleanErrorsOrSmallerRuns) {
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
    GTEST_SKIP() << "sanitizers reserve address space beyond any ulimit -v";
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
    GTEST_SKIP() << "sanitizers reserve address space beyond any ulimit -v";
#endif
#endif
    const std::string fixture = data_dir() + "/vit_base_patch16_224";
    // 1 GB of address space; the batch of 4096 random images alone would take 2.4 GB
    CliResult r = run_cli("--weights " + fixture + " --bench 1 --batch-size 4096 --threads 1", "ulimit -v 1000000 && ");
    EXPECT_EQ(r.code, 1) << r.err;
    EXPECT_EQ(r.err.rfind("error: ", 0), 0u) << r.err;
    EXPECT_NE(r.err.find("out of memory"), std::string::npos) << r.err;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;

    // Thread stacks of 3 GB in 2 GB of address space: no thread can start; the run goes on alone.
    const auto files = fashion_images();
    const std::string d = temp_dir("cli_limits");
    r = run_cli(join(files) + " --threads 2 --save-logits " + d + "/limited.npy", "ulimit -v 2000000 && ulimit -s 3000000 && ");
    EXPECT_EQ(r.code, 0) << r.err;
    EXPECT_NE(r.err.find("note: "), std::string::npos) << r.err;  // fewer threads than asked
    r = run_cli(join(files) + " --threads 1 --save-logits " + d + "/plain.npy");
    ASSERT_EQ(r.code, 0) << r.err;
    EXPECT_EQ(fovea::read_npy(d + "/limited.npy").data, fovea::read_npy(d + "/plain.npy").data);
}

// Images are streamed a batch at a time: 1,000 images need no more memory than 10.
TEST(Cli, ThousandImagesTakeTheMemoryOfTen) {
    const auto files = fashion_images();
    auto peak_kb = [&](int n) {
        std::string args;
        for (int i = 0; i < n; ++i) args += " " + files[static_cast<std::size_t>(i) % files.size()];
        const CliResult r = run_cli(args + " --json --threads 1", "/usr/bin/time -f 'peak_kb=%M' -o /dev/stderr ");
        EXPECT_EQ(r.code, 0) << r.err;
        EXPECT_EQ(json_lines(r.out).size(), static_cast<std::size_t>(n));
        const auto at = r.err.rfind("peak_kb=");
        return at == std::string::npos ? -1.0 : std::stod(r.err.substr(at + 8));
    };
    if (!std::filesystem::exists("/usr/bin/time")) GTEST_SKIP() << "needs /usr/bin/time (Debian: time)";
#if defined(__SANITIZE_ADDRESS__)
    GTEST_SKIP() << "AddressSanitizer keeps freed memory in quarantine: peak RSS is not the program's";
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
    GTEST_SKIP() << "AddressSanitizer keeps freed memory in quarantine: peak RSS is not the program's";
#endif
#endif
    const double ten = peak_kb(10), thousand = peak_kb(1000);
    std::printf("peak RSS: 10 images %.1f MB, 1000 images %.1f MB\n", ten / 1024, thousand / 1024);
    ASSERT_GT(ten, 0);
    EXPECT_LE(thousand, ten * 1.1 + 4096);
}

// A reader that goes away (`| head -1`) ends the program with an error line and exit code 1, not
// SIGPIPE, and a --save-features file holds a valid header for the rows it has.
TEST(Cli, ClosedStdoutIsAnErrorAndSavedFilesAreComplete) {
    const std::string d = temp_dir("cli_pipe");
    std::string many;  // enough output to fill the pipe after head has gone
    for (int i = 0; i < 60; ++i) many += join(fashion_images()) + " ";
    const std::string cmd = "{ " + std::string(FOVEA_CLI) + " --json --top-k 10 --batch-size 1 --save-features " + d + "/f.npy " + many +
                            " 2>" + d + "/err; echo $? >" + d + "/code; } | head -1 >" + d + "/out";
    ASSERT_EQ(std::system(cmd.c_str()), 0);
    auto slurp = [](const std::string& p) {
        std::ifstream f(p);
        std::stringstream s;
        s << f.rdbuf();
        return s.str();
    };
    EXPECT_EQ(slurp(d + "/code"), "1\n");
    EXPECT_NE(slurp(d + "/err").find("error: standard output was closed"), std::string::npos) << slurp(d + "/err");
    EXPECT_EQ(json_lines(slurp(d + "/out")).size(), 1u);
    const fovea::NpyArray f = fovea::read_npy(d + "/f.npy");  // the header agrees with the data that follows
    ASSERT_EQ(f.shape.size(), 2u);
    EXPECT_GE(f.shape[0], 1);
    EXPECT_LT(f.shape[0], 600);
    EXPECT_EQ(f.shape[1], 128);
}

// A folder stands for the image files under it (recursively, sorted, other files left out).
TEST(Cli, FoldersAreTheirImagesSorted) {
    const auto files = fashion_images();
    const std::string folder = std::filesystem::path(files[0]).parent_path().string();
    const CliResult all = run_cli(folder + " --json --top-k 1");
    ASSERT_EQ(all.code, 0) << all.err;
    const auto j = json_lines(all.out);
    ASSERT_EQ(j.size(), files.size());
    for (std::size_t i = 0; i < files.size(); ++i) EXPECT_EQ(std::filesystem::path(j[i]["path"].get<std::string>()), std::filesystem::path(files[i]));

    const std::string d = temp_dir("cli_folder");
    std::filesystem::create_directories(d + "/b/inner");
    std::filesystem::copy_file(files[1], d + "/b/inner/z.PNG", std::filesystem::copy_options::overwrite_existing);
    std::filesystem::copy_file(files[0], d + "/a.png", std::filesystem::copy_options::overwrite_existing);
    write_file(d + "/notes.txt", "not an image");
    const CliResult r = run_cli(d + " --json --top-k 1");
    ASSERT_EQ(r.code, 0) << r.err;
    const auto k = json_lines(r.out);
    ASSERT_EQ(k.size(), 2u);
    EXPECT_EQ(k[0]["path"], d + "/a.png");
    EXPECT_EQ(k[1]["path"], d + "/b/inner/z.PNG");

    std::filesystem::create_directories(d + "/empty");
    const CliResult e = run_cli(d + "/empty");
    EXPECT_EQ(e.code, 1);
    EXPECT_NE(e.err.find("error: " + d + "/empty: no image files"), std::string::npos) << e.err;
}

#ifdef FOVEA_FMNIST_EVAL
TEST(Cli, FashionMnistEvalHelpIsUsage) {
    const ProgramResult r = run_program(FOVEA_FMNIST_EVAL, "--help");
    EXPECT_EQ(r.code, 0);
    EXPECT_EQ(r.out.rfind("usage: fovea-fmnist-eval", 0), 0u) << r.out;
    const ProgramResult bad = run_program(FOVEA_FMNIST_EVAL, "--bogus");
    EXPECT_EQ(bad.code, 1);
    EXPECT_NE(bad.err.find("error: unknown argument '--bogus'"), std::string::npos) << bad.err;
}
#endif

// Zero-shot classification: the probabilities of OpenCLIP's and transformers' recipes.
//   clip, siglip (tests/tools/make_zeroshot_fixtures.py): computed in float64 from timm's image
//   embedding and text embeddings placed for the fixture. CLIP: softmax at OpenAI's scale 100;
//   SigLIP: sigmoid with the scale and bias read from an open_clip_model.safetensors.
//   hf_clip, hf_siglip (tests/tools/make_hf_fixtures.py --clip / --siglip): transformers' CLIPModel
//   and SiglipModel themselves, their text towers making the class embeddings and
//   logits_per_image.softmax / sigmoid the reference; scale and bias read from the same checkpoint.
namespace {
struct ZeroShotCase {
    std::string dir, fixture;
};
ZeroShotCase zero_shot_case(const std::string& which) {
    ZeroShotCase c{data_dir() + "/zeroshot/" + which, ""};
    std::ifstream f(c.dir + "/fixture.txt");
    std::getline(f, c.fixture);
    return c;
}
}  // namespace

TEST(ZeroShot, ProbabilitiesMatchTheReference) {
    for (const std::string which : {"clip", "siglip", "hf_clip", "hf_siglip"}) {
        const ZeroShotCase c = zero_shot_case(which);
        const fovea::Model model = fovea::load_model(data_dir() + "/" + c.fixture);
        const auto x = fovea::to_tensor<4>(fovea::read_npy(c.dir + "/input.npy"), "input");
        const auto text = fovea::to_tensor<2>(fovea::read_npy(c.dir + "/text.npy"), "text");
        // CLIP: OpenAI's 100; hf_clip: the logit_scale in transformers' CLIPModel checkpoint; SigLIP: OpenCLIP's file
        const fovea::ZeroShotHead head = which == "siglip" ? fovea::read_open_clip_head(c.dir).value()
                                                           : fovea::zero_shot_head(model, data_dir() + "/" + c.fixture);
        if (which.rfind("hf_", 0) == 0) EXPECT_NEAR(head.logit_scale, 10.0f, 1e-5f);  // the checkpoint's own
        EXPECT_EQ(head.logit_bias.has_value(), which.find("siglip") != std::string::npos);
        const fovea::ZeroShot z = fovea::zero_shot(model, x, text, head);
        const auto probs = fovea::read_npy(c.dir + "/probs.npy"), logits = fovea::read_npy(c.dir + "/logits.npy");
        ASSERT_EQ(static_cast<std::size_t>(z.probs.size()), probs.data.size()) << which;
        const Diff dp = compare(z.probs.data(), probs.data.data(), z.probs.size());
        const Diff dl = compare(z.logits.data(), logits.data.data(), z.logits.size());
        EXPECT_TRUE(dp.ok()) << which << ": probabilities max abs err " << dp.max_err;
        EXPECT_TRUE(dl.ok()) << which << ": logits max abs err " << dl.max_err << " (max " << dl.max_ref << ")";
        std::printf("zero-shot %s: probabilities max abs err %.3g, logits %.3g (up to %.3g)\n", which.c_str(), dp.max_err,
                    dl.max_err, dl.max_ref);
        const auto top = fovea::top_k(z, 2, {"a", "b", "c", "d", "e"});
        EXPECT_EQ(top[0][0].prob, z.probs(0, top[0][0].index));
        EXPECT_GE(top[0][0].logit, top[0][1].logit);
    }
    // a text of another width, a SigLIP tower without its head, a bad scale: clear errors
    const ZeroShotCase clip = zero_shot_case("clip"), siglip = zero_shot_case("siglip");
    const fovea::Model sm = fovea::load_model(data_dir() + "/" + siglip.fixture);
    const auto x = fovea::to_tensor<4>(fovea::read_npy(siglip.dir + "/input.npy"), "input");
    const auto clip_text = fovea::to_tensor<2>(fovea::read_npy(clip.dir + "/text.npy"), "text");
    EXPECT_NE(error_of([&] { fovea::zero_shot(sm, x, clip_text, {}); }).find("text embeddings are 5 wide, the model's image embedding 16"),
              std::string::npos);
    EXPECT_NE(error_of([&] { fovea::zero_shot_head(sm, data_dir() + "/" + siglip.fixture); }).find("SigLIP's zero-shot head"),
              std::string::npos);
    EXPECT_NE(error_of([&] { fovea::zero_shot(sm, x, clip_text, {-1.0f, {}}); }).find("logit_scale must be a positive number"),
              std::string::npos);
}

TEST(ZeroShot, CliPrintsTheReferenceProbabilities) {
    for (const std::string which : {"clip", "siglip", "hf_clip", "hf_siglip"}) {
        const ZeroShotCase c = zero_shot_case(which);
        const std::string d = temp_dir("zeroshot_" + which);
        for (const char* f : {"model.safetensors", "config.json"})
            std::filesystem::copy_file(data_dir() + "/" + c.fixture + "/" + f, d + "/" + f, std::filesystem::copy_options::overwrite_existing);
        if (which == "siglip")
            std::filesystem::copy_file(c.dir + "/open_clip_model.safetensors", d + "/open_clip_model.safetensors",
                                       std::filesystem::copy_options::overwrite_existing);
        const std::string args = "--weights " + d + " --input-npy " + c.dir + "/input.npy --text-embeddings " + c.dir +
                                 "/text.npy --labels " + c.dir + "/labels.txt";
        const CliResult r = run_cli(args + " --top-k 5 --json --save-logits " + d + "/z.npy");
        ASSERT_EQ(r.code, 0) << which << ": " << r.err;
        const auto probs = fovea::read_npy(c.dir + "/probs.npy");
        const auto rows = json_lines(r.out);
        ASSERT_EQ(rows.size(), 2u) << r.out;
        const std::size_t K = static_cast<std::size_t>(probs.shape.at(1));
        for (std::size_t n = 0; n < rows.size(); ++n) {
            ASSERT_EQ(rows[n]["top"].size(), std::min<std::size_t>(K, 5));
            for (auto& p : rows[n]["top"]) {
                const std::int64_t k = p["class"];
                EXPECT_NEAR(p["prob"].get<double>(), probs.data[n * K + static_cast<std::size_t>(k)], 1e-5) << which << " " << n << " " << k;
                EXPECT_EQ(p["label"], "a photo of class " + std::to_string(k));
            }
        }
        const auto saved = fovea::read_npy(d + "/z.npy");
        const auto logits = fovea::read_npy(c.dir + "/logits.npy");
        EXPECT_TRUE(compare(saved.data.data(), logits.data.data(), static_cast<std::int64_t>(logits.data.size())).ok()) << which;
        // the head given on the command line instead of the file
        if (which == "siglip") {
            std::filesystem::remove(d + "/open_clip_model.safetensors");
            CliResult e = run_cli(args);
            EXPECT_EQ(e.code, 1);
            EXPECT_NE(e.err.find("error: SigLIP's zero-shot head"), std::string::npos) << e.err;
            e = run_cli(args + " --logit-scale 117.4");
            EXPECT_NE(e.err.find("give --logit-bias too"), std::string::npos) << e.err;
            const CliResult g = run_cli(args + " --json --top-k 5 --logit-scale " + std::to_string(std::exp(4.7658)) + " --logit-bias -12.93");
            ASSERT_EQ(g.code, 0) << g.err;
            const auto rows2 = json_lines(g.out);
            for (auto& p : rows2[0]["top"])
                EXPECT_NEAR(p["prob"].get<double>(), probs.data[static_cast<std::size_t>(p["class"].get<std::int64_t>())], 1e-5);
        }
        std::filesystem::remove_all(d);
    }
    const ZeroShotCase c = zero_shot_case("clip");
    const std::string base = "--weights " + data_dir() + "/" + c.fixture + " --input-npy " + c.dir + "/input.npy --text-embeddings " + c.dir + "/text.npy";
    for (const auto& [args, message] : std::vector<std::pair<std::string, std::string>>{
             {base, "--text-embeddings needs --labels"},
             {base + " --labels " + data_dir() + "/zeroshot/siglip/fixture.txt", "1 labels for a model with 5 classes"},
             {base + " --labels " + c.dir + "/labels.txt --logit-scale nan", "--logit-scale expects a number"},
             {"--weights " + data_dir() + "/" + c.fixture + " --input-npy " + c.dir + "/input.npy --logit-scale 10", "go with --text-embeddings"}}) {
        const CliResult e = run_cli(args);
        EXPECT_EQ(e.code, 1) << args;
        EXPECT_NE(e.err.find(message), std::string::npos) << args << ": " << e.err;
    }
}
