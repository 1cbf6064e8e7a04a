// Pipeline hints: lookup, validation, merging, and what optimize collects.
#include "pipeline/hints.hpp"

#include "common/file_io.hpp"
#include "common/hash.hpp"
#include "pipeline/pipeline.hpp"

#include <algorithm>
#include <unistd.h>

namespace fastboop::pipeline {

namespace {

using profiles::PipelineSource;
using profiles::StageKind;

template <typename T> const T* find_kind(const PipelineHints& hints, std::string_view identity) {
  const PipelineHintEntry* e = hints.find(identity);
  if (!e)
    return nullptr;
  for (const auto& h : e->hints)
    if (const T* v = std::get_if<T>(&h))
      return v;
  return nullptr;
}

void add_hint(std::map<std::string, std::vector<PipelineHint>>& out, const std::string& identity, PipelineHint hint) {
  auto& list = out[identity];
  if (std::find(list.begin(), list.end(), hint) == list.end())
    list.push_back(std::move(hint));
}

Result<PipelineHints> to_hints(std::map<std::string, std::vector<PipelineHint>> by_identity) {
  PipelineHints out;
  for (auto& [identity, list] : by_identity) {
    std::stable_sort(list.begin(), list.end(), [](const PipelineHint& a, const PipelineHint& b) { return a.index() < b.index(); });
    out.entries.push_back({identity, std::move(list)});
  }
  TRY(validate_pipeline_hints(out));
  return out;
}

struct Collector {
  const CollectOptions& options;
  OpenOptions open_options;
  std::map<std::string, std::vector<PipelineHint>> found;
  std::filesystem::path materialized_dir;

  // Read a stage's whole output once: hash it and keep a materialized copy
  // that outer stages then read as a local artifact (as upstream does).
  Result<ContentDigestHint> digest_stage(const PipelineSource& s) {
    BlockSourcePtr src = TRY(open_pipeline(s, open_options));
    std::error_code ec;
    std::filesystem::create_directories(materialized_dir, ec);
    const std::filesystem::path pending = materialized_dir / (".pending-" + std::to_string(::getpid()));
    auto tmp = TRY(AtomicFile::create(pending));
    Hasher h(HashAlgorithm::Sha512);
    Bytes buf(4u << 20);
    for (std::uint64_t pos = 0; pos < src->size();) {
      std::size_t n = static_cast<std::size_t>(std::min<std::uint64_t>(buf.size(), src->size() - pos));
      TRY(src->read_at(pos, std::span(buf.data(), n)));
      h.update(ByteSpan(buf.data(), n));
      TRY(tmp.write(ByteSpan(buf.data(), n)));
      pos += n;
    }
    std::string hex = to_hex(h.finish());
    ContentDigestHint d{"sha512:" + hex, src->size()};
    TRY(tmp.commit());
    // Named by its digest: renaming over an existing copy replaces identical bytes.
    std::filesystem::rename(pending, materialized_dir / hex, ec);
    if (ec)
      return Error("materializing " + stage_identity(s) + ": " + ec.message(), ErrorKind::Io);
    open_options.local_artifacts.add_verified(d.digest, d.size_bytes, materialized_dir / hex);
    return d;
  }

