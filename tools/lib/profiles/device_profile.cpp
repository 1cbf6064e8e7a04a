// Device Profiles: strict YAML/JSON parsing, the FBOODEVP v0 codec, YAML/JSON
// rendering for `show`, and probe-step evaluation.
#include "bootimg/devpro.hpp"
#include "bootimg/kernel_encoding.hpp"
#include "common/file_io.hpp"
#include "profiles/postcard.hpp"
#include "profiles/profiles.hpp"
#include "profiles/yaml_reader.hpp"

#include <array>
#include <cctype>

namespace fastboop::profiles {

namespace {

using yaml::MapReader;
using yaml::Value;

constexpr std::string_view devpro_magic = "FBOODEVP";
constexpr std::size_t header_size = 10;

constexpr std::array<std::string_view, 4> compression_names{"none", "gzip", "lz4", "zstd"};

struct OpName {
  ProbeOp op;
  std::string_view key;
};
constexpr std::array<OpName, 5> op_names{{
    {ProbeOp::Equals, "equals"},
    {ProbeOp::StartsWith, "starts_with"},
    {ProbeOp::NotEquals, "not_equals"},
    {ProbeOp::Exists, "exists"},
    {ProbeOp::NotExists, "not_exists"},
}};

constexpr std::string_view getvar_key = "fastboot.getvar";

// A probe step is a flat map: `fastboot.getvar: <var>` plus exactly one
// operator key. Tagged parsing fixes upstream bug B1 (not_exists parsed as
// exists, typo'd or bare steps parsed as exists).
Result<ProbeStep> parse_probe_step(const Value& item) {
  auto map = TRY(item.map());
  ProbeStep step;
  auto var = TRY(map.require(getvar_key));
  step.var = TRY(var.string());
  if (step.var.empty())
    return var.error("the getvar name must not be empty");
  std::vector<std::string_view> found;
  for (const auto& [op, key] : op_names) {
    auto v = map.take(key);
    if (!v)
      continue;
    found.push_back(key);
    step.op = op;
    if (op == ProbeOp::Exists || op == ProbeOp::NotExists) {
      // The flag carries no information; accept the empty value or `true`.
      if (!v->is_null()) {
        auto flag = v->boolean();
        if (!flag || !*flag)
          return v->error("takes no value (write '" + std::string(key) + ":' alone)");
      }
    } else {
      if (v->is_null())
        return v->error("needs a value to compare against");
      step.value = TRY(v->string());
    }
  }
  TRY(map.finish({"fastboot.getvar", "equals", "starts_with", "not_equals", "exists", "not_exists"}));
  if (found.empty())
    return map.error("probe step has no operator; add exactly one of equals, starts_with, not_equals, "
                     "exists, not_exists");
  if (found.size() > 1)
    return map.error("probe step has " + std::to_string(found.size()) + " operators (" +
                     std::string(found[0]) + ", " + std::string(found[1]) + "); exactly one is allowed");
  return step;
}

Result<KernelEncoding> parse_encoding(const Value& v) {
  auto name = TRY(v.string());
  for (const auto& e : bootimg::kernel_encodings())
    if (e.name == name)
      return e.encoding;
  return v.error("unknown kernel encoding '" + name +
                 "' (expected image, image+dtb, image.gz, image.gz+dtb, image.lz4, image.lz4+dtb, "
                 "image.zst, image.zst+dtb)");
}

Result<AndroidBootImage> parse_android_bootimg(const Value& value) {
  auto map = TRY(value.map());
  AndroidBootImage img;
  img.header_version = TRY(map.req_uint<std::uint32_t>("header_version"));
  img.page_size = TRY(map.req_uint<std::uint32_t>("page_size"));
  img.base = TRY(map.opt_uint<std::uint64_t>("base"));
  img.kernel_offset = TRY(map.opt_uint<std::uint64_t>("kernel_offset"));
  img.dtb_offset = TRY(map.opt_uint<std::uint64_t>("dtb_offset"));
  if (auto limits = map.take("limits"); limits && !limits->is_null()) {
    auto lm = TRY(limits->map());
    BootLimits l;
    l.max_kernel_bytes = TRY(lm.opt_uint<std::uint64_t>("max_kernel_bytes"));
    l.max_initrd_bytes = TRY(lm.opt_uint<std::uint64_t>("max_initrd_bytes"));
    l.max_total_bytes = TRY(lm.opt_uint<std::uint64_t>("max_total_bytes"));
    TRY(lm.finish({"max_kernel_bytes", "max_initrd_bytes", "max_total_bytes"}));
    img.limits = l;
  }
  {
    auto kernel = TRY(map.require("kernel"));
    auto km = TRY(kernel.map());
    auto encoding = TRY(km.require("encoding"));
    img.kernel_encoding = TRY(parse_encoding(encoding));
    TRY(km.finish({"encoding"}));
  }
  if (auto initrd = map.take("initrd"); initrd && !initrd->is_null()) {
    auto im = TRY(initrd->map());
    AndroidInitrd ai;
    if (auto c = im.take("compress"); c && !c->is_null()) {
      auto name = TRY(c->string());
      bool matched = false;
      for (std::size_t i = 0; i < compression_names.size(); ++i) {
        if (compression_names[i] == name) {
          ai.compress = static_cast<Compression>(i);
          matched = true;
        }
      }
      if (!matched)
        return c->error("unknown compression '" + name + "' (expected none, gzip, lz4, zstd)");
    }
    TRY(im.finish({"compress"}));
    img.initrd = ai;
  }
  img.cmdline_append = TRY(map.opt_string("cmdline_append"));
  // fastboop extensions (no FBOODEVP v0 encoding).
  auto& ext = img.extensions;
  ext.ramdisk_offset = TRY(map.opt_uint<std::uint64_t>("ramdisk_offset"));
  ext.second_offset = TRY(map.opt_uint<std::uint64_t>("second_offset"));
  ext.tags_offset = TRY(map.opt_uint<std::uint64_t>("tags_offset"));
  ext.board = TRY(map.opt_string("board"));
  ext.samsung_seandroidenforce = TRY(map.opt_bool("samsung_seandroidenforce", false));
  ext.dtb_in_second = TRY(map.opt_bool("dtb_in_second", false));
  TRY(map.finish({"header_version", "page_size", "base", "kernel_offset", "dtb_offset", "limits", "kernel",
                  "initrd", "cmdline_append", "ramdisk_offset", "second_offset", "tags_offset", "board",
                  "samsung_seandroidenforce", "dtb_in_second"}));
  return img;
}

// The packer's rules for the boot image section, checked where the profile
// is read so `check` and `compile-devpro` refuse what fastboop-bootimg would.
Result<void> check_boot_rules(const AndroidBootImage& img, const Value& where) {
  if (auto rules = bootimg::check_android_bootimg(img); !rules)
    return where.error(rules.error().message());
  return ok();
}

Result<AndroidBootImage> parse_boot(const Value& value) {
  auto boot = TRY(value.map());
  auto fb = TRY(boot.require("fastboot_boot"));
  TRY(boot.finish({"fastboot_boot"}));
  auto payload = TRY(fb.map());
  if (payload.has("android_bootimg") && payload.has("bootimg"))
    return payload.error("both 'android_bootimg' and its alias 'bootimg' are present");
  std::optional<Value> img = payload.take("android_bootimg");
  if (!img)
    img = payload.take("bootimg");
  if (!img)
    return payload.error("missing required key 'android_bootimg'");
  // A strict BootPayload turns upstream bug B3 (a cmdline_append placed here
  // and silently dropped) into an error.
  for (const auto& e : payload.entries()) {
    if (e.key == "cmdline_append" || e.key == "limits" || e.key == "kernel" || e.key == "initrd")
      return yaml::error_at(payload.origin(), e.key_node.Mark(), payload.path(),
                            "'" + e.key + "' belongs under android_bootimg, not fastboot_boot");
  }
  TRY(payload.finish({"android_bootimg", "bootimg"}));
  auto parsed = TRY(parse_android_bootimg(*img));
  TRY(check_boot_rules(parsed, *img));
  return parsed;
}

} // namespace

Result<DeviceProfile> parse_device_profile(std::string_view text, std::string_view origin_name) {
  auto doc = TRY(yaml::load(text, origin_name));
  Value root(std::string(origin_name), doc, "");
  auto map = TRY(root.map());
  DeviceProfile p;
  {
    auto id = TRY(map.require("id"));
    p.id = TRY(id.string());
    if (auto valid = check_profile_id(p.id); !valid)
      return id.error(valid.error().message());
  }
  p.display_name = TRY(map.opt_string("display_name"));
  p.devicetree_name = TRY(map.req_string("devicetree_name"));
  auto match_value = TRY(map.require("match"));
  for (const auto& item : TRY(match_value.sequence())) {
    auto rule = TRY(item.map());
    auto fb_value = TRY(rule.require("fastboot"));
    auto fb = TRY(fb_value.map());
    TRY(rule.finish({"fastboot"}));
    UsbMatch m;
    m.vid = TRY(fb.req_uint<std::uint16_t>("vid"));
    m.pid = TRY(fb.req_uint<std::uint16_t>("pid"));
    TRY(fb.finish({"vid", "pid"}));
    p.match.push_back(m);
  }
  auto probe_value = TRY(map.require("probe"));
  for (const auto& item : TRY(probe_value.sequence()))
    p.probe.push_back(TRY(parse_probe_step(item)));
  if (auto stage0 = map.take("stage0"))
    return stage0->error("stage0 settings are not part of a Device Profile; put them in a Boot Profile under "
               "stage0.devices.<device-id>");
  auto boot_value = TRY(map.require("boot"));
  p.boot = TRY(parse_boot(boot_value));
  if (auto overlaps = map.take("known_overlaps"); overlaps && !overlaps->is_null()) {
    for (const auto& item : TRY(overlaps->sequence())) {
      auto om = TRY(item.map());
      KnownOverlap o;
      auto id = TRY(om.require("id"));
      o.id = TRY(id.string());
      if (auto valid = check_profile_id(o.id); !valid)
        return id.error(valid.error().message());
      if (o.id == p.id)
        return id.error("a profile cannot overlap itself");
      auto reason = TRY(om.require("reason"));
      o.reason = TRY(reason.string());
      if (o.reason.find_first_not_of(" \t\n") == std::string::npos)
        return reason.error("say why probing cannot tell the two apart");
      TRY(om.finish({"id", "reason"}));
      p.known_overlaps.push_back(std::move(o));
    }
  }
  TRY(map.finish(
      {"id", "display_name", "devicetree_name", "match", "probe", "boot", "known_overlaps"}));
  return p;
}

Result<void> check_profile_id(std::string_view id) {
  auto is_lower_alnum = [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); };
  if (id.empty())
    return Error("the id is empty");
  if (id.size() > 64)
    return Error("id '" + std::string(id) + "' is longer than 64 characters");
  if (!is_lower_alnum(id.front()))
    return Error("id '" + std::string(id) + "' must start with a lower-case letter or a digit");
  for (char c : id)
    if (!is_lower_alnum(c) && c != '-' && c != '_' && c != '.')
      return Error("id '" + std::string(id) +
                   "' may only hold a-z, 0-9, '-', '_' and '.' (found '" + std::string(1, c) +
                   "')");
  return ok();
}

