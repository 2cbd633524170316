// One loaded model shared by 8 threads calling forward at once gives exactly the sequential
// results; NaN / Inf inputs poison only their own image. (Also built under ThreadSanitizer.)
#include <cstring>
#include <filesystem>
#include <limits>
#include <memory>
#include <thread>
#include <time.h>
#include <atomic>
#include <chrono>

#include "fixtures.hpp"

using namespace fovea_test;

namespace {

void check_shared_model(const std::string& name) {
    const fovea::Model model = fovea::load_model(data_dir() + "/" + name);
    const Reference ref(name);
    const auto base = ref.input();
    constexpr int kThreads = 8, kCalls = 3;
    std::vector<fovea::Tensor<float, 4>> inputs;
    for (int t = 0; t < kThreads; ++t) {  // a different input per thread
        fovea::Tensor<float, 4> x(base.shape());
        for (std::int64_t i = 0; i < x.size(); ++i) x.data()[i] = base.data()[i] * (1.0f + 0.1f * t);
        inputs.push_back(std::move(x));
    }
    std::vector<fovea::Tensor<float, 2>> sequential;
    for (auto& x : inputs) sequential.push_back(model.forward(x));

    std::vector<std::vector<fovea::Tensor<float, 2>>> concurrent(kThreads);
    std::vector<std::thread> pool;
    for (int t = 0; t < kThreads; ++t)
        pool.emplace_back([&, t] {
            for (int c = 0; c < kCalls; ++c) concurrent[t].push_back(model.forward(inputs[t]));
        });
    for (auto& th : pool) th.join();
    for (int t = 0; t < kThreads; ++t)
        for (auto& y : concurrent[t]) {
            ASSERT_EQ(y.size(), sequential[t].size());
            EXPECT_EQ(0, std::memcmp(y.data(), sequential[t].data(), y.size() * sizeof(float)))
                << name << ": thread " << t << " differs from the sequential result";
        }
}

}  // namespace

TEST(Concurrency, EightThreadsShareOneVit) { check_shared_model("deit_base_distilled_patch16_224"); }
TEST(Concurrency, EightThreadsShareOneSwin) { check_shared_model("swin_pad_40"); }

// The model keeps its weights alive: the handle outlives everything it was loaded from.
TEST(Concurrency, ModelOutlivesItsLoader) {
    std::unique_ptr<fovea::Model> m;
    {
        auto tmp = fovea::load_model(data_dir() + "/vit_base_patch16_224");
        m = std::make_unique<fovea::Model>(tmp);
    }
    const Reference ref("vit_base_patch16_224");
    const auto y = m->forward(ref.input());
    EXPECT_TRUE(compare(y.data(), ref.data("logits"), y.size()).ok());
}

// The model owns every parameter: its weight file may be emptied after loading (reading a mapped
// view of it would then be SIGBUS).
TEST(Concurrency, ModelOwnsItsParameters) {
    for (const std::string name : {"vit_base_patch16_224", "swin_pad_40"}) {
        const std::string dir = testing::TempDir() + "/owned_" + name;
        std::filesystem::create_directories(dir);
        for (const char* f : {"config.json", "model.safetensors"})
            std::filesystem::copy_file(data_dir() + "/" + name + "/" + f, dir + "/" + f,
                                       std::filesystem::copy_options::overwrite_existing);
        const fovea::Model m = fovea::load_model(dir);
        std::filesystem::resize_file(dir + "/model.safetensors", 0);
        const Reference ref(name);
        const auto y = m.forward(ref.input());
        EXPECT_TRUE(compare(y.data(), ref.data("logits"), y.size()).ok()) << name;
    }
}

