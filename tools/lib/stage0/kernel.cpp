#include "stage0/kernel.hpp"
#include "stage0/fsutil.hpp"

#include "stage0/codec.hpp"
#include "bootimg/kernel_encoding.hpp"

#include <algorithm>
#include <cstring>
#include <functional>

namespace fastboop::stage0 {

namespace fs = fastboop::filesystems;

namespace {

constexpr std::uint64_t kernel_read_limit = std::uint64_t{512} << 20;

bool has_at(ByteSpan d, std::size_t off, std::string_view magic) {
  return d.size() >= off + magic.size() && std::memcmp(d.data() + off, magic.data(), magic.size()) == 0;
}

Result<std::optional<fs::FileType>> type_of(fs::Filesystem& fsys, const std::string& path) {
  auto node = TRY(find_path(fsys, path));
  if (!node)
    return std::optional<fs::FileType>{};
  auto st = TRY(fsys.stat(*node));
  return std::optional<fs::FileType>(st.type);
}

} // namespace

Result<std::vector<ModulesDir>> list_modules_dirs(fs::Filesystem& fsys) {
  std::vector<ModulesDir> out;
  for (std::string base : {"/lib/modules", "/usr/lib/modules"}) {
    auto node = TRY(find_path(fsys, base));
    if (!node)
      continue;
    auto st = TRY(fsys.stat(*node));
    if (st.type != fs::FileType::Directory)
      continue;
    auto entries = TRY_CTX(fsys.list(*node), base);
    for (const auto& e : entries) {
      if (e.name.find("rescue") != std::string::npos)
        continue;
      std::string path = base + "/" + e.name;
      auto t = TRY(type_of(fsys, path));
      if (!t || *t != fs::FileType::Directory)
        continue;
      if (std::none_of(out.begin(), out.end(), [&](const ModulesDir& m) { return m.kver == e.name; }))
        out.push_back({e.name, path});
    }
  }
  std::sort(out.begin(), out.end(), [](const ModulesDir& a, const ModulesDir& b) { return a.kver < b.kver; });
  return out;
}

std::optional<std::string> kernel_banner_version(ByteSpan raw) {
  static constexpr std::string_view banner = "Linux version ";
  auto it = std::search(raw.begin(), raw.end(), banner.begin(), banner.end());
  while (it != raw.end()) {
    auto start = it + static_cast<std::ptrdiff_t>(banner.size());
    auto end = start;
    while (end != raw.end() && *end > ' ' && *end < 0x7f && end - start < 128)
      ++end;
    // The real banner continues with " (builder@host)"; skip format strings.
    if (end != start && end != raw.end() && *end == ' ' &&
        std::find(start, end, '%') == end)
      return std::string(start, end);
    it = std::search(it + 1, raw.end(), banner.begin(), banner.end());
  }
  return std::nullopt;
}

Result<std::string> kernel_image_arch(ByteSpan raw) {
  if (has_at(raw, 0x38, "ARM\x64"))
    return std::string("aarch64");
  if (has_at(raw, 0x38, "RSC\x05"))
    return std::string("riscv64");
  if (has_at(raw, 0x202, "HdrS"))
    return std::string("x86_64");
  if (raw.size() >= 0x28 && load_le<std::uint32_t>(raw.data() + 0x24) == 0x016F2818)
    return std::string("arm");
  return Error("kernel image has no known boot header (arm64 'ARM\\x64' or RISC-V 'RSC\\x05' at "
               "0x38, x86 'HdrS' at 0x202, ARM zImage magic at 0x24)");
}

Result<std::string> elf_arch(ByteSpan elf) {
  if (elf.size() < 20 || !has_at(elf, 0, "\x7f" "ELF"))
    return Error("not an ELF executable");
  std::uint16_t machine = elf[5] == 2 ? load_be<std::uint16_t>(elf.data() + 18)
                                      : load_le<std::uint16_t>(elf.data() + 18);
  switch (machine) {
  case 183: return std::string("aarch64");
  case 62: return std::string("x86_64");
  case 40: return std::string("arm");
  case 243: return std::string(elf[4] == 2 ? "riscv64" : "riscv32");
  case 3: return std::string("i686");
  default: return Error("ELF e_machine " + std::to_string(machine) + " is not a known architecture");
  }
}

bool kernel_is_wrapped(ByteSpan head) {
  // An x86 bzImage also starts with "MZ" (its EFI stub), but it is the boot
  // format itself (setup header "HdrS" at 0x202), not a wrapper to remove.
  return detect_codec(head) != Codec::None ||
         (has_at(head, 0, "MZ") && !has_at(head, 0x38, "ARM\x64") && !has_at(head, 0x38, "RSC\x05") &&
          !has_at(head, 0x202, "HdrS"));
}

std::optional<std::string> x86_setup_version(ByteSpan head) {
  // Boot protocol: the u16 at 0x206 is the protocol version, and from 2.00 on
  // the u16 at 0x20e points (less 0x200) at "6.12.0-1-amd64 (builder@host)
  // #1 ..."; the banner itself is inside the compressed payload.
  if (!has_at(head, 0x202, "HdrS") || head.size() < 0x210 ||
      load_le<std::uint16_t>(head.data() + 0x206) < 0x0200)
    return std::nullopt;
  const std::size_t at = 0x200 + std::size_t{load_le<std::uint16_t>(head.data() + 0x20e)};
  std::size_t end = at;
  while (end < head.size() && end - at < 128 && head[end] > ' ' && head[end] < 0x7f)
    ++end;
  if (end == at || end >= head.size() || (head[end] != ' ' && head[end] != 0))
    return std::nullopt;
  return std::string(reinterpret_cast<const char*>(head.data() + at), end - at);
}

Result<std::optional<std::string>> kernel_banner_version(fs::Filesystem& fsys, fs::NodeId file, std::uint64_t size) {
  // A banner is at most 14 + 128 + 1 bytes, so carrying 256 bytes over to
  // the next slice lets one that straddles a boundary be seen whole there.
  constexpr std::size_t slice = std::size_t{1} << 20;
  constexpr std::size_t carry = 256;
  Bytes buf;
  buf.reserve(slice + carry);
  for (std::uint64_t off = 0; off < size;) {
    const std::size_t keep = std::min(buf.size(), carry);
    buf.erase(buf.begin(), buf.end() - static_cast<std::ptrdiff_t>(keep));
    const auto n = static_cast<std::size_t>(std::min<std::uint64_t>(slice, size - off));
    buf.resize(keep + n);
    TRY(fsys.read(file, off, std::span(buf).subspan(keep, n)));
    off += n;
    if (auto v = kernel_banner_version(buf))
      return v;
  }
  return std::optional<std::string>{};
}

namespace {

// Unwraps `image` layer by layer. `owned`, when given, holds image's bytes
// and is moved into raw if there is nothing to unwrap.
Result<DecodedKernel> decode_from(ByteSpan image, Bytes* owned, std::uint64_t limit) {
  DecodedKernel k;
  k.source_is_plain_gzip = detect_codec(image) == Codec::Gzip;
  ByteSpan cur = image;
  Bytes current;
  for (int depth = 0; kernel_is_wrapped(cur); ++depth) {
    if (depth >= 6)
      return Error("kernel image: more than 6 nested compression/PE layers");
    Codec codec = detect_codec(cur);
    if (codec != Codec::None) {
      k.layers.emplace_back(codec_name(codec));
      current = TRY_CTX(decompress(codec, cur, limit), "kernel image layer " + std::to_string(depth));
      cur = current;
      continue;
    }
    // Linux EFI zboot: "zimg" at 4, payload offset and size at 8 and 12,
    // compression name at 24.
    if (!has_at(cur, 4, "zimg") || cur.size() < 32)
      return Error("kernel image layer " + std::to_string(depth) +
                   ": PE file that is neither an EFI-stub Image nor an EFI zboot image");
    std::uint32_t off = load_le<std::uint32_t>(cur.data() + 8);
    std::uint32_t size = load_le<std::uint32_t>(cur.data() + 12);
    std::string comp(reinterpret_cast<const char*>(cur.data() + 24),
                     strnlen(reinterpret_cast<const char*>(cur.data() + 24), 8));
    if (off > cur.size() || size > cur.size() - off || size == 0)
      return Error("EFI zboot image: payload [" + std::to_string(off) + ", +" + std::to_string(size) +
                   ") lies outside the " + std::to_string(cur.size()) + "-byte file");
    ByteSpan payload = cur.subspan(off, size);
    Codec pc = detect_codec(payload);
    if (pc == Codec::None)
      return Error("EFI zboot image: payload compression '" + comp + "' is not supported (gzip, zstd, "
                   "lz4 and xz are)");
    k.layers.push_back("pe-zboot");
    k.layers.emplace_back(codec_name(pc));
    current = TRY_CTX(decompress(pc, payload, limit), "EFI zboot payload");
    cur = current;
  }
  if (!k.layers.empty())
    k.raw = std::move(current);
  else if (owned)
    k.raw = std::move(*owned);
  else
    k.raw.assign(image.begin(), image.end());
  k.arch = TRY(kernel_image_arch(k.raw));
  k.version = kernel_banner_version(k.raw).value_or(x86_setup_version(k.raw).value_or(""));
  return k;
}

struct LoadedImage {
  DecodedKernel kernel;
  Bytes packed; // the stored image when decoding changed it
};

Result<LoadedImage> decode_owned(Bytes image) {
  LoadedImage li;
  li.kernel = TRY(decode_from(image, &image, kernel_read_limit));
  if (!li.kernel.layers.empty())
    li.packed = std::move(image);
  return li;
}

Result<LoadedImage> load_image(fs::Filesystem& fsys, const std::string& path, KernelBytes keep) {
  if (keep == KernelBytes::IdentityOnly) {
    fs::NodeId node = TRY(fs::resolve_path(fsys, path));
    auto st = TRY(fsys.stat(node));
    if (st.type != fs::FileType::Regular)
      return Error(path + ": not a regular file");
    Bytes head(static_cast<std::size_t>(std::min<std::uint64_t>(st.size, 64 << 10)));
    TRY(fsys.read(node, 0, head));
    if (!kernel_is_wrapped(head)) {
      LoadedImage li;
      li.kernel.arch = TRY(kernel_image_arch(head));
      li.kernel.version = x86_setup_version(head).value_or("");
      if (li.kernel.version.empty())
        li.kernel.version = TRY(kernel_banner_version(fsys, node, st.size)).value_or("");
      return li;
    }
  }
  return decode_owned(TRY(fs::read_file(fsys, path, kernel_read_limit)));
}

} // namespace

Result<DecodedKernel> decode_kernel(ByteSpan image, std::uint64_t limit) {
  return decode_from(image, nullptr, limit);
}

namespace {

Result<KernelChoice> finish_choice(std::string label, Result<LoadedImage> loaded, const std::vector<ModulesDir>& dirs,
                                   const std::optional<std::string>& wanted,
                                   const std::optional<ModulesDir>& expected) {
  KernelChoice c;
  c.image_path = std::move(label);
  auto li = TRY_CTX(std::move(loaded), c.image_path);
  c.kernel = std::move(li.kernel);
  c.packed_source = std::move(li.packed);
  if (c.kernel.version.empty())
    return Error(c.image_path + ": no 'Linux version' banner in the decoded image, so its version "
                 "cannot be matched with a modules directory");
  if (wanted && *wanted != c.kernel.version)
    return Error("kernel image " + c.image_path + " is version " + c.kernel.version +
                 " but --kernel-version asks for " + *wanted);
  if (expected) {
    if (expected->kver != c.kernel.version)
      return Error("kernel image " + c.image_path + " is version " + c.kernel.version +
                   " but its modules directory " + expected->path + " is for " + expected->kver);
    c.modules = *expected;
    return c;
  }
  for (const auto& d : dirs)
    if (d.kver == c.kernel.version) {
      c.modules = d;
      return c;
    }
  std::string have;
  for (const auto& d : dirs)
    have += (have.empty() ? "" : ", ") + d.path;
  return Error("kernel image " + c.image_path + " is version " + c.kernel.version +
               " but there is no modules directory for it (found: " +
               (have.empty() ? std::string("none") : have) + ")");
}

} // namespace

Result<KernelChoice> choose_for_kernel(fs::Filesystem& fsys, std::string label, Bytes image,
                                       const std::optional<std::string>& wanted) {
  auto dirs = TRY(list_modules_dirs(fsys));
  return finish_choice(std::move(label), decode_owned(std::move(image)), dirs, wanted, std::nullopt);
}

namespace {

// The modules directories a kernel may be chosen for: the one asked for, or all.
Result<std::vector<ModulesDir>> candidate_dirs(const std::vector<ModulesDir>& dirs,
                                               const std::optional<std::string>& wanted) {
  if (!wanted)
    return dirs;
  std::vector<ModulesDir> pool;
  for (const auto& d : dirs)
    if (d.kver == *wanted)
      pool.push_back(d);
  if (pool.empty()) {
    std::string have;
    for (const auto& d : dirs)
      have += (have.empty() ? "" : ", ") + d.kver;
    return Error("--kernel-version " + *wanted + " is not installed (have: " + have + ")");
  }
  return pool;
}

Result<bool> is_regular_file(fs::Filesystem& fsys, const std::string& p) {
  auto t = TRY(type_of(fsys, p));
  return t && *t == fs::FileType::Regular;
}

// Per-version image names used by distros: Fedora/Arch in the modules
// directory, Debian/Ubuntu/Alpine in /boot. At most one per directory.
Result<std::vector<std::pair<ModulesDir, std::string>>>
versioned_images(fs::Filesystem& fsys, const std::vector<ModulesDir>& pool) {
  std::vector<std::pair<ModulesDir, std::string>> found;
  for (const auto& d : pool) {
    for (const std::string& p : {d.path + "/vmlinuz", d.path + "/Image", "/boot/vmlinuz-" + d.kver,
                                 "/boot/Image-" + d.kver, "/boot/Image.gz-" + d.kver}) {
      if (TRY(is_regular_file(fsys, p))) {
        found.emplace_back(d, p);
        break;
      }
    }
  }
  return found;
}

// Kernel-looking file names under `dir`, at most three levels deep.
Result<void> scan_kernel_images(fs::Filesystem& fsys, const std::string& dir, int depth,
                                std::vector<std::string>& scanned) {
  auto node = TRY(find_path(fsys, dir));
  if (!node)
    return ok();
  auto st = TRY(fsys.stat(*node));
  if (st.type != fs::FileType::Directory)
    return ok();
  for (const auto& e : TRY(fsys.list(*node))) {
    std::string p = dir + "/" + e.name;
    if (e.type == fs::FileType::Directory) {
      if (depth < 3)
        TRY(scan_kernel_images(fsys, p, depth + 1, scanned));
    } else if ((e.name.rfind("vmlinuz", 0) == 0 || e.name.rfind("Image", 0) == 0 ||
                e.name == "linux") &&
               e.name.find("rescue") == std::string::npos) {
      scanned.push_back(p);
    }
  }
  return ok();
}

} // namespace

Result<KernelChoice> detect_kernel(fs::Filesystem& fsys, const std::optional<std::string>& wanted,
                                   KernelBytes keep) {
  auto dirs = TRY(list_modules_dirs(fsys));
  if (dirs.empty())
    return Error("no kernel modules directory in the rootfs (looked in /lib/modules and "
                 "/usr/lib/modules; rescue kernels are skipped)");
  const std::vector<ModulesDir> pool = TRY(candidate_dirs(dirs, wanted));
  const auto found = TRY(versioned_images(fsys, pool));
  if (found.size() > 1) {
    std::string list;
    for (const auto& [d, p] : found)
      list += (list.empty() ? "" : ", ") + d.kver + " (" + p + ")";
    return Error("several kernels are installed: " + list + "; choose one with --kernel-version",
                 ErrorKind::Usage);
  }
  if (found.size() == 1) {
    return finish_choice(found[0].second, load_image(fsys, found[0].second, keep), dirs, wanted, found[0].first);
  }
  // Unversioned names, then a bounded scan of /boot in name order.
  std::vector<std::string> generic = {"/boot/vmlinuz", "/boot/Image", "/boot/Image.gz", "/vmlinuz"};
  for (const auto& p : generic) {
    if (TRY(is_regular_file(fsys, p))) {
      return finish_choice(p, load_image(fsys, p, keep), dirs, wanted, std::nullopt);
    }
  }
  std::vector<std::string> scanned;
  TRY(scan_kernel_images(fsys, "/boot", 1, scanned));
  for (const auto& p : scanned) {
    auto c = finish_choice(p, load_image(fsys, p, keep), dirs, wanted, std::nullopt);
    if (c)
      return c;
  }
  std::string kv;
  for (const auto& d : pool)
    kv += (kv.empty() ? "" : ", ") + d.kver;
  return Error("no kernel image found for " + kv + " (looked for <modules dir>/vmlinuz, /boot/vmlinuz-<kver>, "
               "/boot/Image-<kver>, /boot/vmlinuz, /boot/Image, /boot/Image.gz and scanned /boot)");
}

Result<Bytes> encode_kernel(DecodedKernel&& kernel, ByteSpan source, profiles::KernelEncoding e) {
  if (bootimg::kernel_encoding_info(e).compression == bootimg::KernelCompression::None)
    return std::move(kernel.raw);
  return encode_kernel(std::as_const(kernel), source, e);
}

Result<Bytes> encode_kernel(const DecodedKernel& kernel, ByteSpan source, profiles::KernelEncoding e) {
  const auto& encoding = bootimg::kernel_encoding_info(e);
  switch (encoding.compression) {
  case bootimg::KernelCompression::None:
    return kernel.raw;
  case bootimg::KernelCompression::Gzip:
    // A plain gzip kernel already is the target form.
    if (kernel.source_is_plain_gzip && kernel.layers.size() == 1)
      return Bytes(source.begin(), source.end());
    return gzip_compress(kernel.raw, 1); // fastest, as upstream; the bootloader inflates it once
  default:
    return Error("kernel encoding " + std::string(encoding.name) +
                 " cannot be produced: no bootloader contract for it is known (image, image+dtb, "
                 "image.gz and image.gz+dtb are)",
                 ErrorKind::Unsupported);
  }
}

} // namespace fastboop::stage0