Result<AndroidBootImage> parse_device_profile_boot(std::string_view text,
                                                   std::string_view origin_name) {
  auto doc = TRY(yaml::load(text, origin_name));
  Value root(std::string(origin_name), doc, "boot");
  return parse_boot(root);
}

Result<DeviceProfile> load_device_profile_file(const std::filesystem::path& path) {
  auto text = TRY(read_text_file(path, std::uint64_t{16} << 20));
  return parse_device_profile(text, path.string());
}

// --- FBOODEVP ----------------------------------------------------------------

Result<void> check_device_profile_encodable(const DeviceProfile& profile) {
  const auto& e = profile.boot.extensions;
  const char* field = e.ramdisk_offset           ? "ramdisk_offset"
                      : e.second_offset          ? "second_offset"
                      : e.tags_offset            ? "tags_offset"
                      : e.board                  ? "board"
                      : e.samsung_seandroidenforce ? "samsung_seandroidenforce"
                      : e.dtb_in_second          ? "dtb_in_second"
                                                 : nullptr;
  if (field)
    return Error("device profile '" + profile.id + "': boot.fastboot_boot.android_bootimg." + field +
                 " is a fastboop extension with no FBOODEVP v0 encoding; use the YAML profile instead");
  return ok();
}

void encode_device_profile_payload(postcard::Writer& w, const DeviceProfile& p) {
  w.string(p.id);
  w.optional_string(p.display_name);
  w.string(p.devicetree_name);
  w.varint(p.match.size());
  for (const auto& m : p.match) {
    w.varint(m.vid);
    w.varint(m.pid);
  }
  w.varint(p.probe.size());
  for (const auto& s : p.probe) {
    w.varint(static_cast<std::uint32_t>(s.op));
    w.string(s.var);
    if (s.op == ProbeOp::Equals || s.op == ProbeOp::StartsWith || s.op == ProbeOp::NotEquals)
      w.string(s.value);
  }
  const auto& b = p.boot;
  w.varint(b.header_version);
  w.varint(b.page_size);
  w.optional_varint(b.base);
  w.optional_varint(b.kernel_offset);
  w.optional_varint(b.dtb_offset);
  w.option_tag(b.limits.has_value());
  if (b.limits) {
    w.optional_varint(b.limits->max_kernel_bytes);
    w.optional_varint(b.limits->max_initrd_bytes);
    w.optional_varint(b.limits->max_total_bytes);
  }
  w.varint(static_cast<std::uint32_t>(b.kernel_encoding));
  w.option_tag(b.initrd.has_value());
  if (b.initrd) {
    w.option_tag(b.initrd->compress.has_value());
    if (b.initrd->compress)
      w.varint(static_cast<std::uint32_t>(*b.initrd->compress));
  }
  w.optional_string(b.cmdline_append);
}

