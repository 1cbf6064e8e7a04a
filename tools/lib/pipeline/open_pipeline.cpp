// open_pipeline: a profiles::PipelineSource becomes a stack of block sources.
// Each stage first looks for a local artifact with its content (declared, or
// from a ContentDigest hint); stages with a known content are wrapped so that
// a full read is verified against the digest.
#include "common/hash.hpp"
#include "common/text.hpp"
#include "pipeline/pipeline.hpp"

#include <algorithm>

namespace fastboop::pipeline {

namespace {

using profiles::ContentDigest;
using profiles::PipelineSource;
using profiles::StageKind;

constexpr int kMaxPipelineDepth = 16;

std::string_view kind_name(StageKind k) {
  switch (k) {
  case StageKind::Casync: return "casync";
  case StageKind::Http: return "http";
  case StageKind::File: return "file";
  case StageKind::Xz: return "xz";
  case StageKind::Tar: return "tar";
  case StageKind::AndroidSparse: return "android_sparseimg";
  case StageKind::Mbr: return "mbr";
  case StageKind::Gpt: return "gpt";
  case StageKind::Iso9660: return "iso9660";
  }
  return "?";
}

Error digest_mismatch(std::string_view stage, std::string_view expected, std::string_view actual) {
  return Error("content digest mismatch for stage " + std::string(stage) + ": expected " + std::string(expected) +
               ", actual " + std::string(actual));
}

// Hashes the output as it is read in order from offset 0; when the last byte
// has been hashed the digest is compared, and a mismatch fails that read and
// every later one.
class VerifyingSource final : public BlockSource {
public:
  VerifyingSource(BlockSourcePtr inner, ContentDigest content, std::string stage)
      : m_inner(std::move(inner)), m_content(std::move(content)), m_stage(std::move(stage)),
        m_hasher(HashAlgorithm::Sha512) {}
  std::uint64_t size() const override { return m_inner->size(); }
  std::string describe() const override { return m_inner->describe(); }
  Result<void> read_at(std::uint64_t offset, std::span<std::uint8_t> out) override {
    if (m_failure)
      return *m_failure;
    TRY(m_inner->read_at(offset, out));
    if (!m_done && offset <= m_hashed && offset + out.size() > m_hashed) {
      std::size_t skip = static_cast<std::size_t>(m_hashed - offset);
      m_hasher.update(ByteSpan(out.data() + skip, out.size() - skip));
      m_hashed = offset + out.size();
      if (m_hashed == size()) {
        m_done = true;
        std::string actual = "sha512:" + to_hex(m_hasher.finish());
        if (actual != m_content.digest) {
          m_failure = digest_mismatch(m_stage, m_content.digest, actual);
          return *m_failure;
        }
      }
    }
    return ok();
  }

private:
  BlockSourcePtr m_inner;
  ContentDigest m_content;
  std::string m_stage;
  Hasher m_hasher;
  std::uint64_t m_hashed = 0;
  bool m_done = false;
  std::optional<Error> m_failure;
};

class BlockCheckingSource final : public BlockSource {
public:
  BlockCheckingSource(BlockSourcePtr inner, std::shared_ptr<const BlockTable> table, std::string stage)
      : m_inner(std::move(inner)), m_table(std::move(table)), m_stage(std::move(stage)) {}
  std::uint64_t size() const override { return m_inner->size(); }
  std::string describe() const override { return m_inner->describe(); }
  Result<void> read_at(std::uint64_t offset, std::span<std::uint8_t> out) override {
    if (offset > size() || out.size() > size() - offset)
      return layer_error(describe(), offset, "read past the end (size " + std::to_string(size()) + ")");
    for (std::size_t done = 0; done < out.size();) {
      const std::uint64_t pos = offset + done;
      const std::uint64_t b = pos / m_table->block_size;
      TRY(load(b));
      const std::uint64_t in_block = pos - m_table->block_first(b);
      const std::size_t n = static_cast<std::size_t>(
          std::min<std::uint64_t>(out.size() - done, m_block.size() - in_block));
      std::copy_n(m_block.begin() + static_cast<std::ptrdiff_t>(in_block), n, out.begin() + static_cast<std::ptrdiff_t>(done));
      done += n;
    }
    return ok();
  }

private:
  Result<void> load(std::uint64_t b) {
    if (m_loaded == b)
      return ok();
    m_loaded.reset();
    const std::uint64_t first = m_table->block_first(b), last = m_table->block_last(b);
    m_block.resize(static_cast<std::size_t>(last - first + 1));
    TRY(m_inner->read_at(first, m_block));
    if (!m_table->matches(b, m_block))
      return Error(m_stage + " (" + describe() + "): bytes " + std::to_string(first) + "-" + std::to_string(last) +
                   " (block " + std::to_string(b) + ") do not match the profile's block-hash table");
    m_loaded = b;
    return ok();
  }

