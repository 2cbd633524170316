// The safetensors reader: every malformed case is a fovea::Error naming the file and the
// problem; valid edge cases load.
#include <chrono>

#include "fixtures.hpp"

using namespace fovea_test;

namespace {

std::string dir() {
    static const std::string d = temp_dir("safetensors");
    return d;
}

// Writes the bytes and returns the error opening them gives ("" if it opens).
std::string open_error(const std::string& name, const std::string& bytes) {
    const std::string path = dir() + "/" + name + ".safetensors";
    write_file(path, bytes);
    const std::string e = error_of([&] { fovea::SafeTensorsFile::open(path); });
    if (!e.empty()) EXPECT_NE(e.find(path), std::string::npos) << "message does not name the file: " << e;
    return e;
}

std::string one(const std::string& entry, const std::string& data) {
    return safetensors_bytes("{\"a\":" + entry + "}", data);
}

}  // namespace

#define EXPECT_REJECTED(name, bytes, fragment)                                           \
    do {                                                                                 \
        const std::string e = open_error(name, bytes);                                   \
        EXPECT_NE(e.find(fragment), std::string::npos) << "got: '" << e << "'";          \
    } while (0)

TEST(SafeTensors, RejectsMalformedFiles) {
    const std::string f4 = floats({1, 2});
    EXPECT_REJECTED("empty", "", "shorter than the 8-byte");
    EXPECT_REJECTED("short", "abc", "shorter than the 8-byte");
    EXPECT_REJECTED("len_past_end", le64(1000) + "{}", "past the end");
    EXPECT_REJECTED("len_huge", le64(200ull << 20) + "{}", "100 MB");
    EXPECT_REJECTED("len_max", le64(~0ull) + "{}", "100 MB");
    EXPECT_REJECTED("not_json", safetensors_bytes("{nope", ""), "not valid JSON");
    EXPECT_REJECTED("not_utf8", safetensors_bytes("{\"\xff\xfe\":1}", ""), "not valid JSON");
    // Bounded while parsed: nesting, entries per object, rank, name and string lengths.
    EXPECT_REJECTED("deep", safetensors_bytes("{\"x\":{\"y\":" + std::string(100000, '[') + std::string(100000, ']') + "}}", ""),
                    "nested deeper");
    EXPECT_REJECTED("top_array", safetensors_bytes(std::string(100000, '[') + std::string(100000, ']'), ""), "not a JSON object");
    EXPECT_REJECTED("nested_shape", one(R"({"dtype":"F32","shape":[[2]],"data_offsets":[0,8]})", f4), "nested deeper");
    EXPECT_REJECTED("rank_17", one(R"({"dtype":"F32","shape":[1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,2],"data_offsets":[0,8]})", f4),
                    "too many items");
    EXPECT_REJECTED("long_name", safetensors_bytes("{\"" + std::string(2000, 'n') + "\":{}}", ""), "a name of 2000 bytes");
    EXPECT_REJECTED("long_string", safetensors_bytes("{\"__metadata__\":{\"k\":\"" + std::string(70000, 's') + "\"}}", ""),
                    "a string of 70000 bytes");
    EXPECT_REJECTED("not_object", safetensors_bytes("[1,2]", ""), "not a JSON object");
    EXPECT_REJECTED("entry_not_object", safetensors_bytes("{\"a\":3}", ""), "not an object");
    EXPECT_REJECTED("metadata_not_strings", safetensors_bytes("{\"__metadata__\":{\"k\":1}}", ""), "not a string");
    EXPECT_REJECTED("unknown_dtype", one(R"({"dtype":"F7","shape":[2],"data_offsets":[0,8]})", f4), "unknown dtype");
    EXPECT_REJECTED("missing_dtype", one(R"({"shape":[2],"data_offsets":[0,8]})", f4), "dtype");
    EXPECT_REJECTED("negative_shape", one(R"({"dtype":"F32","shape":[-2],"data_offsets":[0,8]})", f4), "non-negative");
    EXPECT_REJECTED("fraction_shape", one(R"({"dtype":"F32","shape":[1.5],"data_offsets":[0,8]})", f4), "non-negative");
    EXPECT_REJECTED("missing_shape", one(R"({"dtype":"F32","data_offsets":[0,8]})", f4), "shape");
    EXPECT_REJECTED("missing_offsets", one(R"({"dtype":"F32","shape":[2]})", f4), "data_offsets");
    EXPECT_REJECTED("negative_offsets", one(R"({"dtype":"F32","shape":[2],"data_offsets":[-8,0]})", f4), "data_offsets");
    EXPECT_REJECTED("overflow_shape",
                    one(R"({"dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,8]})", f4), "overflows");
    EXPECT_REJECTED("overflow_bytes", one(R"({"dtype":"F64","shape":[4611686018427387904],"data_offsets":[0,8]})", f4),
                    "overflows");
    EXPECT_REJECTED("size_mismatch", one(R"({"dtype":"F32","shape":[3],"data_offsets":[0,8]})", f4), "bytes expected");
    EXPECT_REJECTED("past_end", one(R"({"dtype":"F32","shape":[2],"data_offsets":[8,16]})", f4), "run past the data");
    EXPECT_REJECTED("reversed", one(R"({"dtype":"F32","shape":[0],"data_offsets":[8,0]})", f4), "end before");
    EXPECT_REJECTED("trailing", one(R"({"dtype":"F32","shape":[1],"data_offsets":[0,4]})", f4), "trailing bytes");
    EXPECT_REJECTED("hole", one(R"({"dtype":"F32","shape":[1],"data_offsets":[4,8]})", f4), "hole");
    EXPECT_REJECTED("overlap",
                    safetensors_bytes(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
                                      R"("b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})", f4),
                    "overlaps");
    EXPECT_REJECTED("duplicate",
                    safetensors_bytes(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},)"
                                      R"("a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})", f4),
                    "duplicate tensor name 'a'");
    EXPECT_REJECTED("directory_is_not_a_file", "", "shorter");  // placeholder file; real dir below
    const std::string e = error_of([&] { fovea::SafeTensorsFile::open(dir()); });
    EXPECT_NE(e.find("is a directory"), std::string::npos) << e;
    const std::string m = error_of([&] { fovea::SafeTensorsFile::open(dir() + "/missing.safetensors"); });
    EXPECT_NE(m.find("cannot open"), std::string::npos) << m;
}

