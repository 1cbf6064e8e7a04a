#include "profiles/pipeline.hpp"
#include "common/hash.hpp"
#include "common/text.hpp"

#include "profiles/profiles.hpp"

#include <algorithm>
#include <array>
#include <cctype>

namespace fastboop::profiles {

namespace detail {

namespace {

using yaml::Json;
using yaml::MapReader;
using yaml::Value;

constexpr std::array<std::string_view, 9> stage_keys{"casync", "http",    "file", "xz", "tar", "android_sparseimg",
                                                     "mbr",    "gpt", "iso9660"};

// The keys that bind to a wrapper in the flattened form (spec §3.2 rule 1).
std::vector<std::string_view> wrapper_keys(StageKind kind) {
  switch (kind) {
  case StageKind::Tar:
    return {"entry", "content"};
  case StageKind::Iso9660:
    return {"path", "content"};
  case StageKind::AndroidSparse:
    return {"content"};
  case StageKind::Mbr:
    return {"partuuid", "index", "lba_size", "content"};
  case StageKind::Gpt:
    return {"partlabel", "partuuid", "index", "lba_size", "content"};
  default:
    return {};
  }
}

Result<std::optional<ContentDigest>> take_content(MapReader& map) {
  auto v = map.take("content");
  if (!v || v->is_null())
    return std::optional<ContentDigest>{};
  return std::optional<ContentDigest>{TRY(parse_content(*v))};
}

Result<PipelineSource> parse_wrapper(StageKind kind, const Value& stage_value, unsigned depth) {
  PipelineSource src;
  src.kind = kind;
  auto m = TRY(stage_value.map());
  switch (kind) {
  case StageKind::Tar:
    src.tar_entry = TRY(m.req_string("entry"));
    break;
  case StageKind::Iso9660:
    src.iso_path = TRY(m.req_string("path"));
    break;
  case StageKind::Mbr:
    src.partuuid = TRY(m.opt_string("partuuid"));
    src.index = TRY(m.opt_uint<std::uint32_t>("index"));
    src.lba_size = TRY(m.opt_uint<std::uint32_t>("lba_size"));
    break;
  case StageKind::Gpt:
    src.partlabel = TRY(m.opt_string("partlabel"));
    src.partuuid = TRY(m.opt_string("partuuid"));
    src.index = TRY(m.opt_uint<std::uint32_t>("index"));
    src.lba_size = TRY(m.opt_uint<std::uint32_t>("lba_size"));
    break;
  default:
    break;
  }
  src.content = TRY(take_content(m));
  if (auto source = m.take("source")) {
    // The `source:` form. Upstream ignores extra keys here (§3.2 rule 3); we
    // reject them like everywhere else.
    std::vector<std::string_view> allowed = wrapper_keys(kind);
    allowed.push_back("source");
    for (const auto& e : m.entries())
      if (std::find(allowed.begin(), allowed.end(), e.key) == allowed.end())
        return yaml::error_at(m.origin(), e.key_node.Mark(), m.path(),
                              "unknown key '" + e.key + "' next to 'source'");
    src.source = TRY(parse_pipeline_value(*source, depth + 1));
    return src;
  }
  auto rest = m.take_rest();
  if (rest.empty())
    return m.error("missing the inner source (a stage key such as file, http or xz, or 'source')");
  MapReader inner(m.origin(), m.path(), m.mark(), std::move(rest));
  src.source = TRY(parse_pipeline(inner, depth + 1));
  return src;
}

} // namespace

std::string_view stage_key(StageKind kind) { return stage_keys.at(static_cast<std::size_t>(kind)); }

Result<ContentDigest> parse_content(const Value& value) {
  auto m = TRY(value.map());
  ContentDigest c;
  c.digest = TRY(m.req_string("digest"));
  c.size_bytes = TRY(m.req_uint<std::uint64_t>("size_bytes"));
  TRY(m.finish({"digest", "size_bytes"}));
  return c;
}

Result<PipelineSource> parse_pipeline_value(const Value& value, unsigned depth) {
  auto m = TRY(value.map());
  return parse_pipeline(m, depth);
}

Result<PipelineSource> parse_pipeline(MapReader& map, unsigned depth) {
  if (depth > max_pipeline_depth) // before descending: never parse what validation refuses
    return map.error("pipeline exceeds max depth " + std::to_string(max_pipeline_depth));
  std::vector<std::size_t> found;
  for (std::size_t i = 0; i < stage_keys.size(); ++i)
    if (map.has(stage_keys[i]))
      found.push_back(i);
  if (found.empty()) {
    std::string keys;
    for (const auto& e : map.entries())
      keys += (keys.empty() ? "" : ", ") + e.key;
    return map.error("expected a pipeline stage (one of casync, http, file, xz, tar, android_sparseimg, mbr, gpt)" +
                     (keys.empty() ? std::string() : ", found keys: " + keys));
  }
  if (found.size() > 1)
    return map.error("a stage map has exactly one stage key, found " + std::string(stage_keys[found[0]]) + " and " +
                     std::string(stage_keys[found[1]]));
  const auto kind = static_cast<StageKind>(found[0]);
  PipelineSource src;
  src.kind = kind;
  switch (kind) {
  case StageKind::Http:
    src.location = TRY(map.req_string("http"));
    src.cors_safelisted_mode = TRY(map.opt_bool("cors_safelisted_mode", false));
    src.content = TRY(take_content(map));
    TRY(map.finish({"http", "cors_safelisted_mode", "content"}));
    return src;
  case StageKind::File:
    src.location = TRY(map.req_string("file"));
    src.content = TRY(take_content(map));
    TRY(map.finish({"file", "content"}));
    return src;
  case StageKind::Casync: {
    auto v = TRY(map.require("casync"));
    TRY(map.finish({"casync"}));
    if (v.is_scalar()) {
      src.location = TRY(v.string()); // shorthand; cannot carry content (§7 N3)
      return src;
    }
    auto cm = TRY(v.map());
    src.location = TRY(cm.req_string("index"));
    src.chunk_store = TRY(cm.opt_string("chunk_store"));
    src.content = TRY(take_content(cm));
    TRY(cm.finish({"index", "chunk_store", "content"}));
    return src;
  }
  case StageKind::Xz: {
    auto inner = TRY(map.require("xz"));
    src.content = TRY(take_content(map));
    TRY(map.finish({"xz", "content"}));
    auto im = TRY(inner.map());
    if (im.has("source")) {
      auto source = TRY(im.require("source"));
      TRY(im.finish({"source"}));
      src.source = TRY(parse_pipeline_value(source, depth + 1));
    } else {
      src.source = TRY(parse_pipeline(im, depth + 1));
    }
    return src;
  }
  case StageKind::Tar:
  case StageKind::Iso9660:
  case StageKind::AndroidSparse:
  case StageKind::Mbr:
  case StageKind::Gpt: {
    auto stage_value = TRY(map.require(stage_keys[found[0]]));
    TRY(map.finish({stage_keys[found[0]]}));
    return parse_wrapper(kind, stage_value, depth);
  }
  }
  return map.error("unknown stage");
}

// --- rendering ----------------------------------------------------------------

Json content_to_tree(const ContentDigest& c) { return Json{{"digest", c.digest}, {"size_bytes", c.size_bytes}}; }

PipelineWork& pipeline_work() {
  thread_local PipelineWork work;
  return work;
}

namespace {
// Where a stage's `content` renders: beside the stage key for http, file and
// xz, inside the stage map otherwise (spec §3.2).
bool content_beside_key(const PipelineSource& s) {
  return s.kind == StageKind::Http || s.kind == StageKind::File || s.kind == StageKind::Xz;
}
// Flattened inner keys sit beside the wrapper's own; the only key both can
// have is `content`, which would then bind to the wrapper: such an inner
// stage keeps the `source:` form. Decided from the stage, not by rendering
// it (rendering the inner stage again at every level was 2^depth work).
bool flatten_inner(const PipelineSource& s) {
  return s.source && !(content_beside_key(**s.source) && (*s.source)->content);
}
} // namespace

Json pipeline_to_tree(const PipelineSource& s) {
  ++pipeline_work().rendered;
  Json out = Json::object();
  switch (s.kind) {
  case StageKind::Http:
    out["http"] = s.location;
    if (s.cors_safelisted_mode)
      out["cors_safelisted_mode"] = true;
    if (s.content)
      out["content"] = content_to_tree(*s.content);
    return out;
  case StageKind::File:
    out["file"] = s.location;
    if (s.content)
      out["content"] = content_to_tree(*s.content);
    return out;
  case StageKind::Casync: {
    Json c = Json::object();
    c["index"] = s.location;
    if (s.chunk_store)
      c["chunk_store"] = *s.chunk_store;
    if (s.content)
      c["content"] = content_to_tree(*s.content);
    out["casync"] = c;
    return out;
  }
  case StageKind::Xz:
    out["xz"] = s.source ? pipeline_to_tree(**s.source) : Json::object();
    if (s.content)
      out["content"] = content_to_tree(*s.content);
    return out;
  default:
    break;
  }
  Json m = Json::object();
  if (s.kind == StageKind::Tar)
    m["entry"] = s.tar_entry;
  if (s.kind == StageKind::Iso9660)
    m["path"] = s.iso_path;
  if (s.partlabel)
    m["partlabel"] = *s.partlabel;
  if (s.partuuid)
    m["partuuid"] = *s.partuuid;
  if (s.index)
    m["index"] = *s.index;
  if (s.lba_size)
    m["lba_size"] = *s.lba_size;
  if (s.content)
    m["content"] = content_to_tree(*s.content);
  if (s.source) {
    Json inner = pipeline_to_tree(**s.source);
    if (flatten_inner(s)) {
      for (auto& [k, v] : inner.items())
        m[k] = std::move(v);
    } else {
      m["source"] = std::move(inner);
    }
  }
  out[std::string(stage_key(s.kind))] = m;
  return out;
}

std::string inner_path(const PipelineSource& s, const std::string& path) {
  const std::string here = path.empty() ? std::string(stage_key(s.kind)) : path + "." + std::string(stage_key(s.kind));
  if (s.kind == StageKind::Xz)
    return here;
  return flatten_inner(s) ? here : here + ".source";
}

// --- postcard -------------------------------------------------------------------

namespace {
void encode_content(postcard::Writer& w, const std::optional<ContentDigest>& c) {
  w.option_tag(c.has_value());
  if (c) {
    w.string(c->digest);
    w.varint(c->size_bytes);
  }
}

Result<std::optional<ContentDigest>> decode_content(postcard::Reader& r) {
  if (!TRY(r.option_tag("content")))
    return std::optional<ContentDigest>{};
  ContentDigest c;
  c.digest = TRY(r.string("content.digest"));
  c.size_bytes = TRY(r.uint<std::uint64_t>("content.size_bytes"));
  return std::optional<ContentDigest>{std::move(c)};
}
} // namespace

void encode_pipeline(postcard::Writer& w, const PipelineSource& s) {
  w.varint(static_cast<std::uint32_t>(s.kind));
  static const PipelineSource empty_file{};
  const PipelineSource& inner = s.source ? **s.source : empty_file;
  switch (s.kind) {
  case StageKind::Casync:
    w.string(s.location);
    w.optional_string(s.chunk_store);
    break;
  case StageKind::Http:
    w.string(s.location);
    w.boolean(s.cors_safelisted_mode);
    break;
  case StageKind::File:
    w.string(s.location);
    break;
  case StageKind::Xz:
  case StageKind::AndroidSparse:
    encode_pipeline(w, inner);
    break;
  case StageKind::Tar:
    w.string(s.tar_entry);
    encode_pipeline(w, inner);
    break;
  case StageKind::Iso9660:
    w.string(s.iso_path);
    encode_pipeline(w, inner);
    break;
  case StageKind::Mbr:
    w.optional_string(s.partuuid);
    w.optional_varint(s.index);
    w.optional_varint(s.lba_size);
    encode_pipeline(w, inner);
    break;
  case StageKind::Gpt:
    w.optional_string(s.partlabel);
    w.optional_string(s.partuuid);
    w.optional_varint(s.index);
    w.optional_varint(s.lba_size);
    encode_pipeline(w, inner);
    break;
  }
  encode_content(w, s.content);
}

Result<PipelineSource> decode_pipeline(postcard::Reader& r, unsigned depth) {
  if (depth > max_pipeline_depth) // before descending: decoding stays linear and bounded
    return r.error("pipeline", "exceeds max depth " + std::to_string(max_pipeline_depth));
  ++pipeline_work().decoded;
  PipelineSource s;
  s.kind = static_cast<StageKind>(TRY(r.variant("pipeline stage", 9)));
  auto inner = [&]() -> Result<void> {
    s.source = Box<PipelineSource>(TRY(decode_pipeline(r, depth + 1)));
    return ok();
  };
  switch (s.kind) {
  case StageKind::Casync:
    s.location = TRY(r.string("casync.index"));
    s.chunk_store = TRY(r.optional_string("casync.chunk_store"));
    break;
  case StageKind::Http:
    s.location = TRY(r.string("http.url"));
    s.cors_safelisted_mode = TRY(r.boolean("http.cors_safelisted_mode"));
    break;
  case StageKind::File:
    s.location = TRY(r.string("file.path"));
    break;
  case StageKind::Xz:
  case StageKind::AndroidSparse:
    TRY(inner());
    break;
  case StageKind::Tar:
    s.tar_entry = TRY(r.string("tar.entry"));
    TRY(inner());
    break;
  case StageKind::Iso9660:
    s.iso_path = TRY(r.string("iso9660.path"));
    TRY(inner());
    break;
  case StageKind::Mbr:
    s.partuuid = TRY(r.optional_string("mbr.partuuid"));
    s.index = TRY(r.optional_uint<std::uint32_t>("mbr.index"));
    s.lba_size = TRY(r.optional_uint<std::uint32_t>("mbr.lba_size"));
    TRY(inner());
    break;
  case StageKind::Gpt:
    s.partlabel = TRY(r.optional_string("gpt.partlabel"));
    s.partuuid = TRY(r.optional_string("gpt.partuuid"));
    s.index = TRY(r.optional_uint<std::uint32_t>("gpt.index"));
    s.lba_size = TRY(r.optional_uint<std::uint32_t>("gpt.lba_size"));
    TRY(inner());
    break;
  }
  s.content = TRY(decode_content(r));
  return s;
}

void for_each_stage(const PipelineSource& source, const std::function<void(const PipelineSource&)>& fn) {
  const PipelineSource* s = &source;
  while (s) {
    fn(*s);
    s = s->source ? &**s->source : nullptr;
  }
}

void for_each_stage_mut(PipelineSource& source, const std::string& path,
                        const std::function<Result<void>(PipelineSource&, const std::string&)>& fn,
                        Result<void>& status) {
  PipelineSource* s = &source;
  std::string p = path;
  while (s && status.ok()) {
    status = fn(*s, p);
    p = inner_path(*s, p);
    s = s->source ? &**s->source : nullptr;
  }
}

} // namespace detail

// --- validation (spec §3.4, §3.5) -------------------------------------------------

namespace {

std::string at(const std::string& path, std::string_view key) {
  return path.empty() ? std::string(key) : path + "." + std::string(key);
}

Result<void> validate_content(const ContentDigest& c, const std::string& path) {
  auto digest = Sha512Digest::parse(trim(c.digest), Sha512Digest::Prefix::Required);
  if (!digest)
    return Error(at(path, "content.digest") + ": content " + digest.error().message());
  return ok();
}

bool blank(const std::string& s) { return trim(s).empty(); }

std::string lowercase_without_query(std::string s) {
  const auto cut = s.find_first_of("?#");
  if (cut != std::string::npos)
    s.resize(cut);
  for (auto& ch : s)
    ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  return s;
}

} // namespace

Result<void> validate_pipeline(const PipelineSource& source, const std::string& path) {
  const PipelineSource* s = &source;
  std::string p = path;
  for (unsigned depth = 0; s; ++depth) {
    const std::string here = at(p, detail::stage_key(s->kind));
    if (depth > detail::max_pipeline_depth)
      return Error(here + ": pipeline exceeds max depth " + std::to_string(detail::max_pipeline_depth));
    const auto required_content = [&](std::string_view what) -> Result<void> {
      if (!s->content)
        return Error(p.empty() ? std::string(what) + " stage requires content (digest and size_bytes)"
                               : p + ": " + std::string(what) + " stage requires content (digest and size_bytes)");
      return ok();
    };
    // Content sits beside http/file/xz, inside the stage map elsewhere.
    const std::string content_path = detail::content_beside_key(*s) ? p : here;
    switch (s->kind) {
    case StageKind::Http:
      if (blank(s->location))
        return Error(here + ": http url must not be empty");
      TRY(required_content("http"));
      break;
    case StageKind::File:
      if (blank(s->location))
        return Error(here + ": file path must not be empty");
      TRY(required_content("file"));
      break;
    case StageKind::Casync: {
      if (blank(s->location))
        return Error(here + ".index: casync index must not be empty");
      if (lowercase_without_query(std::string(trim(s->location))).ends_with(".caidx"))
        return Error(here + ".index: expected casync blob index (.caibx), not an archive index (.caidx)");
      if (s->chunk_store && blank(*s->chunk_store))
        return Error(here + ".chunk_store: casync chunk_store must not be blank");
      if (!s->content)
        return Error(here + ": casync stage requires content (digest and size_bytes)");
      break;
    }
    case StageKind::Tar:
      if (blank(s->tar_entry))
        return Error(here + ".entry: tar entry must not be empty");
      break;
    case StageKind::Iso9660:
      if (blank(s->iso_path))
        return Error(here + ".path: iso9660 path must not be empty");
      break;
    case StageKind::Mbr: {
      const int n = (s->partuuid ? 1 : 0) + (s->index ? 1 : 0);
      if (n != 1)
        return Error(here + ": pipeline mbr step must specify exactly one selector (partuuid or index); found " +
                     std::to_string(n));
      if (s->partuuid && blank(*s->partuuid))
        return Error(here + ".partuuid: mbr partuuid must not be blank");
      break;
    }
    case StageKind::Gpt: {
      const int n = (s->partlabel ? 1 : 0) + (s->partuuid ? 1 : 0) + (s->index ? 1 : 0);
      if (n != 1)
        return Error(here +
                     ": pipeline gpt step must specify exactly one selector (partlabel, partuuid or index); found " +
                     std::to_string(n));
      if (s->partlabel && blank(*s->partlabel))
        return Error(here + ".partlabel: gpt partlabel must not be blank");
      if (s->partuuid && blank(*s->partuuid))
        return Error(here + ".partuuid: gpt partuuid must not be blank");
      break;
    }
    case StageKind::Xz:
    case StageKind::AndroidSparse:
      break;
    }
    if (s->content)
      TRY(validate_content(*s->content, content_path));
    if (!s->is_terminal() && !s->source)
      return Error(here + ": wrapper stage has no inner source");
    p = detail::inner_path(*s, p);
    s = s->source ? &**s->source : nullptr;
  }
  return ok();
}

// --- identity (spec §3.6) --------------------------------------------------------

namespace {
std::string sized(std::string_view v) { return "len:" + std::to_string(v.size()) + ":" + std::string(v); }
std::string opt_str(const std::optional<std::string>& v) { return v ? "some:value=" + sized(*v) + ";" : "none;"; }
std::string opt_u32(const std::optional<std::uint32_t>& v) { return v ? "some:" + std::to_string(*v) + ";" : "none;"; }
} // namespace

std::string pipeline_identity(const PipelineSource& s) {
  const auto inner = [&]() { return s.source ? pipeline_identity(**s.source) : std::string(); };
  switch (s.kind) {
  case StageKind::Http:
    return "http{url=" + sized(s.location) + ";cors_safelisted_mode=" + (s.cors_safelisted_mode ? "true" : "false") +
           ";}";
  case StageKind::File:
    return "file{path=" + sized(s.location) + ";}";
  case StageKind::Casync:
    return "casync{index=" + sized(s.location) + ";chunk_store=" + opt_str(s.chunk_store) + "}";
  case StageKind::Xz:
    return "xz{source=" + inner() + "}";
  case StageKind::Tar:
    return "tar{entry=" + sized(s.tar_entry) + ";source=" + inner() + "}";
  case StageKind::Iso9660:
    return "iso9660{path=" + sized(s.iso_path) + ";source=" + inner() + "}";
  case StageKind::AndroidSparse:
    return "android_sparseimg{source=" + inner() + "}";
  case StageKind::Mbr:
    return "mbr{partuuid=" + opt_str(s.partuuid) + "index=" + opt_u32(s.index) + "lba_size=" + opt_u32(s.lba_size) +
           "source=" + inner() + "}";
  case StageKind::Gpt:
    return "gpt{partlabel=" + opt_str(s.partlabel) + "partuuid=" + opt_str(s.partuuid) + "index=" + opt_u32(s.index) +
           "lba_size=" + opt_u32(s.lba_size) + "source=" + inner() + "}";
  }
  return {};
}

} // namespace fastboop::profiles
