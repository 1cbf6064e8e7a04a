#include "tree.hpp"

#include "filesystems/walk.hpp"
#include "test_support.hpp"

#include <algorithm>
#include <fstream>
#include <map>
#include <random>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

namespace fastboop::test {

namespace fs = std::filesystem;

namespace {

Bytes text_bytes(std::size_t n, std::uint32_t seed) {
  std::string s;
  std::mt19937 rng(seed);
  while (s.size() < n)
    s += "line " + std::to_string(s.size()) + " of a compressible file, token " + std::to_string(rng() % 97) + "\n";
  s.resize(n);
  return Bytes(s.begin(), s.end());
}

void put(const fs::path& p, ByteSpan data) {
  fs::create_directories(p.parent_path());
  write_file(p, data);
}

} // namespace

void make_tree(const fs::path& root, TreeFlavor flavor) {
  fs::create_directories(root);
  const std::size_t sizes[] = {0,    1,    2,    511,  512,  513,   1023,  1024,  1025,  4095,
                               4096, 4097, 8191, 8192, 8193, 12287, 12288, 65535, 65536, 65537, 200000};
  std::uint32_t seed = 1;
  if (flavor == TreeFlavor::Fat) {
    for (auto n : sizes) {
      put(root / ("r" + std::to_string(n) + ".bin"), random_bytes(n, seed++));
      put(root / "Text Files" / ("Text_" + std::to_string(n) + ".txt"), text_bytes(n, seed++));
    }
    put(root / "README.TXT", as_bytes("upper-case 8.3 name\n"));
    put(root / "lower.txt", as_bytes("lower-case 8.3 name\n"));
    put(root / "MixedCase.Txt", as_bytes("mixed case\n"));
    put(root / "a long file name with spaces and.dots.tar.gz", as_bytes("long name\n"));
    put(root / "EFI" / "BOOT" / "BOOTAA64.EFI", random_bytes(70000, seed++));
    put(root / "deep" / "one" / "two" / "three" / "leaf.dat", random_bytes(3000, seed++));
    put(root / "big.bin", random_bytes(600000, seed++));
    for (int i = 0; i < 120; ++i)
      put(root / "many" / ("entry number " + std::to_string(i) + ".cfg"), text_bytes(37 + i, seed++));
    fs::create_directories(root / "EmptyDir");
    return;
  }
  for (auto n : sizes) {
    put(root / ("rand_" + std::to_string(n)), random_bytes(n, seed++));
    put(root / "text" / ("text_" + std::to_string(n)), text_bytes(n, seed++));
  }
  put(root / "big" / "random_1M", random_bytes((1u << 20) + 123, seed++));
  put(root / "big" / "text_2M", text_bytes((2u << 20) + 77, seed++));
  put(root / "big" / "zeros_1M", Bytes((1u << 20) + 5, 0));
  Bytes mixed = random_bytes(300000, seed++);
  Bytes t = text_bytes(300000, seed++);
  mixed.insert(mixed.begin() + 100000, t.begin(), t.end());
  put(root / "big" / "mixed", mixed);
  put(root / "a" / "b" / "c" / "d" / "e" / "f" / "leaf.txt", as_bytes("deep leaf\n"));
  for (int i = 0; i < 400; ++i)
    put(root / "many" / ("file_with_a_longer_name_" + std::to_string(i)), text_bytes(static_cast<std::size_t>(i * 7), seed++));
  put(root / "many" / std::string(200, 'n'), as_bytes("name of 200 bytes\n"));
  fs::create_directories(root / "emptydir");
  fs::create_symlink("text/text_4096", root / "link_rel");
  fs::create_symlink("/a/b/c/d/e/f/leaf.txt", root / "link_abs");
  fs::create_symlink("a/b", root / "link_dir");
  fs::create_symlink("does/not/exist", root / "link_dangling");
  std::string long_target; // a slow (out-of-inode) symlink in ext4, within ISO limits
  for (int i = 0; i < 40; ++i)
    long_target += "component" + std::to_string(i) + "/";
  long_target += "end";
  fs::create_symlink(long_target, root / "link_long");
  fs::create_symlink("../../../../etc/passwd", root / "a" / "link_escape");
  put(root / "hard1", as_bytes("hard linked content\n"));
  fs::create_hard_link(root / "hard1", root / "hard2");
  put(root / "modes" / "exec", as_bytes("#!/bin/sh\n"));
  put(root / "modes" / "private", as_bytes("secret\n"));
  put(root / "modes" / "setuid", as_bytes("suid\n"));
  ::chmod((root / "modes" / "exec").c_str(), 0755);
  ::chmod((root / "modes" / "private").c_str(), 0600);
  ::chmod((root / "modes" / "setuid").c_str(), 04755);
  put(root / "owned" / "by_user", as_bytes("uid 1000\n"));
  if (::geteuid() == 0) {
    if (::chown((root / "owned" / "by_user").c_str(), 1000, 1001) != 0)
      ADD_FAILURE() << "chown failed";
    if (::lchown((root / "owned").c_str(), 1234, 1234) != 0)
      ADD_FAILURE() << "chown failed";
  }
  ::mkfifo((root / "fifo").c_str(), 0644);
}

const fs::path& shared_dir() {
  static TempDir dir;
  return dir.path();
}

const fs::path& posix_tree() {
  static const fs::path tree = [] {
    fs::path root = shared_dir() / "posix-tree";
    make_tree(root, TreeFlavor::Posix);
    // Extended attributes make the image writers emit xattr bodies we must skip.
    ::setxattr((root / "hard1").c_str(), "user.fastboop", "value", 5, 0);
    ::setxattr((root / "text").c_str(), "user.fastboop.dir", "v", 1, 0);
    ::setxattr((root / "text" / "text_65537").c_str(), "trusted.fastboop", "long value here", 15, 0);
    return root;
  }();
  return tree;
}

const fs::path& fat_tree() {
  static const fs::path tree = [] {
    fs::path root = shared_dir() / "fat-tree";
    make_tree(root, TreeFlavor::Fat);
    return root;
  }();
  return tree;
}

std::size_t expect_same_tree(filesystems::Filesystem& expected, filesystems::Filesystem& actual, CompareMeta meta,
                             const std::vector<std::string>& skip_link_targets) {
  using filesystems::FileType;
  auto collect = [](filesystems::Filesystem& f) {
    std::map<std::string, filesystems::WalkItem> items;
    auto r = filesystems::walk_tree(f, [&](const filesystems::WalkItem& item) -> Result<void> {
      items.emplace(item.path, item);
      return ok();
    });
    EXPECT_TRUE(r.ok()) << f.kind() << ": " << (r.ok() ? "" : r.error().message());
    return items;
  };
  auto want = collect(expected);
  auto got = collect(actual);
  std::vector<std::string> want_names, got_names;
  for (auto& [k, v] : want)
    want_names.push_back(k);
  for (auto& [k, v] : got)
    got_names.push_back(k);
  EXPECT_EQ(want_names, got_names);
  std::mt19937 rng(42);
  for (auto& [path, w] : want) {
    auto it = got.find(path);
    if (it == got.end())
      continue;
    const auto& g = it->second;
    SCOPED_TRACE(path);
    EXPECT_EQ(static_cast<int>(w.stat.type), static_cast<int>(g.stat.type));
    if (w.stat.type != g.stat.type)
      continue;
    if (meta == CompareMeta::All) {
      EXPECT_EQ(w.stat.mode, g.stat.mode);
      EXPECT_EQ(w.stat.uid, g.stat.uid);
      EXPECT_EQ(w.stat.gid, g.stat.gid);
    }
    bool skip_target = std::find(skip_link_targets.begin(), skip_link_targets.end(), path) != skip_link_targets.end();
    if (w.stat.type == FileType::Symlink && !skip_target) {
      auto a = expected.read_link(w.node);
      auto b = actual.read_link(g.node);
      EXPECT_TRUE(a.ok() && b.ok()) << (b.ok() ? "" : b.error().message());
      if (a.ok() && b.ok()) {
        EXPECT_EQ(*a, *b);
      }
    }
    if (w.stat.type != FileType::Regular)
      continue;
    EXPECT_EQ(w.stat.size, g.stat.size);
    if (w.stat.size != g.stat.size)
      continue;
    Bytes a(w.stat.size), b(g.stat.size);
    auto ra = expected.read(w.node, 0, a);
    auto rb = actual.read(g.node, 0, b);
    EXPECT_TRUE(ra.ok());
    EXPECT_TRUE(rb.ok()) << rb.error().message();
    if (!ra.ok() || !rb.ok())
      continue;
    EXPECT_TRUE(a == b) << "contents differ";
    // Random sub-ranges exercise offset arithmetic across blocks/extents.
    for (int k = 0; k < 3 && w.stat.size > 1; ++k) {
      std::uint64_t off = rng() % w.stat.size;
      std::uint64_t len = 1 + rng() % std::min<std::uint64_t>(w.stat.size - off, 70000);
      Bytes part(len);
      auto rp = actual.read(g.node, off, part);
      EXPECT_TRUE(rp.ok()) << rp.error().message();
      if (!rp.ok())
        break;
      EXPECT_TRUE(std::equal(part.begin(), part.end(), a.begin() + static_cast<std::ptrdiff_t>(off)))
          << "range " << off << "+" << len << " differs";
    }
    // A read past the end is an error, not silent zeros.
    Bytes one(1);
    EXPECT_FALSE(actual.read(g.node, g.stat.size, one).ok());
  }
  return want.size();
}

} // namespace fastboop::test
