// fovea-classify end to end: logits files equal timm's, and every failure is one "error:" line.
#include <stdlib.h>

#include <cstdlib>
#include <sstream>

#include <fovea/io/image.hpp>

#include "fixtures.hpp"

using namespace fovea_test;

namespace {

struct CliResult {
    int code;
    std::string out, err;
};

CliResult run_cli(const std::string& args) {
    // ctest runs tests in parallel processes: each run gets its own folder
    std::string tmpl = (std::filesystem::temp_directory_path() / "fovea_cli_XXXXXX").string();
    const std::string d = ::mkdtemp(tmpl.data());
    const std::string cmd = std::string(FOVEA_CLI) + " " + args + " >" + d + "/out 2>" + d + "/err";
    const int status = std::system(cmd.c_str());
    auto slurp = [](const std::string& p) {
        std::ifstream f(p);
        std::stringstream s;
        s << f.rdbuf();
        return s.str();
    };
    return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, slurp(d + "/out"), slurp(d + "/err")};
}

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
