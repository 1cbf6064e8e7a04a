#include "draft/draft.hpp"
#include "common/text.hpp"

#include "profiles/profiles.hpp"
#include "profiles/tooling.hpp"

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <set>
#include <sstream>

namespace fastboop::draft {

namespace {

using profiles::AndroidBootImage;
using profiles::DeviceProfile;
using profiles::KernelEncoding;
using profiles::ProbeOp;
using profiles::ProbeStep;

bool is_variable_name(std::string_view name) {
  if (name.empty() || name.size() > 64)
    return false;
  return std::all_of(name.begin(), name.end(), [](unsigned char c) {
    return std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == ':';
  });
}

std::string yaml_quoted(std::string_view s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\')
      out += '\\';
    if (static_cast<unsigned char>(c) < 0x20) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02x", static_cast<unsigned>(static_cast<unsigned char>(c)));
      out += buf;
      continue;
    }
    out += c;
  }
  return out + "\"";
}

// An id the profile schema accepts: lower-case letters, digits and '-'.
std::string to_id(std::string_view text) {
  std::string id;
  for (unsigned char c : text) {
    if (std::isalnum(c))
      id += static_cast<char>(std::tolower(c));
    else if (!id.empty() && id.back() != '-')
      id += '-';
  }
  while (!id.empty() && id.back() == '-')
    id.pop_back();
  return id;
}

// Values with a provenance, rendered as a trailing comment.
template <typename T> struct Sourced {
  std::optional<T> value;
  std::string source;
};

} // namespace

const std::string* GetvarAnswers::find(std::string_view name) const {
  for (const auto& [k, v] : vars)
    if (k == name)
      return &v;
  return nullptr;
}

GetvarAnswers parse_getvar_all(const std::vector<std::string>& info_lines) {
  GetvarAnswers out;
  std::set<std::string, std::less<>> seen;
  for (const auto& raw : info_lines) {
    std::string_view line = raw;
    if (line.starts_with("(bootloader) "))
      line.remove_prefix(13);
    std::string text(trim(line));
    if (text.empty())
      continue;
    // "name: value" (LK, U-Boot; names may hold colons, values may not
    // start with a space), else "name:value" split at the last colon.
    std::string name, value;
    if (auto sep = text.find(": "); sep != std::string::npos) {
      name = text.substr(0, sep);
      value = trim(std::string_view(text).substr(sep + 2));
    } else if (auto colon = text.rfind(':'); colon != std::string::npos && colon > 0) {
      name = text.substr(0, colon);
      value = trim(std::string_view(text).substr(colon + 1));
    } else {
      // No separator and one word: the continuation of a long value split
      // over lines; anything else is not a variable.
      if (!out.vars.empty() && text.find_first_of(" \t") == std::string::npos)
        out.vars.back().second += text;
      continue;
    }
    if (!is_variable_name(name) || name == "all")
      continue;
    if (seen.insert(name).second)
      out.vars.emplace_back(std::move(name), std::move(value));
  }
  return out;
}

const std::vector<std::string>& well_known_variables() {
  static const std::vector<std::string> names = {
      "product",     "variant",         "hw-revision", "version-bootloader", "version-baseband", "slot-count",
      "max-download-size", "secure", "unlocked",     "is-userspace",       "partition-type:boot",
      "partition-type:boot_a", "partition-type:vendor_boot", "partition-type:vendor_boot_a"};
  return names;
}