  BlockSourcePtr m_inner;
  std::shared_ptr<const BlockTable> m_table;
  std::string m_stage;
  Bytes m_block;
  std::optional<std::uint64_t> m_loaded;
};

struct Opener {
  const OpenOptions& options;
  NetworkMode network;

  std::optional<ContentDigest> content_of(const PipelineSource& s, const std::string& identity) const {
    if (s.content)
      return s.content;
    if (options.hints)
      if (const ContentDigestHint* h = options.hints->content_digest(identity))
        return ContentDigest{h->digest, h->size_bytes};
    return std::nullopt;
  }

  std::shared_ptr<const BlockTable> table_of(const std::optional<ContentDigest>& content) const {
    if (!content || !options.block_tables)
      return nullptr;
    return options.block_tables->find(content->digest, content->size_bytes);
  }

  // A remote object with a digest but no table is checked whole before use,
  // unless the caller asked for unverified ranged reads by name.
  bool needs_upfront_check(const std::optional<ContentDigest>& content,
                           const std::shared_ptr<const BlockTable>& table) const {
    return content && !table && options.digest_check == DigestCheck::Upfront;
  }

  Result<BlockSourcePtr> inner(const PipelineSource& s, int depth) {
    if (!s.source)
      return Error("pipeline " + std::string(kind_name(s.kind)) + " stage has no inner source");
    return open(**s.source, depth + 1);
  }

  Result<BlockSourcePtr> open_raw(const PipelineSource& s, const std::string& identity,
                                  const std::optional<ContentDigest>& content, int depth) {
    std::filesystem::path cache = options.cache_dir.empty() ? default_cache_dir() : options.cache_dir;
    switch (s.kind) {
    case StageKind::File: {
      std::string path(trim(s.location));
      if (path.empty())
        return Error("pipeline file stage has an empty path");
      BlockSourcePtr f = TRY(open_file_source(path));
      if (content && options.content_check == ContentCheck::EagerLocalFiles) {
        TRY(verify_content(*f, *content, identity));
        return f;
      }
      if (auto table = table_of(content); table && f->size() == table->size)
        return make_block_checking_source(std::move(f), std::move(table), identity);
      return f;
    }
    case StageKind::Http: {
      std::string url(trim(s.location));
      HttpOptions h;
      h.cache_dir = cache;
      h.network = network;
      h.on_fetch = options.on_fetch;
      h.set_timeouts(options.http_timeouts ? *options.http_timeouts
                                           : TRY(http_timeouts_from_env()));
      if (content) {
        h.content_digest = content->digest;
        h.content_size = content->size_bytes;
        h.block_table = table_of(content);
      }
      auto src = TRY(open_http(url, h));
      if (needs_upfront_check(content, h.block_table) && !src->verified())
        TRY(verify_content(*src, *content, identity));
      return BlockSourcePtr(std::move(src));
    }
    case StageKind::Casync: {
      CasyncOptions c;
      c.http.cache_dir = cache;
      c.http.network = network;
      c.http.on_fetch = options.on_fetch;
      c.http.set_timeouts(options.http_timeouts ? *options.http_timeouts
                                                : TRY(http_timeouts_from_env()));
      // Chunks are checked against their ids as they load; a table checks the
      // assembled output, so a tampered index cannot swap in other chunks.
      BlockSourcePtr blob = TRY(open_casync(std::string(trim(s.location)), s.chunk_store, c));
      if (auto table = table_of(content); table && blob->size() == table->size)
        return make_block_checking_source(std::move(blob), std::move(table), identity);
      // Chunk ids come from an index nothing has checked yet: only the
      // content digest binds the assembled bytes.
      if (needs_upfront_check(content, nullptr))
        TRY(verify_content(*blob, *content, identity));
      return blob;
    }
    case StageKind::Xz:
      return open_xz(TRY(inner(s, depth)), XzOptions{.cache_dir = cache});
    case StageKind::AndroidSparse: {
      const SparseIndex* hint = options.hints ? options.hints->sparse_index(identity) : nullptr;
      return open_android_sparse(TRY(inner(s, depth)), hint);
    }
    case StageKind::Tar: {
      const TarIndex* hint = options.hints ? options.hints->tar_index(identity) : nullptr;
      return open_tar_entry(TRY(inner(s, depth)), s.tar_entry, hint);
    }
    case StageKind::Mbr:
      return open_mbr_partition(TRY(inner(s, depth)), MbrSelector{s.partuuid, s.index, s.lba_size});
    case StageKind::Gpt:
      return open_gpt_partition(TRY(inner(s, depth)), GptSelector{s.partlabel, s.partuuid, s.index, s.lba_size});
    case StageKind::Iso9660:
      return open_iso9660_file(TRY(inner(s, depth)), s.iso_path);
    }
    return Error("pipeline stage of unknown kind " + std::to_string(static_cast<std::uint32_t>(s.kind)));
  }

