// Driver of tests/bench/pipeline.sh: opens a compiled Boot Profile with its
// appended FBPHINT0 record exactly as fastboop-stage0 does
// (stage0::open_source), then extracts the profile's kernel (`kernel.path`
// from its FAT boot partition) and a list of files from the ext4 rootfs of an
// http-served `.img.xz` (xz <- android sparse <- gpt). Prints the time spent.
#include "common/file_io.hpp"
#include "filesystems/filesystem.hpp"
#include "stage0/source.hpp"

#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <map>

using namespace fastboop;

namespace {

int fail(const Error& e) {
  std::cerr << "pipeline_bench: " << e.message() << "\n";
  return 1;
}

} // namespace

int main(int argc, char** argv) {
  std::map<std::string, std::string> a;
  for (int i = 1; i + 1 < argc; i += 2)
    a[argv[i]] = argv[i + 1];
  for (const char* k : {"--profile", "--files", "--out"})
    if (!a.count(k)) {
      std::cerr << "usage: pipeline_bench --profile compiled.fbp --files list --out dir [--digest-check "
                   "upfront|when-complete]\n";
      return 2;
    }
  const std::filesystem::path out = a["--out"];
  auto t0 = std::chrono::steady_clock::now();
  // when-complete: what --unverified-ranged-reads does to a profile without
  // tables (the bench's run that measures the bytes fetched only to verify).
  stage0::SourceOptions options{.network = pipeline::NetworkMode::Online};
  if (a["--digest-check"] == "when-complete")
    options.digest_check = pipeline::DigestCheck::WhenComplete;
  auto source = stage0::open_source(a["--profile"], options);
  if (!source)
    return fail(source.error());
  const auto& bp = source->boot_profile;
  if (!bp || !bp->kernel || !source->kernel_fs)
    return fail(Error("the profile has no kernel source"));
  auto kernel = filesystems::read_file(*source->kernel_fs, bp->kernel->path);
  if (!kernel)
    return fail(kernel.error());
  if (auto w = write_file_atomic(out / std::filesystem::path(bp->kernel->path).filename(), *kernel); !w)
    return fail(w.error());
  std::ifstream list(a["--files"]);
  std::string path;
  int n = 0;
  while (std::getline(list, path)) {
    if (path.empty())
      continue;
    auto data = filesystems::read_file(*source->fs, path);
    if (!data)
      return fail(data.error());
    if (auto w = write_file_atomic(out / std::filesystem::path(path).filename(), *data); !w)
      return fail(w.error());
    ++n;
  }
  double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::cout << "ours: extracted kernel + " << n << " files; hints " << (source->hints && !source->hints->entries.empty()
                                                                          ? std::to_string(source->hints->entries.size()) + " entries"
                                                                          : std::string("absent"))
            << "\n";
  std::printf("ours: extraction wall %.3f s (layers: ", s);
  for (const auto& l : source->layers)
    std::printf("%s ", l.c_str());
  std::printf(")\n");
  return 0;
}