Result<Deviceinfo> parse_deviceinfo(std::string_view text, std::string_view origin) {
  if (text.size() > (1u << 20))
    return Error(std::string(origin) + ": a deviceinfo file of " + std::to_string(text.size()) +
                 " bytes is not a deviceinfo file (limit 1 MiB)");
  Deviceinfo info;
  info.origin = std::string(origin);
  std::size_t line_no = 0;
  std::istringstream in{std::string(text)};
  for (std::string line; std::getline(in, line);) {
    ++line_no;
    const std::string t(trim(line));
    if (t.empty() || t[0] == '#')
      continue;
    const auto where = [&] { return std::string(origin) + ":" + std::to_string(line_no); };
    if (!t.starts_with("deviceinfo_"))
      return Error(where() + ": expected deviceinfo_<name>=\"value\", found '" + t.substr(0, 60) + "'");
    const auto eq = t.find('=');
    if (eq == std::string::npos)
      return Error(where() + ": '" + t.substr(0, 60) + "' has no '='");
    const std::string key = t.substr(11, eq - 11);
    if (!is_variable_name(key))
      return Error(where() + ": '" + key + "' is not a deviceinfo field name");
    std::string value = t.substr(eq + 1);
    if (value.size() >= 2 && (value.front() == '"' || value.front() == '\'')) {
      if (value.back() != value.front())
        return Error(where() + ": deviceinfo_" + key + ": unterminated quote (multi-line values are not supported)");
      value = value.substr(1, value.size() - 2);
    }
    info.values[key] = value;
  }
  return info;
}

