// fastboop-fs-bench KIND IMAGE: open IMAGE as KIND (auto, erofs, ext4, fat,
// iso9660), read every file and link, print counts and wall time. Driven by
// bench.sh, which times the peer tools on the same images.
#include "filesystems/open.hpp"
#include "filesystems/walk.hpp"
#include "sources.hpp"

#include <chrono>
#include <cstdio>
#include <string>

int main(int argc, char** argv) {
  using namespace fastboop;
  if (argc != 3) {
    std::fprintf(stderr, "usage: %s auto|erofs|ext4|fat|iso9660 IMAGE\n", argv[0]);
    return 2;
  }
  std::string kind = argv[1];
  filesystems::FsKind k = kind == "erofs"     ? filesystems::FsKind::Erofs
                          : kind == "ext4"    ? filesystems::FsKind::Ext4
                          : kind == "fat"     ? filesystems::FsKind::Fat
                          : kind == "iso9660" ? filesystems::FsKind::Iso9660
                                              : filesystems::FsKind::Auto;
  auto start = std::chrono::steady_clock::now();
  auto source = test::FileSource::open(argv[2]);
  if (!source.ok()) {
    std::fprintf(stderr, "%s\n", source.error().message().c_str());
    return 1;
  }
  auto fs = filesystems::open_filesystem(std::move(source).value(), k);
  if (!fs.ok()) {
    std::fprintf(stderr, "%s\n", fs.error().message().c_str());
    return 1;
  }
  std::uint64_t files = 0, bytes = 0;
  Bytes buf(1 << 20);
  auto r = filesystems::walk_tree(**fs, [&](const filesystems::WalkItem& item) -> Result<void> {
    if (item.stat.type == filesystems::FileType::Symlink)
      TRY((*fs)->read_link(item.node));
    if (item.stat.type != filesystems::FileType::Regular)
      return ok();
    ++files;
    for (std::uint64_t off = 0; off < item.stat.size;) {
      std::size_t n = static_cast<std::size_t>(std::min<std::uint64_t>(buf.size(), item.stat.size - off));
      TRY((*fs)->read(item.node, off, {buf.data(), n}));
      off += n;
    }
    bytes += item.stat.size;
    return ok();
  });
  if (!r.ok()) {
    std::fprintf(stderr, "%s\n", r.error().message().c_str());
    return 1;
  }
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf("%s: %llu files, %llu bytes in %.3f s\n", std::string((*fs)->kind()).c_str(),
              static_cast<unsigned long long>(files), static_cast<unsigned long long>(bytes), secs);
  return 0;
}
