#include "stage0/cpio.hpp"
#include "common/archive_message.hpp"
#include "stage0/codec.hpp"

#include <archive.h>
#include <archive_entry.h>

#include <algorithm>
#include <memory>
#include <sys/stat.h>
#include <vector>

namespace fastboop::stage0 {

namespace {

struct ArchiveWriteDeleter {
  void operator()(archive* a) const { archive_write_free(a); }
};
struct ArchiveReadDeleter {
  void operator()(archive* a) const { archive_read_free(a); }
};
struct EntryDeleter {
  void operator()(archive_entry* e) const { archive_entry_free(e); }
};

la_ssize_t append_callback(archive*, void* client, const void* buffer, size_t length) {
  auto* out = static_cast<Bytes*>(client);
  const auto* p = static_cast<const std::uint8_t*>(buffer);
  out->insert(out->end(), p, p + length);
  return static_cast<la_ssize_t>(length);
}

bool is_dir(std::uint32_t mode) { return (mode & S_IFMT) == S_IFDIR; }

std::uint64_t align4(std::uint64_t v) { return (v + 3) & ~std::uint64_t{3}; }

// One 8-digit hex field of a newc header, or nullopt when it is not hex.
std::optional<std::uint32_t> newc_field(ByteSpan header, std::size_t index) {
  std::uint32_t v = 0;
  for (std::size_t i = 6 + index * 8; i < 6 + index * 8 + 8; ++i) {
    char c = static_cast<char>(header[i]);
    int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10
            : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
    if (d < 0)
      return std::nullopt;
    v = v << 4 | static_cast<std::uint32_t>(d);
  }
  return v;
}

// Walk the newc headers up to the trailer and check that every name and
// every member's data lies inside the buffer. libarchive sizes its read-ahead
// buffers from these fields, so they are proven sane before it parses them.
// Returns the size of the archive: up to the end of its trailer entry.
Result<std::uint64_t> check_newc_layout(ByteSpan data, std::string_view origin) {
  constexpr std::size_t header_size = 110;
  std::uint64_t off = 0;
  for (std::size_t index = 0;; ++index) {
    auto where = [&](std::string_view what) {
      return Error(std::string(origin) + ": entry " + std::to_string(index) + " at offset " +
                   std::to_string(off) + ": " + std::string(what));
    };
    if (data.size() - off < header_size)
      return where("truncated header (no TRAILER!!! entry before the end)");
    ByteSpan h = data.subspan(off, header_size);
    std::string_view magic(reinterpret_cast<const char*>(h.data()), 6);
    if (magic != "070701" && magic != "070702")
      return where(index == 0 ? "not a newc cpio archive (the kernel reads only newc: 070701/070702)"
                              : "bad header magic (an entry's size fields are wrong?)");
    auto file_size = newc_field(h, 6);
    auto name_size = newc_field(h, 11);
    if (!file_size || !name_size)
      return where("header field is not hexadecimal");
    if (*name_size == 0)
      return where("name size is 0");
    std::uint64_t name_end = off + header_size + *name_size;
    if (name_end > data.size())
      return where("name of " + std::to_string(*name_size) + " bytes runs past the end (" +
                   std::to_string(data.size()) + " bytes)");
    std::string_view name(reinterpret_cast<const char*>(data.data() + off + header_size),
                          *name_size - 1);
    std::uint64_t data_start = align4(name_end);
    if (data_start + *file_size > data.size())
      return where("member '" + std::string(name) + "' of " + std::to_string(*file_size) +
                   " bytes runs past the end (" + std::to_string(data.size()) + " bytes)");
    // The archive ends with the trailer, padded to 4 bytes unless the input
    // ends first (the fuzz gate found the padding read past the end).
    if (name == "TRAILER!!!")
      return std::min<std::uint64_t>(align4(data_start + *file_size), data.size());
    off = std::min<std::uint64_t>(align4(data_start + *file_size), data.size());
  }
}

} // namespace

Result<std::string> CpioImage::normalise_path(std::string_view path) {
  std::string out;
  std::size_t i = 0;
  while (i <= path.size()) {
    std::size_t j = path.find('/', i);
    if (j == std::string_view::npos)
      j = path.size();
    std::string_view part = path.substr(i, j - i);
    i = j + 1;
    if (part.empty() || part == ".")
      continue;
    if (part == "..")
      return Error("archive path '" + std::string(path) + "' contains '..'");
    if (!out.empty())
      out += '/';
    out += part;
  }
  if (out.empty())
    return Error("archive path '" + std::string(path) + "' is empty after normalisation");
  return out;
}

Result<void> CpioImage::add(std::string_view path, CpioEntry entry, Overwrite overwrite) {
  std::string name = TRY(normalise_path(path));
  if (entry.data.size() > 0xFFFFFFFFu)
    return Error("archive member '" + name + "' is " + std::to_string(entry.data.size()) +
                 " bytes; newc stores at most 4 GiB - 1");
  auto it = m_entries.find(name);
  if (it != m_entries.end()) {
    if (overwrite == Overwrite::Yes)
      it->second = std::move(entry);
    return ok();
  }
  m_entries.emplace(std::move(name), std::move(entry));
  return ok();
}

Result<void> CpioImage::add_directory(std::string_view path) {
  return add(path, CpioEntry{S_IFDIR | 0755, {}, 0, 0});
}

Result<void> CpioImage::add_file(std::string_view path, Bytes data, std::uint32_t perm,
                                 Overwrite overwrite) {
  return add(path, CpioEntry{S_IFREG | (perm & 07777), std::move(data), 0, 0}, overwrite);
}

bool CpioImage::contains(std::string_view path) const { return find(path) != nullptr; }

const CpioEntry* CpioImage::find(std::string_view path) const {
  auto name = normalise_path(path);
  if (!name)
    return nullptr;
  auto it = m_entries.find(*name);
  return it == m_entries.end() ? nullptr : &it->second;
}

Result<void> CpioImage::merge_archive(ByteSpan input, std::string_view origin, std::uint64_t limit) {
  if (input.size() > limit)
    return Error(std::string(origin) + ": " + std::to_string(input.size()) + " bytes is over the " +
                 std::to_string(limit) + "-byte limit for an initramfs");
  // An initramfs may be several archives back to back (an uncompressed early
  // microcode cpio, then the compressed main one), NUL-padded between, as the
  // kernel unpacks them; later entries replace earlier ones. A compressed
  // part runs to the end: its expansion is read the same way, but may not be
  // compressed again.
  Bytes expanded;
  ByteSpan data = input;
  std::uint64_t pos = 0;
  std::size_t parts = 0;
  for (;;) {
    while (pos < data.size() && data[pos] == 0)
      ++pos;
    if (pos >= data.size()) {
      if (parts == 0)
        return Error(std::string(origin) + ": no cpio archive in it (empty or only NUL bytes)");
      return ok();
    }
    ByteSpan rest = data.subspan(pos);
    std::string where = pos == 0 && data.data() == input.data()
                            ? std::string(origin)
                            : std::string(origin) + " (archive " + std::to_string(parts + 1) + ")";
    if (Codec codec = detect_codec(rest); codec != Codec::None) {
      if (data.data() != input.data())
        return Error(where + ": compressed again inside a compressed archive");
      expanded = TRY_CTX(decompress(codec, rest, limit), where + ": " + std::string(codec_name(codec)) + " layer");
      data = expanded;
      pos = 0;
      continue;
    }
    std::uint64_t size = TRY(check_newc_layout(rest, where));
    TRY(merge_newc(rest.first(size), where));
    pos += size;
    ++parts;
  }
}

Result<void> CpioImage::merge_newc(ByteSpan data, std::string_view origin) {
  std::unique_ptr<archive, ArchiveReadDeleter> a(archive_read_new());
  archive_read_support_format_cpio(a.get());
  if (archive_read_open_memory(a.get(), data.data(), data.size()) != ARCHIVE_OK)
    return Error(std::string(origin) + ": not a cpio archive: " + archive_message(a.get()));
  // Hard links: newc carries the data on the last link; link names seen
  // earlier get the same contents so no link ends up empty.
  std::map<std::string, std::string> link_to_target;
  archive_entry* entry = nullptr;
  std::size_t index = 0;
  for (;;) {
    int rc = archive_read_next_header(a.get(), &entry);
    if (rc == ARCHIVE_EOF)
      break;
    if (rc < ARCHIVE_WARN)
      return Error(std::string(origin) + ": entry " + std::to_string(index) + ": " +
                   archive_message(a.get()));
    ++index;
    const char* raw_name = archive_entry_pathname(entry);
    if (!raw_name)
      return Error(std::string(origin) + ": entry " + std::to_string(index) + " has no name");
    std::string_view raw(raw_name);
    if (raw.find_first_not_of("./") == std::string_view::npos && raw.find("..") == std::string_view::npos)
      continue; // the archive root itself (".", "./")
    std::string name = TRY_CTX(normalise_path(raw), std::string(origin));
    CpioEntry e;
    e.mode = archive_entry_mode(entry);
    if (archive_entry_filetype(entry) == AE_IFLNK) {
      const char* target = archive_entry_symlink(entry);
      std::string t = target ? target : "";
      e.data.assign(t.begin(), t.end());
    } else if (archive_entry_filetype(entry) == AE_IFCHR || archive_entry_filetype(entry) == AE_IFBLK) {
      e.rdev_major = archive_entry_rdevmajor(entry);
      e.rdev_minor = archive_entry_rdevminor(entry);
    } else if (archive_entry_size(entry) > 0) {
      la_int64_t size = archive_entry_size(entry);
      if (size > 0xFFFFFFFFll)
        return Error(std::string(origin) + ": member '" + name + "' is too large");
      e.data.resize(static_cast<std::size_t>(size));
      la_ssize_t n = archive_read_data(a.get(), e.data.data(), e.data.size());
      if (n != size)
        return Error(std::string(origin) + ": member '" + name + "' is truncated");
    }
    if (const char* hl = archive_entry_hardlink(entry)) {
      auto target = normalise_path(hl);
      if (target)
        link_to_target[name] = *target;
      e.mode = (e.mode & 07777) | S_IFREG;
    }
    if (is_dir(e.mode))
      e.data.clear();
    // Later duplicates in the same archive replace earlier ones, as the kernel
    // unpacker does.
    TRY(add(name, std::move(e), Overwrite::Yes));
  }
  for (const auto& [name, target] : link_to_target) {
    auto t = m_entries.find(target);
    auto l = m_entries.find(name);
    if (t != m_entries.end() && l != m_entries.end()) {
      if (l->second.data.empty())
        l->second.data = t->second.data;
      else if (t->second.data.empty())
        t->second.data = l->second.data;
    }
  }
  return ok();
}

Result<Bytes> CpioImage::serialise() const {
  // Ancestors first; then directories, then the rest, each in byte order.
  std::map<std::string, const CpioEntry*> all;
  static const CpioEntry default_dir{S_IFDIR | 0755, {}, 0, 0};
  for (const auto& [name, entry] : m_entries) {
    all.emplace(name, &entry);
    for (std::size_t slash = name.rfind('/'); slash != std::string::npos && slash > 0;
         slash = name.rfind('/', slash - 1)) {
      all.emplace(name.substr(0, slash), &default_dir);
      if (slash == 0)
        break;
    }
  }
  std::vector<std::pair<const std::string*, const CpioEntry*>> order;
  order.reserve(all.size());
  for (const auto& [name, entry] : all)
    if (is_dir(entry->mode))
      order.emplace_back(&name, entry);
  for (const auto& [name, entry] : all)
    if (!is_dir(entry->mode))
      order.emplace_back(&name, entry);

  Bytes out;
  std::unique_ptr<archive, ArchiveWriteDeleter> a(archive_write_new());
  if (archive_write_set_format_cpio_newc(a.get()) != ARCHIVE_OK ||
      archive_write_set_bytes_per_block(a.get(), 0) != ARCHIVE_OK ||
      archive_write_open2(a.get(), &out, nullptr, append_callback, nullptr, nullptr) != ARCHIVE_OK)
    return Error(std::string("cpio writer: ") + archive_message(a.get()), ErrorKind::Io);
  std::unique_ptr<archive_entry, EntryDeleter> ae(archive_entry_new());
  for (const auto& [name, entry] : order) {
    archive_entry_clear(ae.get());
    archive_entry_set_pathname(ae.get(), name->c_str());
    archive_entry_set_mode(ae.get(), entry->mode);
    archive_entry_set_uid(ae.get(), 0);
    archive_entry_set_gid(ae.get(), 0);
    archive_entry_set_mtime(ae.get(), 0, 0);
    archive_entry_set_ino64(ae.get(), 0);
    archive_entry_set_nlink(ae.get(), 1);
    archive_entry_set_rdevmajor(ae.get(), entry->rdev_major);
    archive_entry_set_rdevminor(ae.get(), entry->rdev_minor);
    std::string link;
    if ((entry->mode & S_IFMT) == S_IFLNK) {
      link.assign(entry->data.begin(), entry->data.end());
      archive_entry_set_symlink(ae.get(), link.c_str());
      archive_entry_set_size(ae.get(), static_cast<la_int64_t>(link.size()));
    } else {
      archive_entry_set_size(ae.get(), static_cast<la_int64_t>(is_dir(entry->mode) ? 0 : entry->data.size()));
    }
    if (archive_write_header(a.get(), ae.get()) != ARCHIVE_OK)
      return Error("cpio writer: " + *name + ": " + archive_message(a.get()), ErrorKind::Io);
    if ((entry->mode & S_IFMT) == S_IFREG && !entry->data.empty()) {
      la_ssize_t n = archive_write_data(a.get(), entry->data.data(), entry->data.size());
      if (n < 0 || static_cast<std::size_t>(n) != entry->data.size())
        return Error("cpio writer: " + *name + ": " + archive_message(a.get()), ErrorKind::Io);
    }
  }
  if (archive_write_close(a.get()) != ARCHIVE_OK)
    return Error(std::string("cpio writer: ") + archive_message(a.get()), ErrorKind::Io);
  return out;
}

} // namespace fastboop::stage0
