// Kernel detection and normalisation: version from the image itself, rescue
// kernels, several versions, compressed and EFI-zboot sources, encodings.
#include "stage0/kernel.hpp"

#include "profiles/profiles.hpp"
#include "stage0/codec.hpp"
#include "stage0_fixtures.hpp"

#include <algorithm>
#include <cstring>

namespace fastboop::stage0 {
namespace {

using fastboop::test::TempDir;
using test::fake_arm64_image;
using test::put;

Result<KernelChoice> detect_in(const std::filesystem::path& root, std::optional<std::string> kver = std::nullopt) {
  auto fsys = filesystems::open_host_directory(root.string());
  if (!fsys)
    return std::move(fsys).error();
  return detect_kernel(**fsys, kver);
}

TEST(Kernel, VersionFromImageMustMatchModulesDir) {
  TempDir dir;
  put(dir / "lib/modules/6.9.0/modules.dep", "");
  put(dir / "boot/vmlinuz-6.9.0", fake_arm64_image("6.8.1-other"));
  auto k = detect_in(dir.path());
  ASSERT_FALSE(k);
  const auto& msg = k.error().message();
  // Upstream never cross-checks (spec §8 item 1): the error names both.
  EXPECT_NE(msg.find("6.8.1-other"), std::string::npos) << msg;
  EXPECT_NE(msg.find("/lib/modules/6.9.0"), std::string::npos) << msg;
}

TEST(Kernel, RescueSkippedAndModulesDirLayouts) {
  TempDir dir;
  put(dir / "usr/lib/modules/0-rescue-abcdef/vmlinuz", fake_arm64_image("0-rescue-abcdef"));
  put(dir / "usr/lib/modules/6.10.3-200.fc40.aarch64/vmlinuz", fake_arm64_image("6.10.3-200.fc40.aarch64"));
  auto k = detect_in(dir.path());
  ASSERT_TRUE(k) << k.error().message();
  EXPECT_EQ(k->image_path, "/usr/lib/modules/6.10.3-200.fc40.aarch64/vmlinuz");
  EXPECT_EQ(k->modules.path, "/usr/lib/modules/6.10.3-200.fc40.aarch64");
  EXPECT_EQ(k->kernel.arch, "aarch64");
}

TEST(Kernel, SeveralVersionsNeedKernelVersion) {
  TempDir dir;
  put(dir / "boot/vmlinuz-6.1.0-1-arm64", fake_arm64_image("6.1.0-1-arm64"));
  put(dir / "boot/vmlinuz-6.1.0-2-arm64", fake_arm64_image("6.1.0-2-arm64"));
  put(dir / "lib/modules/6.1.0-1-arm64/modules.dep", "");
  put(dir / "lib/modules/6.1.0-2-arm64/modules.dep", "");
  auto k = detect_in(dir.path());
  ASSERT_FALSE(k);
  EXPECT_NE(k.error().message().find("--kernel-version"), std::string::npos) << k.error().message();
  auto k2 = detect_in(dir.path(), "6.1.0-2-arm64");
  ASSERT_TRUE(k2) << k2.error().message();
  EXPECT_EQ(k2->image_path, "/boot/vmlinuz-6.1.0-2-arm64");
  auto k3 = detect_in(dir.path(), "7.0");
  ASSERT_FALSE(k3);
  EXPECT_NE(k3.error().message().find("6.1.0-1-arm64"), std::string::npos);
}

TEST(Kernel, GenericNameAndBootScan) {
  TempDir dir;
  put(dir / "lib/modules/5.4.0/modules.dep", "");
  put(dir / "boot/efi/x/Image-custom", fake_arm64_image("5.4.0"));
  auto k = detect_in(dir.path());
  ASSERT_TRUE(k) << k.error().message();
  EXPECT_EQ(k->image_path, "/boot/efi/x/Image-custom");
  put(dir / "boot/Image.gz", *compress(Codec::Gzip, fake_arm64_image("5.4.0")));
  k = detect_in(dir.path());
  ASSERT_TRUE(k) << k.error().message();
  EXPECT_EQ(k->image_path, "/boot/Image.gz");
  EXPECT_EQ(k->kernel.layers, std::vector<std::string>{"gzip"});
}

TEST(Kernel, CompressedSourcesAreDecoded) {
  Bytes raw = fake_arm64_image("6.6.6", 1 << 16);
  for (Codec c : {Codec::Gzip, Codec::Zstd, Codec::Lz4, Codec::Xz}) {
    auto k = decode_kernel(*compress(c, raw));
    ASSERT_TRUE(k) << codec_name(c) << ": " << k.error().message();
    EXPECT_EQ(k->raw, raw);
    EXPECT_EQ(k->version, "6.6.6");
    // Target "image": the raw Image, even from a gzip source (upstream passed
    // gzip bytes through, spec §8 item 2).
    auto img = encode_kernel(*k, *compress(c, raw), profiles::KernelEncoding::Image);
    ASSERT_TRUE(img);
    EXPECT_EQ(*img, raw);
  }
}

Bytes fake_zboot(ByteSpan payload, const char* comp) {
  Bytes b(0x200, 0);
  b[0] = 'M';
  b[1] = 'Z';
  std::memcpy(b.data() + 4, "zimg", 4);
  store_le<std::uint32_t>(b.data() + 8, 0x200);
  store_le<std::uint32_t>(b.data() + 12, static_cast<std::uint32_t>(payload.size()));
  std::memcpy(b.data() + 24, comp, std::strlen(comp));
  Bytes out(b.size() + payload.size() + 4, 0x10); // size trailer as the kernel build appends
  std::memcpy(out.data(), b.data(), b.size());
  std::memcpy(out.data() + b.size(), payload.data(), payload.size());
  return out;
}

TEST(Kernel, EfiZbootIsUnwrapped) {
  Bytes raw = fake_arm64_image("6.9.7-zboot", 1 << 16);
  for (auto [codec, name] : {std::pair{Codec::Zstd, "zstd"}, std::pair{Codec::Gzip, "gzip"}}) {
    auto k = decode_kernel(fake_zboot(*compress(codec, raw), name));
    ASSERT_TRUE(k) << name << ": " << k.error().message();
    EXPECT_EQ(k->raw, raw);
    EXPECT_EQ(k->layers[0], "pe-zboot");
    EXPECT_EQ(k->version, "6.9.7-zboot");
  }
  Bytes bad = fake_zboot(Bytes(100, 1), "lzo");
  auto k = decode_kernel(bad);
  ASSERT_FALSE(k);
  EXPECT_NE(k.error().message().find("lzo"), std::string::npos) << k.error().message();
  // Payload pointing outside the file.
  Bytes broken = fake_zboot(Bytes(100, 1), "gzip");
  store_le<std::uint32_t>(broken.data() + 12, 0x7fffffff);
  EXPECT_FALSE(decode_kernel(broken));
}

// An x86 bzImage as Debian's amd64 package ships it: PE "MZ" (EFI stub) and
// the setup header ("HdrS", boot protocol 2.15) whose kernel_version pointer
// names the version; the "Linux version" banner is in the compressed payload.
Bytes fake_x86_bzimage(const std::string& version) {
  Bytes b(0x4000, 0);
  std::memcpy(b.data(), "MZ", 2);
  std::memcpy(b.data() + 0x202, "HdrS", 4);
  store_le<std::uint16_t>(b.data() + 0x206, 0x020f);
  store_le<std::uint16_t>(b.data() + 0x20e, 0x3000 - 0x200);
  const std::string text =
      version + " (debian-kernel@lists.debian.org) #1 SMP PREEMPT_DYNAMIC Debian";
  std::memcpy(b.data() + 0x3000, text.data(), text.size());
  return b;
}

TEST(Kernel, X86BzImageIsTheBootFormatNotAWrapper) {
  const Bytes image = fake_x86_bzimage("6.12.117+deb13-amd64");
  EXPECT_FALSE(kernel_is_wrapped(image));
  auto k = decode_kernel(image);
  ASSERT_TRUE(k) << k.error().message();
  EXPECT_TRUE(k->layers.empty());
  EXPECT_EQ(k->raw, image);
  EXPECT_EQ(k->arch, "x86_64");
  EXPECT_EQ(k->version, "6.12.117+deb13-amd64");

  TempDir dir;
  put(dir / "lib/modules/6.12.117+deb13-amd64/modules.dep", "");
  put(dir / "boot/vmlinuz-6.12.117+deb13-amd64", image);
  for (auto keep : {KernelBytes::Full, KernelBytes::IdentityOnly}) {
    auto fsys = filesystems::open_host_directory(dir.path().string());
    ASSERT_TRUE(fsys);
    auto chosen = detect_kernel(**fsys, std::nullopt, keep);
    ASSERT_TRUE(chosen) << chosen.error().message();
    EXPECT_EQ(chosen->kernel.version, "6.12.117+deb13-amd64");
    EXPECT_EQ(chosen->kernel.arch, "x86_64");
  }
  // A pointer past the end gives no version.
  Bytes broken = image;
  store_le<std::uint16_t>(broken.data() + 0x20e, 0xff00);
  EXPECT_EQ(x86_setup_version(broken), std::nullopt);
}

TEST(Kernel, EncodingsAndUnsupported) {
  FASTBOOP_REQUIRE_PROGRAM("gzip");
  Bytes raw = fake_arm64_image("6.0", 1 << 16);
  auto k = decode_kernel(raw);
  ASSERT_TRUE(k);
  auto gz = encode_kernel(*k, raw, profiles::KernelEncoding::ImageGzDtb);
  ASSERT_TRUE(gz);
  TempDir dir;
  fastboop::test::write_file(dir / "k.gz", *gz);
  auto out = fastboop::test::sh("gzip -dc '" + (dir / "k.gz").string() + "'");
  ASSERT_EQ(out.exit_code, 0);
  EXPECT_EQ(out.out, raw);
  for (auto e : {profiles::KernelEncoding::ImageLz4, profiles::KernelEncoding::ImageZstDtb}) {
    auto r = encode_kernel(*k, raw, e);
    ASSERT_FALSE(r);
    EXPECT_NE(r.error().message().find(std::string(profiles::kernel_encoding_name(e))), std::string::npos);
  }
  EXPECT_FALSE(decode_kernel(Bytes(4096, 0))); // no boot header: refused, not passed through
}

// IdentityOnly (`-o -`, inspect) scans a plain image in 1 MiB slices instead
// of holding it. Banners placed across every slice boundary, behind a format
// string and a truncated copy, must give what the whole-buffer scan gives.
TEST(Kernel, SlicedBannerScanMatchesWholeImage) {
  constexpr std::size_t mib = std::size_t{1} << 20;
  const std::string fmt = "Linux version %s (%s) ";
  const std::string real = "Linux version 6.1.0-57-arm64 (debian-kernel@lists.debian.org) ";
  for (std::size_t at : {mib - 200, mib - 20, mib - 1, mib, mib + 1, 2 * mib - 7, 3 * mib - 100}) {
    Bytes img = test::fake_arm64_image("0.0-unused", 3 * mib + 10);
    // fake_arm64_image carries its own banner; blank it so only ours count.
    const std::string fake = "Linux version 0.0-unused";
    auto it = std::search(img.begin(), img.end(), fake.begin(), fake.end());
    ASSERT_NE(it, img.end());
    std::fill(it, it + static_cast<std::ptrdiff_t>(fake.size()), 'x');
    std::memcpy(img.data() + 4096, fmt.data(), fmt.size());
    std::memcpy(img.data() + at, real.data(), real.size());
    TempDir dir;
    put(dir / "lib/modules/6.1.0-57-arm64/modules.dep", "");
    put(dir / "boot/vmlinuz-6.1.0-57-arm64", img);
    auto fsys = filesystems::open_host_directory(dir.path().string());
    ASSERT_TRUE(fsys);
    auto full = detect_kernel(**fsys, std::nullopt, KernelBytes::Full);
    auto ident = detect_kernel(**fsys, std::nullopt, KernelBytes::IdentityOnly);
    ASSERT_TRUE(full) << "banner at " << at << ": " << full.error().message();
    ASSERT_TRUE(ident) << "banner at " << at << ": " << ident.error().message();
    EXPECT_EQ(ident->kernel.version, "6.1.0-57-arm64") << "banner at " << at;
    EXPECT_EQ(ident->kernel.version, full->kernel.version);
    EXPECT_EQ(ident->kernel.arch, full->kernel.arch);
    EXPECT_TRUE(ident->kernel.raw.empty()); // never held whole
    EXPECT_EQ(full->kernel.raw, img);
    EXPECT_TRUE(full->packed_source.empty()); // a plain image is kept once, not twice
  }
  // A banner cut off by the end of the file is no banner, in both modes.
  Bytes img = test::fake_arm64_image("0.0-unused", mib + 100);
  const std::string fake = "Linux version 0.0-unused";
  auto it = std::search(img.begin(), img.end(), fake.begin(), fake.end());
  std::fill(it, it + static_cast<std::ptrdiff_t>(fake.size()), 'x');
  const std::string cut = "Linux version 6.1.0";
  std::memcpy(img.data() + img.size() - cut.size(), cut.data(), cut.size());
  TempDir dir;
  put(dir / "lib/modules/6.1.0/modules.dep", "");
  put(dir / "boot/vmlinuz-6.1.0", img);
  auto fsys = filesystems::open_host_directory(dir.path().string());
  ASSERT_TRUE(fsys);
  for (auto keep : {KernelBytes::Full, KernelBytes::IdentityOnly}) {
    auto k = detect_kernel(**fsys, std::nullopt, keep);
    ASSERT_FALSE(k);
    EXPECT_NE(k.error().message().find("no 'Linux version' banner"), std::string::npos) << k.error().message();
  }
}

// A compressed image is decoded in both modes; its stored bytes are kept
// for the gzip pass-through.
TEST(Kernel, IdentityOnlyDecodesWrappedImages) {
  FASTBOOP_REQUIRE_PROGRAM("gzip");
  Bytes raw = fake_arm64_image("6.2.0", 1 << 16);
  TempDir dir;
  fastboop::test::write_file(dir / "raw", raw);
  auto gz = fastboop::test::sh("gzip -9nc '" + (dir / "raw").string() + "'");
  ASSERT_EQ(gz.exit_code, 0);
  put(dir / "lib/modules/6.2.0/modules.dep", "");
  put(dir / "boot/vmlinuz-6.2.0", gz.out);
  auto fsys = filesystems::open_host_directory(dir.path().string());
  ASSERT_TRUE(fsys);
  auto k = detect_kernel(**fsys, std::nullopt, KernelBytes::IdentityOnly);
  ASSERT_TRUE(k) << k.error().message();
  EXPECT_EQ(k->kernel.version, "6.2.0");
  EXPECT_EQ(k->kernel.layers, std::vector<std::string>{"gzip"});
  EXPECT_EQ(k->kernel.raw, raw);
  EXPECT_EQ(Bytes(k->source().begin(), k->source().end()), gz.out);
}

TEST(Kernel, ElfArchitectures) {
  EXPECT_EQ(*elf_arch(test::fake_elf(183)), "aarch64");
  EXPECT_EQ(*elf_arch(test::fake_elf(62)), "x86_64");
  EXPECT_FALSE(elf_arch(Bytes(10, 0)));
}

TEST(KernelDebian, DetectsDebianKernel) {
  STAGE0_REQUIRE_DEBIAN_KERNEL();
  const auto& d = *test::debian_kernel();
  auto k = detect_in(d.tree);
  ASSERT_TRUE(k) << k.error().message();
  EXPECT_EQ(k->image_path, "/boot/vmlinuz-" + d.kver);
  EXPECT_EQ(k->kernel.version, d.kver);
  EXPECT_EQ(k->kernel.arch, "aarch64");
  EXPECT_EQ(k->modules.path, "/lib/modules/" + d.kver);
}

} // namespace
} // namespace fastboop::stage0
