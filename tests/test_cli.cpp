// fovea-classify end to end: logits files equal timm's, and every failure is one "error:" line.
#include <stdlib.h>

#include <cstdlib>
#include <sstream>

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
        const auto j = nlohmann::json::parse(r.out);
        ASSERT_EQ(j.size(), 1u);
        EXPECT_EQ(j[0]["top"].size(), 3u);
    }
}

TEST(Cli, BenchPrintsItsSummaryLine) {
    const CliResult r = run_cli("--weights " + data_dir() + "/swin_tiny_patch4_window7_224 --bench 3 --threads 1");
    ASSERT_EQ(r.code, 0) << r.err;
    EXPECT_NE(r.out.find("bench: model=swin_tiny_patch4_window7_224 batch=1 threads=1 median_ms="), std::string::npos)
        << r.out;
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