TEST(SafeTensors, AcceptsPaddingZeroSizeRankZeroAndMisalignedData) {
    // Header of 13 bytes: the F32 data starts at offset 21, misaligned, so it must be copied.
    const std::string hdr = R"({"a":{"dtype":"F32","shape":[],"data_offsets":[0,4]},"z":{"dtype":"F32","shape":[0,3],"data_offsets":[4,4]},"h":{"dtype":"F16","shape":[2],"data_offsets":[4,8]},"b":{"dtype":"BF16","shape":[1],"data_offsets":[8,10]}})";
    std::string padded = hdr + "   ";  // spaces after the JSON are allowed
    const std::string data = floats({3.5f}) + std::string("\x00\x3c\x00\xc0", 4) + std::string("\x80\x3f", 2);
    const std::string path = dir() + "/good.safetensors";
    write_file(path, safetensors_bytes(padded, data));
    auto f = fovea::SafeTensorsFile::open(path);
    ASSERT_EQ(f->tensors().size(), 4u);
    EXPECT_EQ(f->read(*f->find("a")), std::vector<float>{3.5f});
    EXPECT_EQ(f->read(*f->find("h")), (std::vector<float>{1.0f, -2.0f}));
    EXPECT_EQ(f->read(*f->find("b")), std::vector<float>{1.0f});
    EXPECT_TRUE(f->read(*f->find("z")).empty());
    EXPECT_TRUE(f->find("z")->shape == (std::vector<std::int64_t>{0, 3}));
}

// The file is read when tensors are bound, not mapped: a file cut short after it was opened is an
// error naming it, never a SIGBUS.
TEST(SafeTensors, FileTruncatedAfterOpenIsAnError) {
    const std::string path = dir() + "/shrinks.safetensors";
    write_safetensors(path, {{"w", {"F32", {1024}, std::string(4096, '\0')}}});
    auto f = fovea::SafeTensorsFile::open(path);
    std::filesystem::resize_file(path, 64);
    const std::string m = error_of([&] { f->read(*f->find("w")); });
    EXPECT_NE(m.find("changed while it was read"), std::string::npos) << m;
    EXPECT_NE(m.find(path), std::string::npos) << m;
}

// 60,000 entries (a header nlohmann's callback parser took 16 s over): read as SAX events in
// linear time. Checked as a ratio to 6,000 entries, not as a time: 10x the entries, well under
// 30x the time (a quadratic reader takes 100x).
TEST(SafeTensors, HeaderReadingIsLinearInItsEntries) {
    auto file_with = [&](int n) {
        std::string h = "{";
        for (int i = 0; i < n; ++i)
            h += (i ? ",\"t" : "\"t") + std::to_string(i) + "\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[" +
                 std::to_string(4 * i) + "," + std::to_string(4 * i + 4) + "]}";
        const std::string path = dir() + "/entries_" + std::to_string(n) + ".safetensors";
        write_file(path, safetensors_bytes(h + "}", std::string(static_cast<std::size_t>(4 * n), '\0')));
        return path;
    };
    auto seconds = [](const std::string& path, std::size_t expect) {
        double best = 1e9;
        for (int rep = 0; rep < 3; ++rep) {
            const auto t0 = std::chrono::steady_clock::now();
            const auto f = fovea::SafeTensorsFile::open(path);
            best = std::min(best, std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
            EXPECT_EQ(f->tensors().size(), expect);
        }
        return best;
    };
    const double small = seconds(file_with(6000), 6000), large = seconds(file_with(60000), 60000);
    std::printf("safetensors header: 6,000 entries %.1f ms, 60,000 entries %.1f ms\n", 1e3 * small, 1e3 * large);
    EXPECT_LT(large, 30 * small + 0.05);
}
