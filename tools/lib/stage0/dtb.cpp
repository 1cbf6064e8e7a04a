#include "stage0/dtb.hpp"
#include "stage0/fsutil.hpp"

#include "common/process.hpp"

extern "C" {
#include <libfdt.h>
}

#include <algorithm>
#include <cstring>

namespace fastboop::stage0 {

namespace fs = fastboop::filesystems;

namespace {

std::string fdt_err(int code) { return fdt_strerror(code); }

Result<Bytes> expanded(ByteSpan dtb, std::size_t extra, const std::string& what) {
  if (dtb.size() < sizeof(fdt_header) || fdt_check_header(dtb.data()) != 0)
    return Error(what + ": not a flattened device tree");
  if (fdt_totalsize(dtb.data()) > dtb.size())
    return Error(what + ": header size " + std::to_string(fdt_totalsize(dtb.data())) +
                 " exceeds the " + std::to_string(dtb.size()) + "-byte file");
  Bytes buf(dtb.size() + extra);
  int rc = fdt_open_into(dtb.data(), buf.data(), static_cast<int>(buf.size()));
  if (rc != 0)
    return Error(what + ": " + fdt_err(rc));
  return buf;
}

Result<Bytes> packed(Bytes buf) {
  int rc = fdt_pack(buf.data());
  if (rc != 0)
    return Error("device tree: pack: " + fdt_err(rc));
  buf.resize(fdt_totalsize(buf.data()));
  return buf;
}

} // namespace

std::vector<std::string> dtb_candidates(const std::string& name_in, const std::string& kver) {
  std::string name = name_in;
  while (!name.empty() && name[0] == '/')
    name.erase(0, 1);
  const std::string leaf = name + ".dtb";
  return {
      "/boot/dtbs/" + kver + "/" + leaf,          // Arch ARM, postmarketOS per-version
      "/boot/dtbs/" + leaf,                       // Arch ARM, postmarketOS
      "/boot/dtb-" + kver + "/" + leaf,           // Fedora /boot copy
      "/boot/dtb/" + leaf,                        // Fedora symlink, upstream fastboop
      "/boot/" + leaf,                            // upstream fastboop
      "/usr/lib/linux-image-" + kver + "/" + leaf, // Debian
      "/usr/lib/modules/" + kver + "/dtb/" + leaf, // Fedora
      "/lib/modules/" + kver + "/dtb/" + leaf,
      "/lib/firmware/" + kver + "/device-tree/" + leaf, // Ubuntu
      "/usr/lib/firmware/" + kver + "/device-tree/" + leaf,
      "/lib/firmware/" + leaf,                     // upstream fastboop
      "/usr/lib/firmware/" + leaf,
  };
}

Result<FoundDtb> select_dtb(fs::Filesystem& fsys, const std::string& devicetree_name,
                            const std::string& kver) {
  if (devicetree_name.empty())
    return Error("device profile devicetree_name is empty");
  auto candidates = dtb_candidates(devicetree_name, kver);
  for (const auto& c : candidates) {
    auto node = TRY(find_path(fsys, c));
    if (!node)
      continue;
    auto st = TRY(fsys.stat(*node));
    if (st.type != fs::FileType::Regular)
      continue;
    Bytes b = TRY(fs::read_file(fsys, c, std::uint64_t{64} << 20));
    return FoundDtb{c, std::move(b)};
  }
  std::string list;
  for (const auto& c : candidates)
    list += "\n  " + c;
  return Error("no DTB for " + devicetree_name + " (kernel " + kver + ") in the rootfs; searched:" + list);
}

Result<Bytes> compile_dts(ByteSpan source, const std::string& origin) {
  auto out = TRY(run_process({"dtc", "-@", "-q", "-I", "dts", "-O", "dtb", "-o", "-", "-"}, source,
                             "device-tree-compiler"));
  if (out.exit_code != 0)
    return Error(origin + ": dtc failed: " + out.err);
  return std::move(out.out);
}

Result<Bytes> apply_overlays(ByteSpan base, const std::vector<Bytes>& overlays,
                             const std::vector<std::string>& names) {
  if (overlays.empty())
    return Bytes(base.begin(), base.end());
  std::size_t extra = 4096;
  for (const auto& o : overlays)
    extra += o.size() * 2;
  Bytes tree = TRY(expanded(base, extra, "base DTB"));
  for (std::size_t i = 0; i < overlays.size(); ++i) {
    const std::string& name = i < names.size() ? names[i] : "overlay " + std::to_string(i);
    // fdt_overlay_apply modifies the overlay too, so each gets a private copy.
    Bytes ov = TRY(expanded(overlays[i], 0, name));
    int rc = fdt_overlay_apply(tree.data(), ov.data());
    if (rc != 0) {
      std::string hint;
      if (rc == -FDT_ERR_NOTFOUND)
        hint = " (a fragment target or a referenced label is missing in the base tree; base DTBs "
               "need __symbols__, i.e. dtc -@)";
      return Error(name + ": applying the overlay failed: " + fdt_err(rc) + hint);
    }
  }
  return packed(std::move(tree));
}

std::array<std::uint8_t, 6> mac_from_seed(std::string_view seed, std::string_view kind,
                                          std::string_view compatible) {
  std::uint64_t h = 0xcbf29ce484222325ull;
  for (std::string_view part : {seed, kind, compatible})
    for (unsigned char c : part) {
      h ^= c;
      h *= 0x100000001b3ull;
    }
  std::array<std::uint8_t, 6> mac{};
  for (int i = 0; i < 6; ++i)
    mac[static_cast<std::size_t>(i)] = static_cast<std::uint8_t>(h >> (8 * i));
  mac[0] = static_cast<std::uint8_t>((mac[0] & 0xFE) | 0x02);
  return mac;
}

Result<Bytes> inject_mac(ByteSpan dtb, const InjectMacRequest& request, std::string_view seed) {
  if (!request.wifi && !request.bluetooth)
    return Bytes(dtb.begin(), dtb.end());
  Bytes tree = TRY(expanded(dtb, 256, "DTB"));
  auto apply = [&](const std::string& compatible, std::string_view kind, const char* prop,
                   bool reversed) -> Result<void> {
    // fdt_next_node walks in pre-order, children in stored order.
    int node = -1;
    for (int n = 0; n >= 0; n = fdt_next_node(tree.data(), n, nullptr)) {
      if (fdt_node_check_compatible(tree.data(), n, compatible.c_str()) == 0) {
        node = n;
        break;
      }
    }
    if (node < 0)
      return Error("inject_mac " + std::string(kind == "wifi" ? "wifi" : "bluetooth") +
                   " compatible not found: " + compatible);
    auto mac = mac_from_seed(seed, kind, compatible);
    if (reversed)
      std::reverse(mac.begin(), mac.end());
    int rc = fdt_setprop(tree.data(), node, prop, mac.data(), 6);
    if (rc != 0)
      return Error(std::string("inject_mac: setting ") + prop + ": " + fdt_err(rc));
    return ok();
  };
  if (request.wifi)
    TRY(apply(*request.wifi, "wifi", "local-mac-address", false));
  if (request.bluetooth)
    TRY(apply(*request.bluetooth, "bluetooth", "local-bd-address", true));
  return packed(std::move(tree));
}

Result<void> validate_dtb(ByteSpan dtb, const std::string& what) {
  if (dtb.size() < sizeof(fdt_header))
    return Error(what + ": too short for a device tree");
  int rc = fdt_check_full(dtb.data(), dtb.size());
  if (rc != 0)
    return Error(what + ": invalid device tree: " + fdt_err(rc));
  return ok();
}

} // namespace fastboop::stage0
