// The cache store (`fastboop boot`) against `fastboop-cache run` (the CMake
// functions): an entry a run inserted is found under the key the store
// computes (files and a nested key directory, names with spaces), an entry the
// store inserted is a hit for a run, a corrupted entry is not served and is
// replaced.
#include "artifact_cache/memo.hpp"
#include "artifact_cache/run.hpp"
#include "artifact_cache/store.hpp"
#include "common/fd.hpp"
#include "common/hash.hpp"
#include "test_support.hpp"

#include <atomic>
#include <chrono>
#include <fcntl.h>
#include <filesystem>
#include <gmock/gmock.h>
#include <thread>

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

// Key digests of inputs over kTreeAbove (digest.hpp): the tree as the shell
// computes it from split(1) and sha256sum(1) pieces; the plain digest up to
// the bound; a tree digest's record under its own name, so a plain record of
// the same file is never taken for it; and an entry file as a key input.
TEST(TreeDigest, MatchesTheLeavesAsSha256sumHashesThem) {
  FASTBOOP_REQUIRE_PROGRAM("split");
  FASTBOOP_REQUIRE_PROGRAM("sha256sum");
  test::TempDir tmp;
  const std::size_t size = 2 * kTreeLeaf + 12345; // three leaves, the last short
  test::write_file(tmp / "big", test::random_bytes(size, 3));
  // bash's printf turns each leaf's hex into its 32 bytes.
  const auto fd =
      test::run({"bash", "-c",
                 "cd \"$0\" && split -b 8388608 -d big leaf. && "
                 "{ printf 'fastboop-tree-v1 %s\\n' \"$1\"; for l in leaf.*; do "
                 "h=$(sha256sum \"$l\" | cut -c1-64); printf \"$(sed 's/../\\\\x&/g' <<<\"$h\")\"; "
                 "done; } | sha256sum | cut -c1-64",
                 tmp.path().string(), std::to_string(size)});
  ASSERT_EQ(fd.exit_code, 0) << fd.err;
  const std::string expected(fd.out.begin(), fd.out.begin() + 64);
  UniqueFd in(::open((tmp / "big").c_str(), O_RDONLY | O_CLOEXEC));
  EXPECT_EQ(tree_digest_fd(in.get(), size), expected);
  EXPECT_EQ(tree_digest_fd(in.get(), size + 1), std::nullopt); // shorter than claimed
}

TEST(TreeDigest, InputsOverTheBoundAreTreesAndKeepTheirOwnRecords) {
  test::TempDir tmp;
  const std::string cache = (tmp / "cache").string();
  auto sparse = [&](const char* name, std::uint64_t size) {
    const fs::path p = tmp / name;
    test::write_file(p, std::string_view("head"));
    fs::resize_file(p, size);
    return p;
  };
  const fs::path at = sparse("at", kTreeAbove), over = sparse("over", kTreeAbove + 1);
  std::this_thread::sleep_for(std::chrono::milliseconds(150)); // settled: recorded
  const auto plain = input_digest(cache, at);
  ASSERT_TRUE(plain);
  EXPECT_EQ(*plain, *cache_digest_file(at));
  const auto tree = input_digest(cache, over);
  ASSERT_TRUE(tree);
  UniqueFd in(::open(over.c_str(), O_RDONLY | O_CLOEXEC));
  EXPECT_EQ(*tree, "tree:" + *tree_digest_fd(in.get(), kTreeAbove + 1));
  const std::string id = *file_identity(over.string());
  EXPECT_EQ(recorded_digest({digests_dir(cache)}, id + ".tree"), tree->substr(5));
  // A plain record of the same identity (as a placed output gets) is not read.
  record_digest(digests_dir(cache), id, over.string(), std::string(64, 'a'));
  EXPECT_EQ(*input_digest(cache, over), *tree);
  // An entry file as a key input: the manifest's digest up to the bound,
  // the tree above it (whatever the manifest says).
  const auto small = entry_file_input(cache, tmp.path(), "at", "given");
  ASSERT_TRUE(small);
  EXPECT_EQ(small->digest, "given");
  const auto big = entry_file_input(cache, tmp.path(), "over", "given");
  ASSERT_TRUE(big);
  EXPECT_EQ(big->digest, *tree);
  EXPECT_EQ(big->name, "over");
}

// Turns: a second run asking for a name someone holds waits until it is
// released, another name does not wait, and the cache gains one file for all
// of them (no lock file per name left behind).
TEST(Turn, OneRunAtATimePerNameAndOneFileForEveryName) {
  test::TempDir tmp;
  const std::string cache = (tmp / "cache").string();
  UniqueFd first = take_turn(cache, "object " + std::string(64, 'a'));
  ASSERT_TRUE(first);
  std::atomic<bool> second_has_it{false};
  std::thread second([&] {
    const UniqueFd turn = take_turn(cache, "object " + std::string(64, 'a'));
    second_has_it = static_cast<bool>(turn);
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  EXPECT_FALSE(second_has_it) << "two runs held the same turn";
  // A separate name is a separate byte (two of 2^32 coincide only by chance).
  EXPECT_TRUE(take_turn(cache, "input 1-2-3-4.000000000-5.000000000"));
  first = UniqueFd();
  second.join();
  EXPECT_TRUE(second_has_it);
  std::vector<std::string> names;
  for (const auto& e : fs::directory_iterator(cache))
    names.push_back(e.path().filename().string());
  EXPECT_EQ(names, std::vector<std::string>{"turns"});
}

// A digest record names an inode in one state: a file reached through
// another link (an output linked to its cache entry) finds the record
// written for the first.
TEST(DigestRecord, OneRecordServesEveryLinkOfTheInode) {
  test::TempDir tmp;
  test::write_file(tmp / "entry", "entry bytes");
  ASSERT_EQ(::link((tmp / "entry").c_str(), (tmp / "output").c_str()), 0);
  const auto id = file_identity((tmp / "entry").string());
  ASSERT_TRUE(id);
  ASSERT_EQ(file_identity((tmp / "output").string()), id);
  record_digest((tmp / "records").string(), *id, (tmp / "entry").string(), std::string(64, 'c'));
  EXPECT_EQ(
      recorded_digest({(tmp / "records").string()}, *file_identity((tmp / "output").string())),
      std::string(64, 'c'));
}

} // namespace
} // namespace fastboop::artifact_cache