namespace {

std::optional<std::uint64_t> number(const std::string& text) {
  const std::string t(trim(text));
  if (t.empty())
    return std::nullopt;
  try {
    std::size_t used = 0;
    const unsigned long long v = std::stoull(t, &used, 0);
    if (used != t.size())
      return std::nullopt;
    return v;
  } catch (...) {
    return std::nullopt;
  }
}

bool is_true(const Deviceinfo& d, const std::string& key) {
  auto it = d.values.find(key);
  return it != d.values.end() && it->second == "true";
}

// Boot constraints from one source, each field optional.
struct BootFacts {
  std::optional<std::uint32_t> header_version, page_size;
  std::optional<std::uint64_t> base, kernel_offset, dtb_offset, ramdisk_offset, second_offset, tags_offset;
  std::optional<std::string> board;
  std::optional<KernelEncoding> encoding;
  std::optional<bool> dtb_in_second, seandroidenforce;
  std::vector<std::string> notes;
};

Result<BootFacts> facts_from_stock(const std::string& skeleton, const std::string& name) {
  // The skeleton is a DevPro `boot:` block: parse it with the profile parser
  // itself, so the draft reads exactly what a profile would.
  const std::string doc = "id: stock\ndevicetree_name: stock\nmatch: []\nprobe: []\n" + skeleton;
  auto parsed = profiles::parse_device_profile(doc, name);
  if (!parsed)
    return Error(name + ": the analyzed boot image gives no usable boot constraints: " + parsed.error().message());
  const AndroidBootImage& b = parsed->boot;
  BootFacts f;
  f.header_version = b.header_version;
  f.page_size = b.page_size;
  f.base = b.base;
  f.kernel_offset = b.kernel_offset;
  f.dtb_offset = b.dtb_offset;
  f.ramdisk_offset = b.extensions.ramdisk_offset;
  f.second_offset = b.extensions.second_offset;
  f.tags_offset = b.extensions.tags_offset;
  f.board = b.extensions.board;
  f.encoding = b.kernel_encoding;
  f.dtb_in_second = b.extensions.dtb_in_second;
  f.seandroidenforce = b.extensions.samsung_seandroidenforce;
  std::istringstream in(skeleton);
  for (std::string line; std::getline(in, line);)
    if (line.starts_with("# ") && !line.starts_with("# DevPro boot:"))
      f.notes.push_back(line.substr(2));
  return f;
}

// mkbootimg's defaults, which pmbootstrap passes explicitly: a deviceinfo
// offset equal to them needs no extension field.
constexpr std::uint64_t default_ramdisk_offset = 0x01000000;
constexpr std::uint64_t default_second_offset = 0x00f00000;
constexpr std::uint64_t default_tags_offset = 0x00000100;

BootFacts facts_from_deviceinfo(const Deviceinfo& d, std::vector<std::string>& unmapped) {
  BootFacts f;
  auto get = [&](const std::string& key) -> std::optional<std::string> {
    auto it = d.values.find(key);
    if (it == d.values.end() || trim(it->second).empty())
      return std::nullopt;
    return it->second;
  };
  auto num = [&](const std::string& key) -> std::optional<std::uint64_t> {
    auto v = get(key);
    if (!v)
      return std::nullopt;
    auto n = number(*v);
    if (!n)
      unmapped.push_back(key + "=" + *v + ": not a number");
    return n;
  };
  if (auto method = get("flash_method"); method && *method != "fastboot")
    unmapped.push_back("flash_method=" + *method +
                       ": this device is not booted through fastboot; a fastboop Device Profile does not apply "
                       "without a fastboot-capable bootloader (e.g. lk2nd)");
  f.header_version = static_cast<std::uint32_t>(num("header_version").value_or(0));
  if (auto ps = num("flash_pagesize"))
    f.page_size = static_cast<std::uint32_t>(*ps);
  f.base = num("flash_offset_base");
  f.kernel_offset = num("flash_offset_kernel");
  if (*f.header_version >= 2)
    f.dtb_offset = num("flash_offset_dtb");
  auto non_default = [](std::optional<std::uint64_t> v, std::uint64_t def) {
    return v && *v != def ? v : std::nullopt;
  };
  f.ramdisk_offset = non_default(num("flash_offset_ramdisk"), default_ramdisk_offset);
  f.second_offset = non_default(num("flash_offset_second"), default_second_offset);
  f.tags_offset = non_default(num("flash_offset_tags"), default_tags_offset);
  const bool appended = is_true(d, "append_dtb");
  // pmOS kernel packages install a gzip-compressed Image; a stock image or
  // the kernel itself says better, and the draft says this is assumed.
  f.encoding = appended ? KernelEncoding::ImageGzDtb : KernelEncoding::ImageGz;
  f.notes.push_back("kernel encoding from deviceinfo: image.gz" + std::string(appended ? "+dtb (append_dtb)" : "") +
                    " assumed (postmarketOS kernels are Image.gz); a stock image tells for sure");
  f.dtb_in_second = is_true(d, "bootimg_dtb_second");
  f.seandroidenforce = is_true(d, "bootimg_append_seandroidenforce");
  if (is_true(d, "bootimg_qcdt"))
    unmapped.push_back("bootimg_qcdt=true: fastboop cannot build a QCDT table; boot through lk2nd or a "
                       "bootloader that takes an appended DTB (+dtb)");
  if (is_true(d, "bootimg_mtk_mkimage"))
    unmapped.push_back("bootimg_mtk_mkimage=true: MediaTek mkimage headers around kernel and ramdisk are not "
                       "supported");
  if (is_true(d, "bootimg_blobpack"))
    unmapped.push_back("bootimg_blobpack: Asus blobpack images are not supported");
  if (is_true(d, "bootimg_pxa"))
    unmapped.push_back("bootimg_pxa=true: Marvell PXA boot images are not supported");
  if (auto payload = get("bootimg_override_payload"))
    unmapped.push_back("bootimg_override_payload=" + *payload +
                       ": pmbootstrap puts a chained bootloader in the kernel slot; fastboop boots the kernel "
                       "itself, so a profile fits that bootloader's fastboot, not this image");
  if (get("flash_method") == "fastboot" && !is_true(d, "generate_bootimg"))
    unmapped.push_back("generate_bootimg is not true: pmbootstrap makes no Android boot image for this device"
                       " (" +
                       std::string(is_true(d, "generate_extlinux_config")
                                       ? "extlinux.conf for a chained bootloader such as lk2nd"
                                       : "another boot method") +
                       "); the boot fields below are not this device's, check them against a stock image");
  if (auto vid = get("usb_idVendor"))
    f.notes.push_back("deviceinfo usb_idVendor/usb_idProduct (" + *vid + ":" +
                      get("usb_idProduct").value_or("?") +
                      ") are the running OS's USB gadget ids, not the bootloader's: not used for match");
  if (auto custom = get("bootimg_custom_args"))
    unmapped.push_back("bootimg_custom_args=" + *custom + ": extra mkbootimg arguments are not mapped");
  if (auto cmdline = get("kernel_cmdline"))
    f.notes.push_back("postmarketOS kernel command line (reference, not copied): " + *cmdline);
  return f;
}

// Where each drafted field came from, by field ("id", "probe.product",
// "page_size"); the YAML shows it beside the field.
using Sources = std::map<std::string, std::string>;

template <typename T> std::string show(const T& v) {
  if constexpr (std::is_same_v<T, std::string>)
    return v;
  else if constexpr (std::is_same_v<T, bool>)
    return v ? "true" : "false";
  else if constexpr (std::is_same_v<T, KernelEncoding>)
    return std::string(profiles::kernel_encoding_name(v));
  else
    return std::to_string(v);
}

// The stock image wins (its bootloader accepted it); a disagreement is
// recorded and shown in the draft.
template <typename T>
std::optional<T> pick(const char* field, const std::optional<T>& stock,
                      const std::string& stock_name, const std::optional<T>& info,
                      const std::string& info_name, Sources& source,
                      std::vector<std::string>& conflicts) {
  if (stock && info && !(*stock == *info))
    conflicts.push_back(std::string(field) + ": " + stock_name + " says " + show(*stock) + ", " + info_name +
                        " says " + show(*info) + "; using " + stock_name + "'s");
  if (stock) {
    source[field] = stock_name + (info && *stock == *info ? " (deviceinfo agrees)" : "");
    return stock;
  }
  if (info)
    source[field] = info_name;
  return info;
}

// Stable identity variables, most telling first. Serial numbers only on
// request: a profile with one fits exactly one unit.
bool stable_variable(std::string_view name, SerialProbes serial) {
  if (name == "serialno")
    return serial == SerialProbes::Allow;
  static const std::set<std::string, std::less<>> stable = {"product", "variant", "hw-revision", "slot-count"};
  return stable.contains(name) || name.starts_with("partition-type:");
}

bool ambiguous(const DeviceProfile& draft, const DeviceProfile& other) {
  DeviceProfile a = draft, b = other;
  if (a.id == b.id)
    b.id += "~other";
  return !profiles::find_ambiguities({a, b}).empty();
}

std::optional<std::string> info_value(const Deviceinfo* info, const std::string& key) {
  if (!info)
    return std::nullopt;
  auto it = info->values.find(key);
  return it == info->values.end() || trim(it->second).empty()
             ? std::nullopt
             : std::optional<std::string>(it->second);
}

// --- identity ---------------------------------------------------------------

struct IdChoice {
  std::string value;
  std::string source;
};

IdChoice choose_id(const DraftInputs& in, const Deviceinfo* info) {
  const std::string* product = in.device ? in.device->answers.find("product") : nullptr;
  if (in.id)
    return {*in.id, "--id"};
  if (auto codename = info_value(info, "codename"))
    return {to_id(*codename), "deviceinfo codename"};
  if (product && !to_id(*product).empty())
    return {to_id(*product),
            "the device's product variable (rename it: several devices share a product)"};
  return {"new-device", "placeholder: give --id"};
}

std::optional<std::string> choose_display_name(const Deviceinfo* info) {
  auto maker = info_value(info, "manufacturer");
  auto model = info_value(info, "name");
  if (!model)
    return std::nullopt;
  return maker && !model->starts_with(*maker) ? *maker + " " + *model : *model;
}

struct DevicetreeChoice {
  std::string name;
  std::string source;
  std::optional<std::string> unmapped;
};

// Panel or board variants are dtb_<variant> fields, one DTB each: one
// profile per variant, so the draft takes the first and lists the rest.
using DtbVariants = std::vector<std::pair<std::string, std::string>>;

DtbVariants dtb_variants(const Deviceinfo* info) {
  DtbVariants variants;
  if (info)
    for (const auto& [k, v] : info->values)
      if (k.starts_with("dtb_") && !trim(v).empty())
        variants.emplace_back(k, v);
  return variants;
}

DevicetreeChoice devicetree_from_dtb(const std::string& dtb) {
  if (dtb.find_first_of("*?[") != std::string::npos)
    return {"unknown", "FILL IN: deviceinfo dtb is a pattern (" + dtb + "), not one DTB name",
            "dtb=" + dtb + ": a pattern for a family of devices; a profile names one DTB"};
  std::istringstream words(dtb);
  std::string first;
  words >> first;
  return {first,
          "deviceinfo dtb" + std::string(dtb.find(' ') != std::string::npos
                                             ? " (the first of several: " + dtb + ")"
                                             : ""),
          std::nullopt};
}

DevicetreeChoice devicetree_from_variants(const DtbVariants& variants, const DraftInputs& in,
                                          const Deviceinfo* info, const std::string& id) {
  // --id <codename>-<variant> chooses the variant; else the first.
  auto chosen = variants.begin();
  for (auto it = variants.begin(); it != variants.end(); ++it)
    if (in.id && in.id->ends_with("-" + it->first.substr(4)))
      chosen = it;
  const auto codename = info_value(info, "codename");
  const std::string base_id = codename ? to_id(*codename) : id;
  std::string all, others;
  for (const auto& [k, v] : variants) {
    all += (all.empty() ? "" : ", ") + k + "=" + v;
    if (k != chosen->first)
      others += (others.empty() ? "" : ", ") + ("--id " + base_id + "-" + k.substr(4));
  }
  DevicetreeChoice choice{chosen->second,
                          "deviceinfo " + chosen->first + " (one of its variants: " + all + ")",
                          std::nullopt};
  if (variants.size() > 1)
    choice.unmapped = "dtb variants (" + all +
                      "): one device, several DTBs, one profile each; this draft is for " +
                      chosen->first + ", draft the others with " + others;
  return choice;
}

DevicetreeChoice choose_devicetree(const DraftInputs& in, const Deviceinfo* info,
                                   const std::string& id) {
  const DtbVariants variants = dtb_variants(info);
  if (auto dtb = info_value(info, "dtb"))
    return devicetree_from_dtb(*dtb);
  if (!variants.empty())
    return devicetree_from_variants(variants, in, info, id);
  return {"unknown",
          "FILL IN: the kernel's DTB name (e.g. qcom/sdm845-oneplus-fajita); no source gave it",
          std::nullopt};
}

void draft_identity(const DraftInputs& in, const Deviceinfo* info, Draft& out, Sources& src) {
  DeviceProfile& p = out.profile;
  const IdChoice id = choose_id(in, info);
  p.id = id.value;
  src["id"] = id.source;
  if (auto name = choose_display_name(info)) {
    p.display_name = *name;
    src["display_name"] = "deviceinfo manufacturer and name";
  }
  DevicetreeChoice dt = choose_devicetree(in, info, p.id);
  p.devicetree_name = dt.name;
  src["devicetree_name"] = dt.source;
  if (dt.unmapped)
    out.unmapped.push_back(*dt.unmapped);
}

// --- match and probe (live device only) --------------------------------------

void draft_match(const LiveDevice& device, DeviceProfile& p, Sources& src) {
  if (!device.usb)
    return;
  p.match.push_back(*device.usb);
  src["match"] = device.location.starts_with("usb:")
                     ? "the device's USB descriptor at " + device.location
                     : "--usb-id (the device was read at " + device.location + ")";
}

void add_identity_probes(const GetvarAnswers& answers, SerialProbes serial, DeviceProfile& p,
                         Sources& src) {
  auto add_equals = [&](const std::string& var, const std::string& value, const std::string& why) {
    p.probe.push_back(ProbeStep{ProbeOp::Equals, var, value});
    src["probe." + var] = why;
  };
  for (const char* var : {"product", "variant"})
    if (const auto* v = answers.find(var); v && !trim(*v).empty())
      add_equals(var, *v, "the device's answer");
  if (!p.probe.empty())
    return;
  for (const auto& [k, v] : answers.vars)
    if (stable_variable(k, serial) && !trim(v).empty()) {
      add_equals(k, v, "the device's answer (no product or variant)");
      return;
    }
}

// First the variables `other` checks (ours equal, or missing here), then any
// stable variable this device answered.
std::vector<ProbeStep> separating_candidates(const DeviceProfile& other,
                                             const GetvarAnswers& answers, SerialProbes serial) {
  std::vector<ProbeStep> candidates;
  for (const auto& step : other.probe) {
    if (const auto* v = answers.find(step.var))
      candidates.push_back({ProbeOp::Equals, step.var, *v});
    else
      candidates.push_back({ProbeOp::NotExists, step.var, {}});
  }
  for (const auto& [k, v] : answers.vars)
    if (stable_variable(k, serial))
      candidates.push_back({ProbeOp::Equals, k, v});
  return candidates;
}

std::optional<ProbeStep> first_separating_step(const DeviceProfile& p, const DeviceProfile& other,
                                               const std::vector<ProbeStep>& candidates) {
  for (const auto& step : candidates) {
    if (std::find(p.probe.begin(), p.probe.end(), step) != p.probe.end())
      continue;
    DeviceProfile trial = p;
    trial.probe.push_back(step);
    if (!ambiguous(trial, other))
      return step;
  }
  return std::nullopt;
}

bool passes_probes(const DeviceProfile& other, const GetvarAnswers& answers) {
  return std::all_of(other.probe.begin(), other.probe.end(), [&](const ProbeStep& step) {
    const std::string* v = answers.find(step.var);
    return profiles::probe_step_passes(step, v ? std::optional<std::string>(*v) : std::nullopt);
  });
}

std::string ambiguity_reason(const DeviceProfile& other, const GetvarAnswers& answers) {
  return other.id +
         (passes_probes(other, answers)
              ? ": this device passes its probes too (the same device, or that profile needs a "
                "probe this device's answers can tell apart)"
              : ": no variable this device answered tells them apart");
}

// Tell the draft apart from every profile it could be confused with, one
// probe step each; what no step separates is listed.
void separate_from_others(const DraftInputs& in, const GetvarAnswers& answers, Draft& out,
                          Sources& src) {
  DeviceProfile& p = out.profile;
  for (const auto& other : in.others) {
    if (!ambiguous(p, other))
      continue;
    if (auto step =
            first_separating_step(p, other, separating_candidates(other, answers, in.serial))) {
      p.probe.push_back(*step);
      src["probe." + step->var] = "tells it apart from " + other.id;
    } else {
      out.ambiguous_with.push_back(ambiguity_reason(other, answers));
    }
  }
}

void draft_match_and_probes(const DraftInputs& in, Draft& out, Sources& src) {
  draft_match(*in.device, out.profile, src);
  add_identity_probes(in.device->answers, in.serial, out.profile, src);
  separate_from_others(in, in.device->answers, out, src);
}

// --- boot constraints --------------------------------------------------------

struct BootSources {
  std::optional<BootFacts> stock, info;
  std::string stock_name, info_name;
};

Result<BootSources> gather_boot_facts(const DraftInputs& in, const Deviceinfo* info,
                                      std::vector<std::string>& unmapped) {
  BootSources f;
  if (in.stock_skeleton) {
    f.stock_name = "stock image " + in.stock_skeleton->second;
    f.stock = TRY(facts_from_stock(in.stock_skeleton->first, in.stock_skeleton->second));
  }
  if (info) {
    f.info_name = "deviceinfo";
    f.info = facts_from_deviceinfo(*info, unmapped);
  }
  if (!f.stock && !f.info)
    return Error("draft: no boot constraints: give a stock boot image (--boot-image) or a postmarketOS deviceinfo "
                 "file (--deviceinfo)",
                 ErrorKind::Usage);
  return f;
}

AndroidBootImage merge_boot_facts(const BootSources& f, Sources& m, std::vector<std::string>& c) {
  const BootFacts none;
  const BootFacts& s = f.stock ? *f.stock : none;
  const BootFacts& d = f.info ? *f.info : none;
  const std::string& sn = f.stock_name;
  const std::string& dn = f.info_name;
  AndroidBootImage b;
  b.header_version =
      pick("header_version", s.header_version, sn, d.header_version, dn, m, c).value_or(0);
  b.page_size = pick("page_size", s.page_size, sn, d.page_size, dn, m, c).value_or(0);
  b.base = pick("base", s.base, sn, d.base, dn, m, c);
  b.kernel_offset = pick("kernel_offset", s.kernel_offset, sn, d.kernel_offset, dn, m, c);
  b.dtb_offset = pick("dtb_offset", s.dtb_offset, sn, d.dtb_offset, dn, m, c);
  b.extensions.ramdisk_offset =
      pick("ramdisk_offset", s.ramdisk_offset, sn, d.ramdisk_offset, dn, m, c);
  b.extensions.second_offset =
      pick("second_offset", s.second_offset, sn, d.second_offset, dn, m, c);
  b.extensions.tags_offset = pick("tags_offset", s.tags_offset, sn, d.tags_offset, dn, m, c);
  b.extensions.board = pick("board", s.board, sn, d.board, dn, m, c);
  b.kernel_encoding = pick("kernel.encoding", s.encoding, sn, d.encoding, dn, m, c)
                          .value_or(KernelEncoding::ImageGz);
  b.extensions.dtb_in_second =
      pick("dtb_in_second", s.dtb_in_second, sn, d.dtb_in_second, dn, m, c).value_or(false);
  b.extensions.samsung_seandroidenforce =
      pick("samsung_seandroidenforce", s.seandroidenforce, sn, d.seandroidenforce, dn, m, c)
          .value_or(false);
  return b;
}

// Says why, when the deviceinfo describes another boot method.
Error no_page_size_error(const std::vector<std::string>& unmapped) {
  std::string why;
  for (const auto& u : unmapped)
    why += "\n  deviceinfo_" + u;
  return Error(
      "draft: no page size: neither the stock image nor deviceinfo_flash_pagesize gives one" +
          (why.empty() ? std::string() : "; the deviceinfo says:" + why),
      ErrorKind::Usage);
}

// --- the annotated YAML ------------------------------------------------------

std::string note(const Sources& src, const std::string& key) {
  if (auto it = src.find(key); it != src.end())
    return "  # " + it->second;
  return {};
}

void write_header(std::ostream& y, const DraftInputs& in, const BootSources& facts,
                  const Draft& out) {
  y << "# Device Profile DRAFT written by fastboop-profile draft. UNTESTED: it has not booted this device yet.\n";
  y << "# Check every line, boot it once with fastboop-push --check and then for real, and only then share it.\n";
  y << "# Sources:";
  if (in.device)
    y << " device " << in.device->location << " (" << in.device->answers.vars.size() << " getvar answers);";
  if (in.stock_skeleton)
    y << " " << facts.stock_name << ";";
  if (in.deviceinfo)
    y << " deviceinfo " << in.deviceinfo->origin << ";";
  y << "\n";
  for (const auto* f : {&facts.stock, &facts.info})
    if (*f)
      for (const auto& n : (*f)->notes)
        y << "# note: " << n << "\n";
  for (const auto& x : out.conflicts)
    y << "# CONFLICT: " << x << "\n";
  for (const auto& x : out.unmapped)
    y << "# NOT MAPPED: deviceinfo_" << x << "\n";
  for (const auto& x : out.ambiguous_with)
    y << "# AMBIGUOUS with " << x << "\n";
}

void write_identity(std::ostream& y, const DeviceProfile& p, const Sources& src) {
  y << "id: " << p.id << note(src, "id") << "\n";
  if (p.display_name)
    y << "display_name: " << yaml_quoted(*p.display_name) << note(src, "display_name") << "\n";
  y << "devicetree_name: " << yaml_quoted(p.devicetree_name) << note(src, "devicetree_name")
    << "\n";
}

void write_match(std::ostream& y, const DeviceProfile& p, bool live_device, const Sources& src) {
  if (p.match.empty()) {
    y << (live_device ? "match: []  # read over the network: add the bootloader's USB ids "
                        "(--usb-id VID:PID)\n"
                      : "match: []  # no live device given: run draft with --device to read the "
                        "bootloader's USB ids\n");
    return;
  }
  y << "match:" << note(src, "match") << "\n";
  for (const auto& mm : p.match) {
    char ids[64];
    std::snprintf(ids, sizeof ids, "{vid: 0x%04x, pid: 0x%04x}", mm.vid, mm.pid);
    y << "  - fastboot: " << ids << "\n";
  }
}

std::string probe_condition(const ProbeStep& step) {
  switch (step.op) {
  case ProbeOp::Equals:
    return "equals: " + yaml_quoted(step.value);
  case ProbeOp::StartsWith:
    return "starts_with: " + yaml_quoted(step.value);
  case ProbeOp::NotEquals:
    return "not_equals: " + yaml_quoted(step.value);
  case ProbeOp::Exists:
    return "exists: true";
  case ProbeOp::NotExists:
    return "not_exists: true";
  }
  return {};
}

void write_probe(std::ostream& y, const DeviceProfile& p, const Sources& src) {
  if (p.probe.empty()) {
    y << "probe: []  # no live device given: run draft with --device for getvar probes\n";
    return;
  }
  y << "probe:\n";
  for (const auto& step : p.probe) {
    y << "  - fastboot.getvar: " << yaml_quoted(step.var) << note(src, "probe." + step.var) << "\n";
    y << "    " << probe_condition(step) << "\n";
  }
}

void write_boot(std::ostream& y, const AndroidBootImage& b, const Sources& src) {
  y << "boot:\n  fastboot_boot:\n    android_bootimg:\n";
  const std::string in6 = "      ";
  y << in6 << "header_version: " << b.header_version << note(src, "header_version") << "\n";
  y << in6 << "page_size: " << b.page_size << note(src, "page_size") << "\n";
  auto opt_hex = [&](const char* key, const std::optional<std::uint64_t>& v) {
    if (v)
      y << in6 << key << ": " << format_hex(*v, 8) << note(src, key) << "\n";
  };
  opt_hex("base", b.base);
  opt_hex("kernel_offset", b.kernel_offset);
  opt_hex("dtb_offset", b.dtb_offset);
  opt_hex("ramdisk_offset", b.extensions.ramdisk_offset);
  opt_hex("second_offset", b.extensions.second_offset);
  opt_hex("tags_offset", b.extensions.tags_offset);
  if (b.extensions.board)
    y << in6 << "board: " << yaml_quoted(*b.extensions.board) << note(src, "board") << "\n";
  if (b.extensions.dtb_in_second)
    y << in6 << "dtb_in_second: true" << note(src, "dtb_in_second") << "\n";
  if (b.extensions.samsung_seandroidenforce)
    y << in6 << "samsung_seandroidenforce: true" << note(src, "samsung_seandroidenforce") << "\n";
  y << in6 << "kernel:\n"
    << in6 << "  encoding: " << profiles::kernel_encoding_name(b.kernel_encoding)
    << note(src, "kernel.encoding") << "\n";
}

std::string draft_yaml(const DraftInputs& in, const BootSources& facts, const Draft& out,
                       const Sources& src) {
  std::ostringstream y;
  write_header(y, in, facts, out);
  write_identity(y, out.profile, src);
  write_match(y, out.profile, in.device.has_value(), src);
  write_probe(y, out.profile, src);
  write_boot(y, out.profile.boot, src);
  return y.str();
}

// The text is the product: it must read back as exactly this profile.
Result<void> check_reads_back(const Draft& out) {
  auto back = profiles::parse_device_profile(out.yaml, "draft");
  if (!back)
    return Error("draft: internal error, the draft does not parse: " + back.error().message());
  if (!(*back == out.profile))
    return Error("draft: internal error, the draft does not read back as the profile it describes");
  return ok();
}

} // namespace

Result<Draft> draft_device_profile(const DraftInputs& in) {
  Draft out;
  Sources src; // field and boot-field keys are disjoint, so one map serves both
  const Deviceinfo* info = in.deviceinfo ? &*in.deviceinfo : nullptr;
  draft_identity(in, info, out, src);
  if (in.device)
    draft_match_and_probes(in, out, src);
  const BootSources facts = TRY(gather_boot_facts(in, info, out.unmapped));
  out.profile.boot = merge_boot_facts(facts, src, out.conflicts);
  if (out.profile.boot.page_size == 0)
    return no_page_size_error(out.unmapped);
  out.yaml = draft_yaml(in, facts, out, src);
  TRY(check_reads_back(out));
  return out;
}

} // namespace fastboop::draft
