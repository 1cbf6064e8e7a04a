// The C++ cache store against FastboopCacheRun.cmake itself: an entry the
// script inserted is found under the key the store computes (files and a
// nested key directory, names with spaces), an entry the store inserted is a
// hit for the script, a corrupted entry is not served and is replaced.
#include "artifact_cache/store.hpp"
#include "common/hash.hpp"
#include "test_support.hpp"

#include <filesystem>
#include <gmock/gmock.h>

namespace fastboop::artifact_cache {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

struct Fixture {
  test::TempDir dir;
  fs::path cache = dir / "cache";
  fs::path rootfs = dir / "root fs.img";
  fs::path tree = dir / "tree";
  fs::path tool = dir / "tool";
  Fixture() {
    test::write_file(rootfs, test::random_bytes(70000, 7));
    test::write_file(tool, "#!/bin/sh\n");
    fs::create_directories(tree / "b dir/c");
    test::write_file(tree / "a.txt", "a");
    test::write_file(tree / "b dir/c/deep", "deep");
    test::write_file(tree / "Z", "upper case sorts first");
  }
  // KEY_FILES tool, rootfs; KEY_DIRS tree; as the functions pass them.
  std::vector<KeyInput> inputs() const {
    std::vector<KeyInput> in{*file_input(cache.string(), tool),
                             *file_input(cache.string(), rootfs)};
    const auto listed = directory_inputs(cache.string(), tree);
    EXPECT_TRUE(listed) << listed.error().message();
    if (listed)
      in.insert(in.end(), listed->begin(), listed->end());
    return in;
  }
  // The script generating OUTPUT_DIR `out` with one file through `cmake -E copy`.
  ProcessOutput script(const fs::path& out) const {
    return test::run({"cmake", "-DFASTBOOP_CACHE_DIR=" + cache.string(), "-DKIND=stage0",
                      "-DKEY_FILES=" + tool.string() + "|" + rootfs.string(),
                      "-DKEY_DIRS=" + tree.string(),
                      "-DKEY_TEXT=device=x|modules=a|b|root=", "-DOUTPUT_DIR=" + out.string(), "-P",
                      (test::source_dir() / "cmake-modules/FastboopCacheRun.cmake").string(), "--",
                      "cmake", "-E", "copy", rootfs.string(), (out / "kernel").string()});
  }
};

TEST(CacheStore, FindsTheEntryTheScriptInsertedUnderTheSameKey) {
  Fixture f;
  auto gen = f.script(f.dir / "out");
  ASSERT_EQ(gen.exit_code, 0) << gen.err << std::string(as_chars(gen.out));
  ASSERT_THAT(std::string(as_chars(gen.out)), HasSubstr("generating stage0"));
  const std::string key = cache_key("stage0", "device=x|modules=a|b|root=", f.inputs());
  auto entry = find_entry(f.cache.string(), "stage0", key);
  ASSERT_TRUE(entry) << entry.error().message();
  ASSERT_TRUE(entry->has_value()) << "no entry under " << key;
  EXPECT_EQ((*entry)->files.size(), 1u);
  EXPECT_EQ(test::read_file((*entry)->file("kernel")), test::read_file(f.rootfs));
  // Another key (one byte of text) is another entry.
  EXPECT_FALSE(*find_entry(f.cache.string(), "stage0",
                           cache_key("stage0", "device=y|modules=a|b|root=", f.inputs())));
}

TEST(CacheStore, AnEntryTheStoreInsertedIsAHitForTheScript) {
  Fixture f;
  const std::string key = cache_key("stage0", "device=x|modules=a|b|root=", f.inputs());
  auto ins = Insertion::begin(f.cache.string(), "stage0", key);
  ASSERT_TRUE(ins) << ins.error().message();
  test::write_file(ins->dir() / "kernel", test::read_file(f.rootfs));
  auto entry = ins->commit({"kernel"});
  ASSERT_TRUE(entry) << entry.error().message();
  auto hit = f.script(f.dir / "out");
  ASSERT_EQ(hit.exit_code, 0) << hit.err;
  EXPECT_THAT(std::string(as_chars(hit.out)), HasSubstr("cache hit stage0 " + key));
  EXPECT_EQ(test::read_file(f.dir / "out" / "kernel"), test::read_file(f.rootfs));
}

TEST(CacheStore, ACorruptedEntryIsNotServedAndIsReplaced) {
  Fixture f;
  const std::string key = cache_key("stage0", "t", f.inputs());
  {
    auto ins = Insertion::begin(f.cache.string(), "stage0", key);
    ASSERT_TRUE(ins) << ins.error().message();
    test::write_file(ins->dir() / "kernel", "good");
    ASSERT_TRUE(ins->commit({"kernel"}));
  }
  const fs::path stored = f.cache / "stage0" / key / "kernel";
  test::write_file(stored, "evil"); // same size, new ctime: its record no longer applies
  EXPECT_FALSE(*find_entry(f.cache.string(), "stage0", key));
  auto again = Insertion::begin(f.cache.string(), "stage0", key);
  ASSERT_TRUE(again) << again.error().message();
  test::write_file(again->dir() / "kernel", "good");
  auto entry = again->commit({"kernel"});
  ASSERT_TRUE(entry) << entry.error().message();
  EXPECT_EQ(test::read_text(entry->file("kernel")), "good");
  ASSERT_TRUE(*find_entry(f.cache.string(), "stage0", key));
  // Nothing of the staging or the replaced entry is left behind.
  std::vector<std::string> names;
  for (const auto& e : fs::directory_iterator(f.cache / "stage0"))
    names.push_back(e.path().filename().string());
  EXPECT_EQ(names, std::vector<std::string>{key});
}

TEST(CacheStore, KeyDirectoriesAreNamedRelativeAndSortedByteWise) {
  Fixture f;
  auto in = directory_inputs(f.cache.string(), f.tree);
  ASSERT_TRUE(in) << in.error().message();
  std::vector<std::string> names;
  for (const auto& i : *in)
    names.push_back(i.name);
  EXPECT_EQ(names, (std::vector<std::string>{"Z", "a.txt", "b dir/c/deep"}));
  EXPECT_EQ(in->back().digest, sha512_hex(as_bytes(std::string_view("deep"))));
}

} // namespace
} // namespace fastboop::artifact_cache