// NaN or Inf in an image makes that image's logits NaN; the other images of the batch give what
// they give alone. No error, no crash: as PyTorch and ONNX Runtime behave.
TEST(NonFinite, NanAndInfPoisonOnlyTheirOwnImage) {
    for (const std::string name : {"vit_base_patch16_224", "swin_tiny_patch4_window7_224"}) {
        const fovea::Model model = fovea::load_model(data_dir() + "/" + name);
        const auto one = Reference(name).input();
        const std::int64_t per = one.size();
        fovea::Tensor<float, 4> x({3, one.shape(1), one.shape(2), one.shape(3)});
        for (int b = 0; b < 3; ++b) std::copy(one.data(), one.data() + per, x.data() + b * per);
        x.data()[per + 5] = std::numeric_limits<float>::quiet_NaN();
        x.data()[2 * per + 7] = std::numeric_limits<float>::infinity();
        const auto y = model.forward(x);
        const auto alone = model.forward(one);
        const std::int64_t K = y.shape(1);
        // image 0 is its single-image result (to the parity tolerance: GEMM blocking depends on N)
        EXPECT_TRUE(compare(y.data(), alone.data(), K).ok()) << name;
        for (std::int64_t k = 0; k < K; ++k) {
            EXPECT_TRUE(std::isfinite(y(0, k))) << name;
            EXPECT_TRUE(std::isnan(y(1, k))) << name;
            EXPECT_TRUE(std::isnan(y(2, k))) << name;
        }
    }
}

// Two callers running parallel loops at the same time both get help from the pool's workers (a
// second caller used to run every loop on its own thread while the first held the pool).
TEST(ThreadPool, ConcurrentCallersBothGetWorkers) {
    fovea::set_num_threads(0);
    if (fovea::num_threads() < 2) GTEST_SKIP() << "one hardware thread";
    auto& pool = fovea::detail::ThreadPool::instance();
    std::atomic<int> helped[2] = {0, 0};
    auto caller = [&](int who) {
        const auto self = std::this_thread::get_id();
        for (int loop = 0; loop < 100; ++loop)
            pool.run(8, [&](std::int64_t) {
                if (std::this_thread::get_id() != self) helped[who].fetch_add(1);
                // a whole millisecond: Windows' sleeps round shorter ones down to nothing
                std::this_thread::sleep_for(std::chrono::milliseconds(1));
            });
    };
    std::thread a(caller, 0), b(caller, 1);
    a.join();
    b.join();
    EXPECT_GT(helped[0].load(), 50) << "caller 0 ran almost every chunk itself";
    EXPECT_GT(helped[1].load(), 50) << "caller 1 ran almost every chunk itself";
}

// An idle pool sleeps: after a forward pass, its workers use no CPU time while the program waits.
TEST(ThreadPool, IdleWorkersTakeNoCpu) {
    fovea::set_num_threads(0);
    const fovea::Model model = fovea::load_model(data_dir() + "/swin_tiny_patch4_window7_224");
    model.forward(Reference("swin_tiny_patch4_window7_224").input());
    std::this_thread::sleep_for(std::chrono::milliseconds(20));  // past the workers' short spin
    auto cpu_seconds = [] {
        timespec t{};
        ::clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
        return static_cast<double>(t.tv_sec) + 1e-9 * static_cast<double>(t.tv_nsec);
    };
    const double before = cpu_seconds();
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    const double used = cpu_seconds() - before;
    EXPECT_LT(used, 0.015) << "the process used " << used << " s of CPU in 0.3 s of waiting";
}

// Loops nested inside a chunk run on the chunk's thread, and a chunk's exception reaches the caller.
TEST(ThreadPool, NestedLoopsAndExceptions) {
    fovea::set_num_threads(0);
    auto& pool = fovea::detail::ThreadPool::instance();
    std::atomic<int> inner{0};
    pool.run(4, [&](std::int64_t) {
        EXPECT_GE(fovea::num_threads(), 1);  // reading the size inside a chunk must not block
        pool.run(3, [&](std::int64_t) { inner.fetch_add(1); });
    });
    EXPECT_EQ(inner.load(), 12);
    EXPECT_THROW(pool.run(6, [&](std::int64_t c) {
        if (c == 3) throw fovea::Error("chunk 3");
    }), fovea::Error);
    std::atomic<int> after{0};
    pool.run(5, [&](std::int64_t) { after.fetch_add(1); });  // still usable
    EXPECT_EQ(after.load(), 5);
}

TEST(ThreadPool, ThreadCountIsCappedAtTheHardware) {
    const int hw = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
    EXPECT_EQ(fovea::set_num_threads(100000), hw);
    EXPECT_EQ(fovea::num_threads(), hw);
    EXPECT_EQ(fovea::set_num_threads(1), 1);
    EXPECT_EQ(fovea::set_num_threads(0), hw);
}