Result<Bytes> encode_device_profile(const DeviceProfile& profile) {
  TRY(check_device_profile_encodable(profile));
  postcard::Writer w;
  w.raw(as_bytes(devpro_magic));
  w.raw(std::array<std::uint8_t, 2>{0, 0});
  encode_device_profile_payload(w, profile);
  return w.take();
}

Result<DeviceProfile> decode_device_profile_payload(postcard::Reader& r) {
  DeviceProfile p;
  p.id = TRY(r.string("id"));
  p.display_name = TRY(r.optional_string("display_name"));
  p.devicetree_name = TRY(r.string("devicetree_name"));
  const auto nmatch = TRY(r.length("match", 2));
  for (std::size_t i = 0; i < nmatch; ++i) {
    UsbMatch m;
    m.vid = TRY(r.uint<std::uint16_t>("match.fastboot.vid"));
    m.pid = TRY(r.uint<std::uint16_t>("match.fastboot.pid"));
    p.match.push_back(m);
  }
  const auto nprobe = TRY(r.length("probe", 2));
  for (std::size_t i = 0; i < nprobe; ++i) {
    ProbeStep s;
    s.op = static_cast<ProbeOp>(TRY(r.variant("probe step", 5)));
    s.var = TRY(r.string("probe.fastboot.getvar"));
    if (s.op == ProbeOp::Equals || s.op == ProbeOp::StartsWith || s.op == ProbeOp::NotEquals)
      s.value = TRY(r.string("probe value"));
    p.probe.push_back(std::move(s));
  }
  auto& b = p.boot;
  b.header_version = TRY(r.uint<std::uint32_t>("android_bootimg.header_version"));
  b.page_size = TRY(r.uint<std::uint32_t>("android_bootimg.page_size"));
  b.base = TRY(r.optional_uint<std::uint64_t>("android_bootimg.base"));
  b.kernel_offset = TRY(r.optional_uint<std::uint64_t>("android_bootimg.kernel_offset"));
  b.dtb_offset = TRY(r.optional_uint<std::uint64_t>("android_bootimg.dtb_offset"));
  if (TRY(r.option_tag("android_bootimg.limits"))) {
    BootLimits l;
    l.max_kernel_bytes = TRY(r.optional_uint<std::uint64_t>("limits.max_kernel_bytes"));
    l.max_initrd_bytes = TRY(r.optional_uint<std::uint64_t>("limits.max_initrd_bytes"));
    l.max_total_bytes = TRY(r.optional_uint<std::uint64_t>("limits.max_total_bytes"));
    b.limits = l;
  }
  b.kernel_encoding = static_cast<KernelEncoding>(TRY(r.variant("android_bootimg.kernel.encoding", 8)));
  if (TRY(r.option_tag("android_bootimg.initrd"))) {
    AndroidInitrd ai;
    if (TRY(r.option_tag("android_bootimg.initrd.compress")))
      ai.compress = static_cast<Compression>(TRY(r.variant("android_bootimg.initrd.compress", 4)));
    b.initrd = ai;
  }
  b.cmdline_append = TRY(r.optional_string("android_bootimg.cmdline_append"));
  return p;
}

