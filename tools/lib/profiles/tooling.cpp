#include "profiles/tooling.hpp"
#include "common/text.hpp"

#include "pipeline/hints.hpp"
#include "profiles/hints.hpp"
#include "profiles/yaml_reader.hpp"

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <map>
#include <set>

namespace fastboop::profiles {

Result<SourceKind> classify_source(std::string_view text, std::string_view origin) {
  auto doc = TRY(yaml::load(text, origin));
  if (!doc.IsMap())
    return SourceKind::DeviceProfileYaml; // its parser reports "expected a map"
  const auto has_any = [&](std::initializer_list<const char*> keys) {
    return std::any_of(keys.begin(), keys.end(), [&](const char* k) { return static_cast<bool>(doc[k]); });
  };
  // Keys only one of the two schemas has (both have id and display_name).
  const bool manifest = has_any({"rootfs", "kernel", "dtbs", "dt_overlays", "extra_cmdline", "stage0"});
  const bool devpro = has_any({"devicetree_name", "match", "probe", "boot"});
  if (doc["rootfs"] || (manifest && !devpro))
    return SourceKind::BootProfileManifest;
  if (devpro)
    return SourceKind::DeviceProfileYaml; // its parser names any manifest key as misplaced
  return Error(std::string(origin) +
               ": neither a Device Profile (needs devicetree_name, match, probe, boot) nor a Boot Profile "
               "manifest (needs rootfs)");
}

namespace {

bool has_magic(ByteSpan bytes, std::string_view magic) {
  return bytes.size() >= magic.size() && as_chars(bytes.first(magic.size())) == magic;
}

std::string render(const yaml::Json& tree, ShowFormat format) {
  return format == ShowFormat::Json ? tree.dump(2) + "\n" : yaml::render_yaml(tree);
}

yaml::Json parse_json_text(const std::string& text) { return yaml::Json::parse(text); }

} // namespace

Result<std::string> show_bytes(ByteSpan bytes, std::string_view origin, ShowFormat format) {
  using yaml::Json;
  const bool binary = has_magic(bytes, "FBOODEVP") || has_magic(bytes, "FBOOPROF") || has_magic(bytes, "FBPHINT0") ||
                      has_magic(bytes, pipeline::kBlockTableMagic);
  if (!binary) {
    const std::string_view text = as_chars(bytes);
    const auto kind = TRY(classify_source(text, origin));
    if (kind == SourceKind::DeviceProfileYaml) {
      auto p = TRY(parse_device_profile(text, origin));
      return format == ShowFormat::Json ? device_profile_to_json(p) : device_profile_to_yaml(p);
    }
    return Error(std::string(origin) +
                     ": a Boot Profile manifest; compile it first (fastboop-profile compile), then show the result",
                 ErrorKind::Usage);
  }
  // One document per record.
  struct Section {
    std::string kind;
    std::string id;
    std::string text; // rendered (YAML or JSON)
  };
  std::vector<Section> sections;
  std::size_t offset = 0;
  while (offset < bytes.size()) {
    const ByteSpan rest = bytes.subspan(offset);
    std::size_t used = 0;
    const std::string at = std::string(origin) + ": record at byte offset " + std::to_string(offset);
    if (has_magic(rest, "FBOODEVP")) {
      auto p = TRY_CTX(decode_device_profile_prefix(rest, &used), at);
      sections.push_back({"device_profile", p.id,
                          format == ShowFormat::Json ? device_profile_to_json(p) : device_profile_to_yaml(p)});
    } else if (has_magic(rest, "FBOOPROF")) {
      auto p = TRY_CTX(decode_boot_profile_prefix(rest, &used), at);
      TRY_CTX(validate_boot_profile(p), at);
      sections.push_back({"boot_profile", p.id,
                          format == ShowFormat::Json ? boot_profile_to_json(p) : boot_profile_to_yaml(p)});
    } else if (has_magic(rest, "FBPHINT0")) {
      auto h = TRY_CTX(decode_pipeline_hints_record(rest, &used), at);
      sections.push_back({"pipeline_hints", {}, render(pipeline_hints_to_tree(h), format)});
    } else if (has_magic(rest, pipeline::kBlockTableMagic)) {
      auto tables = TRY_CTX(pipeline::decode_block_table_record(rest, &used), at);
      Json list = Json::array();
      for (const auto& t : tables)
        list.push_back(Json{{"digest", t.digest},
                            {"size_bytes", t.size},
                            {"block_size", t.block_size},
                            {"blocks", t.blocks.size()},
                            {"table_bytes", t.encoded_size()}});
      sections.push_back({"block_hash_tables", {}, render(Json{{"tables", list}}, format)});
    } else {
      return Error(at + ": " + std::to_string(rest.size()) +
                   " trailing byte(s) are not a FBOODEVP, FBOOPROF or FBPHINT0 record, nor a FBBLKTB0 block-hash table");
    }
    offset += used;
  }
  if (sections.size() == 1 && sections[0].kind != "pipeline_hints" && sections[0].kind != "block_hash_tables")
    return sections[0].text;
  if (format == ShowFormat::Json) {
    Json all = Json::array();
    for (const auto& s : sections)
      all.push_back(Json{{s.kind, parse_json_text(s.text)}});
    return all.dump(2) + "\n";
  }
  std::string out;
  for (const auto& s : sections) {
    out += "--- # " + s.kind + (s.id.empty() ? std::string() : " " + s.id) + "\n";
    out += s.text;
  }
  return out;
}

Result<Bytes> optimize_boot_profile(const BootProfile& profile, const OptimizeOptions& options) {
  const std::uint32_t b = options.hash_block_size;
  if (b < pipeline::kMinHashBlockSize || b > pipeline::kMaxHashBlockSize || (b & (b - 1)) != 0)
    return Error("--hash-block-size " + std::to_string(b) + ": expected a power of two from 4096 to 16777216",
                 ErrorKind::Usage);
  TRY(validate_boot_profile(profile));
  pipeline::CollectOptions collect;
  collect.cache_dir = options.cache_dir;
  collect.local_artifacts = options.local_artifacts;
  std::vector<pipeline::PipelineHints> parts;
  parts.push_back(TRY_CTX(pipeline::collect_pipeline_hints(profile.rootfs.source, collect), "rootfs"));
  if (profile.kernel)
    parts.push_back(TRY_CTX(pipeline::collect_pipeline_hints(profile.kernel->source.source, collect), "kernel"));
  if (profile.dtbs)
    parts.push_back(TRY_CTX(pipeline::collect_pipeline_hints(profile.dtbs->source.source, collect), "dtbs"));
  auto merged = TRY(pipeline::merge_pipeline_hints(parts));
  Bytes out;
  if (!merged.entries.empty()) // an empty record would only cost its header
    out = TRY(encode_pipeline_hints_record(merged));
  // Block-hash tables after the hints: an upstream reader stops at their
  // unknown magic with a warning, having read the profile and its hints.
  std::vector<pipeline::BlockTable> tables;
  auto add = [&](const PipelineSource& source, std::string_view part) -> Result<void> {
    auto found = TRY_CTX(pipeline::collect_block_tables(source, collect, options.hash_block_size), std::string(part));
    tables.insert(tables.end(), found.begin(), found.end());
    return ok();
  };
  TRY(add(profile.rootfs.source, "rootfs"));
  if (profile.kernel)
    TRY(add(profile.kernel->source.source, "kernel"));
  if (profile.dtbs)
    TRY(add(profile.dtbs->source.source, "dtbs"));
  append(out, TRY(pipeline::encode_block_table_record(std::move(tables))));
  return out;
}

// --- ambiguity ---------------------------------------------------------------------

namespace {

struct Constraint {
  ProbeStep step;
  bool negated = false;
};

bool passes(const Constraint& c, const std::optional<std::string>& answer) {
  return probe_step_passes(c.step, answer) != c.negated;
}

// Is there a getvar answer satisfying every constraint (all on one var)? The
// candidate answers cover every boundary the five operators can draw; readable
// ones come first so that the witness shown in reports is readable too.
bool satisfiable(const std::vector<Constraint>& constraints, std::optional<std::string>* witness) {
  std::vector<std::optional<std::string>> candidates = {std::nullopt, std::string(), std::string("unknown"),
                                                        std::string("fastboop")};
  const std::string unknown = "unknown";
  for (const char filler : {'0', '\x01'}) {
    for (const auto& c : constraints) {
      const std::string& v = c.step.value;
      std::string suffix;
      for (std::size_t k = 0; k <= constraints.size() + 1; ++k) {
        candidates.push_back(v + suffix);
        suffix += filler;
      }
      std::string lower = v;
      for (auto& ch : lower)
        ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
      if (lower.size() <= unknown.size() && unknown.starts_with(lower))
        candidates.push_back(v + unknown.substr(v.size()));
    }
    if (filler != '0')
      candidates.push_back(std::string("\x01" "fastboop"));
  }
  candidates.push_back(std::string("\x02"));
  for (const auto& candidate : candidates) {
    if (std::all_of(constraints.begin(), constraints.end(), [&](const Constraint& c) { return passes(c, candidate); })) {
      if (witness)
        *witness = candidate;
      return true;
    }
  }
  return false;
}

std::vector<Constraint> constraints_on(const std::string& var, const std::vector<ProbeStep>& probe) {
  std::vector<Constraint> cs;
  for (const auto& s : probe)
    if (s.var == var)
      cs.push_back({s, false});
  return cs;
}

// Does every answer set that passes all of `a`'s probes pass `b`'s too?
bool implies(const DeviceProfile& a, const DeviceProfile& b) {
  for (const auto& step : b.probe) {
    auto cs = constraints_on(step.var, a.probe);
    cs.push_back({step, true});
    if (satisfiable(cs, nullptr))
      return false;
  }
  // `a` itself must be satisfiable, or it implies everything vacuously.
  std::set<std::string> vars;
  for (const auto& s : a.probe)
    vars.insert(s.var);
  for (const auto& var : vars)
    if (!satisfiable(constraints_on(var, a.probe), nullptr))
      return false;
  return true;
}

std::string quote_answer(const std::string& s) {
  std::string out = "\"";
  for (const char c : s) {
    const auto u = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (u < 0x20 || u == 0x7f) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02x", u);
      out += buf;
    } else {
      out += c;
    }
  }
  return out + "\"";
}

// Getvar answers (in probe order) that pass both profiles' probes, rendered as
// `product="sdm845", secret (no answer)`; nullopt when no device passes both.
// Vars are independent, so each is solved on its own.
std::optional<std::string> common_device(const DeviceProfile& a, const DeviceProfile& b) {
  std::vector<std::string> vars;
  for (const auto* probe : {&a.probe, &b.probe})
    for (const auto& s : *probe)
      if (std::find(vars.begin(), vars.end(), s.var) == vars.end())
        vars.push_back(s.var);
  std::string text;
  for (const auto& var : vars) {
    auto cs = constraints_on(var, a.probe);
    for (auto& c : constraints_on(var, b.probe))
      cs.push_back(std::move(c));
    std::optional<std::string> answer;
    if (!satisfiable(cs, &answer))
      return std::nullopt;
    text += (text.empty() ? "" : ", ") + (answer ? var + "=" + quote_answer(*answer) : var + " (no answer)");
  }
  return text;
}

} // namespace