  Result<BlockSourcePtr> open(const PipelineSource& s, int depth) {
    if (depth > kMaxPipelineDepth)
      return Error("pipeline exceeds max depth " + std::to_string(kMaxPipelineDepth));
    const std::string identity = stage_identity(s);
    std::optional<ContentDigest> content = content_of(s, identity);
    if (content && !options.local_artifacts.empty())
      if (auto path = options.local_artifacts.find(content->digest, content->size_bytes)) {
        // Hashed when the index was built: substitution is already verified.
        BlockSourcePtr f = TRY(open_file_source(*path));
        return open_slice(std::move(f), 0, content->size_bytes,
                          "local-artifact(" + path->string() + ") for " + std::string(kind_name(s.kind)));
      }
    // Errors from the stages name their layer and offset already.
    BlockSourcePtr src = TRY(open_raw(s, identity, content, depth));
    if (!content)
      return src;
    if (src->size() != content->size_bytes)
      return Error("content size mismatch for stage " + identity + ": expected " + std::to_string(content->size_bytes) +
                   " bytes, actual " + std::to_string(src->size()) + " (" + src->describe() + ")");
    return BlockSourcePtr(std::make_unique<VerifyingSource>(std::move(src), *content, identity));
  }
};

} // namespace

Result<LocalArtifactIndex> LocalArtifactIndex::build(const std::vector<std::filesystem::path>& paths) {
  LocalArtifactIndex idx;
  for (const auto& p : paths) {
    std::error_code ec;
    std::filesystem::path canon = std::filesystem::canonical(p, ec);
    if (ec)
      return Error("--local-artifact " + p.string() + ": " + ec.message(), ErrorKind::Io);
    FileDigest d = TRY_CTX(sha512_file(canon), "--local-artifact " + p.string());
    auto key = std::make_pair(d.content_digest(), d.size);
    auto [it, inserted] = idx.m_files.emplace(key, canon);
    if (!inserted && it->second != canon)
      return Error("--local-artifact: " + it->second.string() + " and " + canon.string() +
                   " have the same content (" + key.first.substr(0, 23) + "…, " + std::to_string(d.size) + " bytes)");
  }
  return idx;
}

std::optional<std::filesystem::path> LocalArtifactIndex::find(std::string_view digest, std::uint64_t size) const {
  auto it = m_files.find(std::make_pair(std::string(digest), size));
  if (it == m_files.end())
    return std::nullopt;
  return it->second;
}

std::optional<std::pair<std::filesystem::path, std::uint64_t>>
LocalArtifactIndex::find_digest(std::string_view digest) const {
  for (const auto& [key, path] : m_files)
    if (key.first == digest)
      return std::make_pair(path, key.second);
  return std::nullopt;
}

void LocalArtifactIndex::add_verified(std::string digest, std::uint64_t size, std::filesystem::path path) {
  m_files.insert_or_assign(std::make_pair(std::move(digest), size), std::move(path));
}

Result<BlockSourcePtr> open_pipeline(const PipelineSource& source, const OpenOptions& options) {
  Opener o{options, options.network.value_or(offline_from_env() ? NetworkMode::Offline : NetworkMode::Online)};
  return o.open(source, 0);
}

BlockSourcePtr make_block_checking_source(BlockSourcePtr inner, std::shared_ptr<const BlockTable> table,
                                          std::string stage) {
  return std::make_unique<BlockCheckingSource>(std::move(inner), std::move(table), std::move(stage));
}

Result<void> verify_content(BlockSource& source, const ContentDigest& content, std::string_view stage) {
  if (source.size() != content.size_bytes)
    return Error("content size mismatch for stage " + std::string(stage) + ": expected " +
                 std::to_string(content.size_bytes) + " bytes, actual " + std::to_string(source.size()));
  Hasher h(HashAlgorithm::Sha512);
  Bytes buf(4u << 20);
  for (std::uint64_t pos = 0; pos < source.size();) {
    std::size_t n = static_cast<std::size_t>(std::min<std::uint64_t>(buf.size(), source.size() - pos));
    TRY(source.read_at(pos, std::span(buf.data(), n)));
    h.update(ByteSpan(buf.data(), n));
    pos += n;
  }
  std::string actual = "sha512:" + to_hex(h.finish());
  if (actual != content.digest)
    return digest_mismatch(stage, content.digest, actual);
  return ok();
}

} // namespace fastboop::pipeline