Result<std::size_t> check_envelope(ByteSpan bytes, std::string_view magic, std::string_view what) {
  if (bytes.size() < header_size || as_chars(bytes.first(8)) != magic)
    return Error("not a " + std::string(what) + ": missing " + std::string(magic) + " magic");
  const auto version = load_le<std::uint16_t>(bytes.data() + 8);
  if (version != 0)
    return Error(std::string(what) + ": unsupported format version " + std::to_string(version) +
                 " (this build reads version 0)");
  return header_size;
}

Result<DeviceProfile> decode_device_profile_prefix(ByteSpan bytes, std::size_t* consumed) {
  TRY(check_envelope(bytes, devpro_magic, "device profile (FBOODEVP)"));
  postcard::Reader r(bytes.subspan(header_size), header_size);
  auto p = TRY_CTX(decode_device_profile_payload(r), "while decoding device profile (FBOODEVP)");
  TRY_CTX(check_profile_id(p.id), "device profile (FBOODEVP)");
  TRY_CTX(bootimg::check_android_bootimg(p.boot),
          "device profile " + p.id + " (FBOODEVP): android_bootimg");
  if (consumed)
    *consumed = header_size + r.offset();
  return p;
}

Result<DeviceProfile> decode_device_profile(ByteSpan bytes) { return decode_device_profile_prefix(bytes, nullptr); }

