// The cache store (`fastboop boot`) against `fastboop-cache run` (the CMake
// functions): an entry a run inserted is found under the key the store
// computes (files and a nested key directory, names with spaces), an entry the
// store inserted is a hit for a run, a corrupted entry is not served and is
// replaced.
#include "artifact_cache/run.hpp"
#include "artifact_cache/store.hpp"
#include "common/hash.hpp"
#include "test_support.hpp"

#include <filesystem>
#include <gmock/gmock.h>

namespace fastboop::artifact_cache {
namespace {

namespace fs = std::filesystem;

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
  // A run generating OUTPUT_DIR `out` with one file through `cp`, as the
  // functions pass it.
  Result<RunOutcome> run(const fs::path& out) const {
    RunRequest r;
    r.cache_dir = cache.string();
    r.kind = "stage0";
    r.key_files = {tool.string(), rootfs.string()};
    r.key_dirs = {tree.string()};
    r.key_text = "device=x|modules=a|b|root=";
    r.output_dir = out.string();
    r.command = {"cp", rootfs.string(), (out / "kernel").string()};
    Counters counters;
    return run_cached(r, nullptr, counters);
  }
};

TEST(CacheStore, FindsTheEntryARunInsertedUnderTheSameKey) {
  Fixture f;
  auto gen = f.run(f.dir / "out");
  ASSERT_TRUE(gen) << gen.error().message();
  ASSERT_EQ(gen->served, Served::Generated);
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

TEST(CacheStore, AnEntryTheStoreInsertedIsAHitForARun) {
  Fixture f;
  const std::string key = cache_key("stage0", "device=x|modules=a|b|root=", f.inputs());
  auto ins = Insertion::begin(f.cache.string(), "stage0", key);
  ASSERT_TRUE(ins) << ins.error().message();
  test::write_file(ins->dir() / "kernel", test::read_file(f.rootfs));
  auto entry = ins->commit({"kernel"});
  ASSERT_TRUE(entry) << entry.error().message();
  auto hit = f.run(f.dir / "out");
  ASSERT_TRUE(hit) << hit.error().message();
  EXPECT_EQ(hit->served, Served::LocalHit);
  EXPECT_EQ(hit->key, key);
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
  EXPECT_EQ(in->back().digest, cache_digest("deep"));
}

} // namespace
} // namespace fastboop::artifact_cache
