// tar entry as a block source. libarchive walks the headers (ustar, pax, GNU)
// through read/skip callbacks over the source beneath, so entry data is
// skipped rather than read; the located entry is then a plain byte range.
#include "pipeline/sources.hpp"
#include "common/archive_message.hpp"

#include <archive.h>
#include <archive_entry.h>
#include <sys/stat.h>

namespace fastboop::pipeline {

namespace {

constexpr std::string_view kLayer = "tar";

struct ReaderState {
  BlockSource* source;
  std::uint64_t pos = 0;
  Bytes buf = Bytes(64u << 10);
  std::optional<Error> error;
};

la_ssize_t read_cb(struct archive*, void* client, const void** out) {
  auto* st = static_cast<ReaderState*>(client);
  std::uint64_t left = st->source->size() - st->pos;
  std::size_t n = static_cast<std::size_t>(std::min<std::uint64_t>(left, st->buf.size()));
  if (n == 0)
    return 0;
  auto r = st->source->read_at(st->pos, std::span(st->buf.data(), n));
  if (!r) {
    st->error = std::move(r).error();
    return -1;
  }
  st->pos += n;
  *out = st->buf.data();
  return static_cast<la_ssize_t>(n);
}

la_int64_t skip_cb(struct archive*, void* client, la_int64_t request) {
  auto* st = static_cast<ReaderState*>(client);
  std::uint64_t left = st->source->size() - st->pos;
  std::uint64_t n = std::min<std::uint64_t>(left, static_cast<std::uint64_t>(request < 0 ? 0 : request));
  st->pos += n;
  return static_cast<la_int64_t>(n);
}

la_int64_t seek_cb(struct archive*, void* client, la_int64_t offset, int whence) {
  auto* st = static_cast<ReaderState*>(client);
  la_int64_t base = whence == SEEK_SET ? 0 : whence == SEEK_CUR ? static_cast<la_int64_t>(st->pos)
                                                                : static_cast<la_int64_t>(st->source->size());
  la_int64_t target = base + offset;
  if (target < 0 || static_cast<std::uint64_t>(target) > st->source->size())
    return ARCHIVE_FATAL;
  st->pos = static_cast<std::uint64_t>(target);
  return target;
}

struct ArchiveFree {
  void operator()(struct archive* a) const { archive_read_free(a); }
};

class TarEntrySource final : public BlockSource {
public:
  TarEntrySource(BlockSourcePtr inner, TarIndex index)
      : m_inner(std::move(inner)), m_index(std::move(index)) {}
  std::uint64_t size() const override { return m_index.size_bytes; }
  std::string describe() const override {
    return "tar[" + m_index.entry_name + "] <- " + m_inner->describe();
  }
  Result<void> read_at(std::uint64_t offset, std::span<std::uint8_t> out) override {
    if (offset > m_index.size_bytes || out.size() > m_index.size_bytes - offset)
      return layer_error(kLayer, offset, "read past the end of entry '" + m_index.entry_name + "'");
    return m_inner->read_at(m_index.data_offset + offset, out);
  }

private:
  BlockSourcePtr m_inner;
  TarIndex m_index;
};

} // namespace

Result<std::string> normalize_tar_entry(std::string_view entry) {
  std::string s(entry);
  auto b = s.find_first_not_of(" \t\r\n");
  auto e = s.find_last_not_of(" \t\r\n");
  s = b == std::string::npos ? std::string() : s.substr(b, e - b + 1);
  for (;;) {
    if (s.starts_with("/"))
      s.erase(0, 1);
    else if (s.starts_with("./"))
      s.erase(0, 2);
    else
      break;
  }
  while (s.ends_with("/"))
    s.pop_back();
  if (s.empty())
    return Error("tar: entry name is empty");
  if (s.find('\0') != std::string::npos)
    return Error("tar: entry name contains NUL");
  std::size_t start = 0;
  while (start <= s.size()) {
    std::size_t end = s.find('/', start);
    if (end == std::string::npos)
      end = s.size();
    if (s.compare(start, end - start, "..") == 0)
      return Error("tar: entry name '" + s + "' contains a '..' component");
    start = end + 1;
  }
  return s;
}

Result<TarIndex> locate_tar_entry(BlockSource& inner, std::string_view entry) {
  std::string want = TRY(normalize_tar_entry(entry));
  std::unique_ptr<struct archive, ArchiveFree> a(archive_read_new());
  archive_read_support_format_tar(a.get());
  archive_read_support_format_gnutar(a.get());
  ReaderState st{&inner};
  archive_read_set_read_callback(a.get(), read_cb);
  archive_read_set_skip_callback(a.get(), skip_cb);
  archive_read_set_seek_callback(a.get(), seek_cb);
  archive_read_set_callback_data(a.get(), &st);
  if (archive_read_open1(a.get()) != ARCHIVE_OK) {
    if (st.error)
      return std::move(*st.error).with_context("tar");
    return layer_error(kLayer, 0, std::string("not a tar archive: ") + archive_message(a.get()));
  }
  for (;;) {
    struct archive_entry* e = nullptr;
    int r = archive_read_next_header(a.get(), &e);
    if (r == ARCHIVE_EOF)
      break;
    if (r < ARCHIVE_WARN) {
      if (st.error)
        return std::move(*st.error).with_context("tar");
      const char* msg = archive_error_string(a.get());
      return layer_error(kLayer, static_cast<std::uint64_t>(archive_read_header_position(a.get())),
                         std::string("bad header: ") + (msg ? msg : "unknown error"));
    }
    const char* name_c = archive_entry_pathname(e);
    if (!name_c || archive_entry_filetype(e) != AE_IFREG)
      continue;
    auto name = normalize_tar_entry(name_c);
    if (!name || *name != want)
      continue;
    if (archive_entry_sparse_count(e) > 0)
      return Error("tar: entry '" + want + "' is a GNU sparse file; its data is not one byte range",
                   ErrorKind::Unsupported);
    if (archive_entry_size_is_set(e) == 0 || archive_entry_size(e) < 0)
      return Error("tar: entry '" + want + "' has no size");
    TarIndex idx;
    idx.entry_name = want;
    idx.header_offset = static_cast<std::uint64_t>(archive_read_header_position(a.get()));
    // Bytes the format reader has consumed: the headers, so the data starts here.
    idx.data_offset = static_cast<std::uint64_t>(archive_filter_bytes(a.get(), 0));
    idx.size_bytes = static_cast<std::uint64_t>(archive_entry_size(e));
    if (archive_filter_count(a.get()) != 1 || archive_filter_code(a.get(), 0) != ARCHIVE_FILTER_NONE)
      return Error("tar: compressed tar archives cannot be range-read; add an xz stage below", ErrorKind::Unsupported);
    if (idx.data_offset < 512 || idx.data_offset > inner.size() || idx.size_bytes > inner.size() - idx.data_offset)
      return layer_error(kLayer, idx.data_offset, "entry '" + want + "' data lies past the end of the archive");
    std::uint8_t flag = 0;
    TRY(inner.read_at(idx.data_offset - 512 + 156, std::span(&flag, 1)));
    idx.entry_type = flag;
    return idx;
  }
  if (st.error)
    return std::move(*st.error).with_context("tar");
  return Error("tar: no regular file entry '" + want + "' in " + inner.describe());
}

Result<BlockSourcePtr> open_tar_entry(BlockSourcePtr inner, std::string_view entry, const TarIndex* hint) {
  TarIndex idx;
  if (hint) {
    std::string want = TRY(normalize_tar_entry(entry));
    if (hint->entry_name != want)
      return Error("tar: entry index hint names '" + hint->entry_name + "', stage wants '" + want + "'");
    if (hint->data_offset > inner->size() || hint->size_bytes > inner->size() - hint->data_offset ||
        hint->header_offset >= hint->data_offset)
      return Error("tar: entry index hint for '" + want + "' lies outside the archive");
    idx = *hint;
  } else {
    idx = TRY(locate_tar_entry(*inner, entry));
  }
  return BlockSourcePtr(std::make_unique<TarEntrySource>(std::move(inner), std::move(idx)));
}

} // namespace fastboop::pipeline