// --- rendering ----------------------------------------------------------------

std::string_view kernel_encoding_name(KernelEncoding e) {
  return bootimg::kernel_encoding_info(e).name;
}

yaml::Json device_profile_to_tree(const DeviceProfile& p) {
  using yaml::Json;
  Json root = Json::object();
  root["id"] = p.id;
  if (p.display_name)
    root["display_name"] = *p.display_name;
  root["devicetree_name"] = p.devicetree_name;
  Json match = Json::array();
  for (const auto& m : p.match)
    match.push_back(Json{{"fastboot", Json{{"vid", m.vid}, {"pid", m.pid}}}});
  root["match"] = match;
  Json probe = Json::array();
  for (const auto& s : p.probe) {
    Json step = Json::object();
    step[std::string(getvar_key)] = s.var;
    const auto key = std::string(op_names.at(static_cast<std::size_t>(s.op)).key);
    if (s.op == ProbeOp::Exists || s.op == ProbeOp::NotExists)
      step[key] = nullptr;
    else
      step[key] = s.value;
    probe.push_back(step);
  }
  root["probe"] = probe;
  const auto& b = p.boot;
  Json img = Json::object();
  img["header_version"] = b.header_version;
  img["page_size"] = b.page_size;
  if (b.base)
    img["base"] = *b.base;
  if (b.kernel_offset)
    img["kernel_offset"] = *b.kernel_offset;
  if (b.dtb_offset)
    img["dtb_offset"] = *b.dtb_offset;
  if (b.limits) {
    Json l = Json::object();
    if (b.limits->max_kernel_bytes)
      l["max_kernel_bytes"] = *b.limits->max_kernel_bytes;
    if (b.limits->max_initrd_bytes)
      l["max_initrd_bytes"] = *b.limits->max_initrd_bytes;
    if (b.limits->max_total_bytes)
      l["max_total_bytes"] = *b.limits->max_total_bytes;
    img["limits"] = l;
  }
  img["kernel"] = Json{{"encoding", std::string(kernel_encoding_name(b.kernel_encoding))}};
  if (b.initrd) {
    Json i = Json::object();
    if (b.initrd->compress)
      i["compress"] = std::string(compression_names.at(static_cast<std::size_t>(*b.initrd->compress)));
    img["initrd"] = i;
  }
  if (b.cmdline_append)
    img["cmdline_append"] = *b.cmdline_append;
  const auto& e = b.extensions;
  if (e.ramdisk_offset)
    img["ramdisk_offset"] = *e.ramdisk_offset;
  if (e.second_offset)
    img["second_offset"] = *e.second_offset;
  if (e.tags_offset)
    img["tags_offset"] = *e.tags_offset;
  if (e.board)
    img["board"] = *e.board;
  if (e.samsung_seandroidenforce)
    img["samsung_seandroidenforce"] = true;
  if (e.dtb_in_second)
    img["dtb_in_second"] = true;
  root["boot"] = Json{{"fastboot_boot", Json{{"android_bootimg", img}}}};
  if (!p.known_overlaps.empty()) {
    Json overlaps = Json::array();
    for (const auto& o : p.known_overlaps)
      overlaps.push_back(Json{{"id", o.id}, {"reason", o.reason}});
    root["known_overlaps"] = overlaps;
  }
  return root;
}

