// Driver of tests/bench/pipeline.sh: extracts the kernel from the FAT "boot"
// partition and a list of files from the ext4 "root" partition of an
// http-served `.img.xz` (xz <- android sparse <- gpt), the way fastboop-stage0
// reads a Boot Profile's rootfs and kernel. Prints the time spent.
#include "common/file_io.hpp"
#include "filesystems/filesystem.hpp"
#include "filesystems/open.hpp"
#include "pipeline/pipeline.hpp"

#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>

using namespace fastboop;
using namespace fastboop::pipeline;
using profiles::PipelineSource;
using profiles::StageKind;

namespace {

PipelineSource partition(const std::string& url, const std::string& digest, std::uint64_t size, const std::string& label) {
  PipelineSource http;
  http.kind = StageKind::Http;
  http.location = url;
  http.content = profiles::ContentDigest{digest, size};
  PipelineSource xz;
  xz.kind = StageKind::Xz;
  xz.source = Box<PipelineSource>(std::move(http));
  PipelineSource sparse;
  sparse.kind = StageKind::AndroidSparse;
  sparse.source = Box<PipelineSource>(std::move(xz));
  PipelineSource gpt;
  gpt.kind = StageKind::Gpt;
  gpt.partlabel = label;
  gpt.source = Box<PipelineSource>(std::move(sparse));
  return gpt;
}

int fail(const Error& e) {
  std::cerr << "pipeline_bench: " << e.message() << "\n";
  return 1;
}

} // namespace

int main(int argc, char** argv) {
  std::map<std::string, std::string> a;
  for (int i = 1; i + 1 < argc; i += 2)
    a[argv[i]] = argv[i + 1];
  for (const char* k : {"--url", "--content", "--size", "--kernel", "--files", "--out"})
    if (!a.count(k)) {
      std::cerr << "usage: pipeline_bench --url U --content sha512:.. --size N [--sparse-hint-from local.xz] "
                   "--kernel /path --files list --out dir\n";
      return 2;
    }
  const std::uint64_t size = std::stoull(a["--size"]);
  PipelineSource boot = partition(a["--url"], a["--content"], size, "boot");
  PipelineSource root = partition(a["--url"], a["--content"], size, "root");

  // The sparse-index hint, as `fastboop-profile optimize` would ship it: built
  // here from a local copy (not timed, not fetched).
  PipelineHints hints;
  if (a.count("--sparse-hint-from")) {
    auto file = open_file_source(a["--sparse-hint-from"]);
    if (!file)
      return fail(file.error());
    auto xz = open_xz(std::move(file).value());
    if (!xz)
      return fail(xz.error());
    auto idx = scan_sparse_index(**xz);
    if (!idx)
      return fail(idx.error());
    hints.entries.push_back({stage_identity(**boot.source), {*idx}});
  }

  auto t0 = std::chrono::steady_clock::now();
  OpenOptions o;
  o.hints = hints.entries.empty() ? nullptr : &hints;
  o.network = NetworkMode::Online;
  std::filesystem::path out = a["--out"];
  {
    auto src = open_pipeline(boot, o);
    if (!src)
      return fail(src.error());
    auto fs = filesystems::open_filesystem(std::move(src).value(), filesystems::FsKind::Fat);
    if (!fs)
      return fail(fs.error());
    auto kernel = filesystems::read_file(**fs, a["--kernel"]);
    if (!kernel)
      return fail(kernel.error());
    if (auto w = write_file_atomic(out / std::filesystem::path(a["--kernel"]).filename(), *kernel); !w)
      return fail(w.error());
  }
  {
    auto src = open_pipeline(root, o);
    if (!src)
      return fail(src.error());
    auto fs = filesystems::open_filesystem(std::move(src).value(), filesystems::FsKind::Ext4);
    if (!fs)
      return fail(fs.error());
    std::ifstream list(a["--files"]);
    std::string path;
    int n = 0;
    while (std::getline(list, path)) {
      if (path.empty())
        continue;
      auto data = filesystems::read_file(**fs, path);
      if (!data)
        return fail(data.error());
      if (auto w = write_file_atomic(out / std::filesystem::path(path).filename(), *data); !w)
        return fail(w.error());
      ++n;
    }
    std::cout << "ours: extracted kernel + " << n << " files\n";
  }
  double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::printf("ours: extraction wall %.3f s (sparse hint %s)\n", s, hints.entries.empty() ? "absent" : "used");
  return 0;
}