  Result<void> walk(const PipelineSource& s) {
    if (s.is_terminal())
      return ok();
    if (!s.source)
      return Error("pipeline stage " + stage_identity(s) + " has no inner source");
    TRY(walk(**s.source));
    const std::string identity = stage_identity(s);
    if (s.kind == StageKind::AndroidSparse) {
      BlockSourcePtr in = TRY(open_pipeline(**s.source, open_options));
      SparseIndex idx = TRY_CTX(scan_sparse_index(*in), identity);
      add_hint(found, identity, std::move(idx));
    } else if (s.kind == StageKind::Tar) {
      BlockSourcePtr in = TRY(open_pipeline(**s.source, open_options));
      TarIndex idx = TRY_CTX(locate_tar_entry(*in, s.tar_entry), identity);
      add_hint(found, identity, std::move(idx));
    }
    if (!s.content) {
      ContentDigestHint d = TRY_CTX(digest_stage(s), "computing the content digest of " + identity);
      add_hint(found, identity, std::move(d));
    }
    return ok();
  }
};

} // namespace

const PipelineHintEntry* PipelineHints::find(std::string_view identity) const {
  auto it = std::lower_bound(entries.begin(), entries.end(), identity,
                             [](const PipelineHintEntry& e, std::string_view id) { return e.pipeline_identity < id; });
  return it != entries.end() && it->pipeline_identity == identity ? &*it : nullptr;
}
const SparseIndex* PipelineHints::sparse_index(std::string_view identity) const {
  return find_kind<SparseIndex>(*this, identity);
}
const TarIndex* PipelineHints::tar_index(std::string_view identity) const {
  return find_kind<TarIndex>(*this, identity);
}
const ContentDigestHint* PipelineHints::content_digest(std::string_view identity) const {
  return find_kind<ContentDigestHint>(*this, identity);
}

Result<void> validate_pipeline_hints(const PipelineHints& hints) {
  for (std::size_t i = 0; i < hints.entries.size(); ++i) {
    const auto& e = hints.entries[i];
    if (e.pipeline_identity.find_first_not_of(" \t\r\n") == std::string::npos)
      return Error("pipeline hints: entry " + std::to_string(i) + " has a blank identity");
    if (i > 0 && !(hints.entries[i - 1].pipeline_identity < e.pipeline_identity))
      return Error("pipeline hints: entry " + std::to_string(i) + " (" + e.pipeline_identity +
                   ") is not strictly ascending after its predecessor");
    if (e.hints.empty())
      return Error("pipeline hints: entry " + e.pipeline_identity + " has no hints");
    bool seen[3] = {};
    for (const auto& h : e.hints) {
      if (seen[h.index()])
        return Error("pipeline hints: entry " + e.pipeline_identity + " has two hints of kind " + std::to_string(h.index()));
      seen[h.index()] = true;
    }
  }
  return ok();
}

Result<PipelineHints> merge_pipeline_hints(const std::vector<PipelineHints>& parts) {
  std::map<std::string, std::vector<PipelineHint>> all;
  for (const auto& p : parts)
    for (const auto& e : p.entries)
      for (const auto& h : e.hints)
        add_hint(all, e.pipeline_identity, h);
  return to_hints(std::move(all));
}

Result<PipelineHints> collect_pipeline_hints(const PipelineSource& source, const CollectOptions& options) {
  Collector c{options, {}, {}, {}};
  std::filesystem::path cache = options.cache_dir.empty() ? default_cache_dir() : options.cache_dir;
  c.open_options.cache_dir = cache;
  c.open_options.local_artifacts = TRY(LocalArtifactIndex::build(options.local_artifacts));
  c.materialized_dir = cache / "materialized";
  TRY(c.walk(source));
  return to_hints(std::move(c.found));
}

Result<std::vector<BlockTable>> collect_block_tables(const PipelineSource& source, const CollectOptions& options,
                                                     std::uint32_t block_size) {
  OpenOptions open;
  open.cache_dir = options.cache_dir.empty() ? default_cache_dir() : options.cache_dir;
  open.local_artifacts = TRY(LocalArtifactIndex::build(options.local_artifacts));
  std::vector<BlockTable> tables;
  for (const PipelineSource* s = &source; s; s = s->source ? &**s->source : nullptr) {
    if (!s->is_terminal())
      continue;
    const std::string identity = stage_identity(*s);
    if (!s->content)
      return Error("block-hash table of " + identity + ": the stage declares no content digest");
    BlockSourcePtr in = TRY(open_pipeline(*s, open));
    tables.push_back(TRY(compute_block_table(*in, block_size, identity, s->content->digest)));
  }
  return tables;
}

} // namespace fastboop::pipeline