std::string device_profile_to_yaml(const DeviceProfile& profile) {
  return yaml::render_yaml(device_profile_to_tree(profile));
}
std::string device_profile_to_json(const DeviceProfile& profile) {
  return device_profile_to_tree(profile).dump(2) + "\n";
}
std::string device_profile_boot_to_json(const DeviceProfile& profile) {
  return device_profile_to_tree(profile)["boot"].dump();
}

// --- probing -------------------------------------------------------------------

bool probe_answer_missing(const std::optional<std::string>& answer) {
  if (!answer)
    return true;
  std::string_view v = *answer;
  while (!v.empty() && std::isspace(static_cast<unsigned char>(v.front())))
    v.remove_prefix(1);
  while (!v.empty() && std::isspace(static_cast<unsigned char>(v.back())))
    v.remove_suffix(1);
  if (v.empty())
    return true;
  if (v.size() != 7)
    return false;
  constexpr std::string_view unknown = "unknown";
  for (std::size_t i = 0; i < 7; ++i)
    if (std::tolower(static_cast<unsigned char>(v[i])) != unknown[i])
      return false;
  return true;
}

bool probe_step_passes(const ProbeStep& step, const std::optional<std::string>& answer) {
  switch (step.op) {
  case ProbeOp::Equals:
    return answer && *answer == step.value;
  case ProbeOp::StartsWith:
    return answer && answer->starts_with(step.value);
  case ProbeOp::NotEquals:
    return !answer || *answer != step.value;
  case ProbeOp::Exists:
    return !probe_answer_missing(answer);
  case ProbeOp::NotExists:
    return probe_answer_missing(answer);
  }
  return false;
}

} // namespace fastboop::profiles