std::string known_overlap(const DeviceProfile& a, const DeviceProfile& b) {
  auto reason_for = [](const DeviceProfile& from, const std::string& id) -> const std::string* {
    for (const auto& o : from.known_overlaps)
      if (o.id == id)
        return &o.reason;
    return nullptr;
  };
  const std::string* ra = reason_for(a, b.id);
  const std::string* rb = reason_for(b, a.id);
  if (!ra || !rb)
    return {}; // one side alone cannot declare the pair settled
  return *ra == *rb ? *ra : a.id + ": " + *ra + "; " + b.id + ": " + *rb;
}

std::vector<Ambiguity> find_ambiguities(const std::vector<DeviceProfile>& input) {
  std::vector<const DeviceProfile*> profiles;
  for (const auto& p : input)
    profiles.push_back(&p);
  std::sort(profiles.begin(), profiles.end(), [](auto* x, auto* y) { return x->id < y->id; });
  std::vector<Ambiguity> out;
  for (std::size_t i = 0; i < profiles.size(); ++i) {
    for (std::size_t j = i + 1; j < profiles.size(); ++j) {
      const auto& a = *profiles[i];
      const auto& b = *profiles[j];
      std::vector<std::string> shared;
      for (const auto& ma : a.match)
        for (const auto& mb : b.match)
          if (ma == mb) {
            const std::string usb = format_hex(ma.vid, 4, HexPrefix::None) + ":" + format_hex(ma.pid, 4, HexPrefix::None);
            if (std::find(shared.begin(), shared.end(), usb) == shared.end())
              shared.push_back(usb);
          }
      if (shared.empty())
        continue;
      // Ambiguous whenever one device can pass both profiles' probes.
      const auto common = common_device(a, b);
      if (!common)
        continue;
      const bool a_b = implies(a, b);
      const bool b_a = implies(b, a);
      std::string usb;
      for (const auto& s : shared)
        usb += (usb.empty() ? "" : ", ") + s;
      std::string reason = "both match USB " + usb + " and ";
      if (a_b && b_a)
        reason += "their probes accept exactly the same devices";
      else if (a_b)
        reason += "every device passing " + a.id + "'s probes also passes " + b.id + "'s, so " + a.id +
                  " can never be chosen by probing";
      else if (b_a)
        reason += "every device passing " + b.id + "'s probes also passes " + a.id + "'s, so " + b.id +
                  " can never be chosen by probing";
      else
        reason += "their probes overlap";
      reason += common->empty() ? std::string(" (neither probes any getvar)")
                                : "; a device answering getvar " + *common + " passes both";
      out.push_back({a.id, b.id, reason, known_overlap(a, b)});
    }
  }
  return out;
}

} // namespace fastboop::profiles
