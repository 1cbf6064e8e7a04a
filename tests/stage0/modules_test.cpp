// Module closure: synthetic corner cases and the real Debian tree against
// kmod (`modprobe --show-depends`), the reference implementation.
#include "stage0/modules.hpp"

#include "stage0_fixtures.hpp"

#include <algorithm>
#include <map>
#include <set>
#include <sstream>

namespace fastboop::stage0 {
namespace {

using fastboop::test::TempDir;
using test::put;

std::vector<std::string> names(const ModuleClosure& c) {
  std::vector<std::string> out;
  for (const auto& m : c.load_order)
    out.push_back(m.name);
  return out;
}

// The worked example of spec §2.5, with compressed names and a '-' name.
void write_example(const std::filesystem::path& root) {
  put(root / "lib/modules/1.0/modules.dep",
      "kernel/drivers/usb/common/usb-common.ko.xz:\n"
      "kernel/drivers/usb/gadget/udc/udc-core.ko.zst: kernel/drivers/usb/common/usb-common.ko.xz\n"
      "kernel/drivers/usb/gadget/libcomposite.ko.xz: kernel/drivers/usb/gadget/udc/udc-core.ko.zst "
      "kernel/drivers/usb/common/usb-common.ko.xz\n"
      "kernel/drivers/usb/gadget/function/usb_f_fs.ko.xz: kernel/drivers/usb/gadget/libcomposite.ko.xz "
      "kernel/drivers/usb/gadget/udc/udc-core.ko.zst kernel/drivers/usb/common/usb-common.ko.xz\n"
      "kernel/drivers/block/ublk_drv.ko:\n"
      "kernel/fs/erofs/erofs.ko.gz: kernel/lib/libcrc32c.ko\n"
      "kernel/lib/libcrc32c.ko:\n"
      "kernel/crypto/crc32c_generic.ko:\n"
      "kernel/drivers/usb/dwc3/dwc3-qcom.ko:\n"
      "kernel/drivers/phy/phy-qcom-usb.ko:\n");
  put(root / "lib/modules/1.0/modules.builtin", "kernel/fs/configfs/configfs.ko\nkernel/fs/overlayfs/overlay.ko\n");
  put(root / "lib/modules/1.0/modules.softdep",
      "# Soft dependencies extracted from modules themselves.\n"
      "softdep libcrc32c pre: crc32c\n"
      "softdep dwc3_qcom post: phy-qcom-usb\n"
      "softdep erofs pre: no-such-alias\n");
  put(root / "lib/modules/1.0/modules.alias", "alias crypto-crc32c crc32c_generic\nalias crc32c* crc32c_generic\n");
}

Result<ModuleClosure> resolve_in(const std::filesystem::path& root, const std::vector<std::string>& req) {
  auto fsys = filesystems::open_host_directory(root.string());
  if (!fsys)
    return std::move(fsys).error();
  auto idx = ModuleIndex::load(**fsys, "/lib/modules/1.0", "1.0");
  if (!idx)
    return std::move(idx).error();
  return idx->resolve(req);
}

TEST(Modules, SpecExampleOrderBuiltinsAndFolding) {
  TempDir dir;
  write_example(dir.path());
  auto c = resolve_in(dir.path(), {"configfs", "libcomposite", "usb_f_fs", "ublk_drv", "overlay", "erofs"});
  ASSERT_TRUE(c) << c.error().message();
  EXPECT_EQ(names(*c), (std::vector<std::string>{"usb_common", "udc_core", "libcomposite", "usb_f_fs", "ublk_drv",
                                                 "crc32c_generic", "libcrc32c", "erofs"}));
  EXPECT_EQ(c->builtin, (std::vector<std::string>{"configfs", "overlay"}));
  EXPECT_EQ(c->load_order[0].reason, ModuleReason::Dependency);
  EXPECT_EQ(c->load_order[0].wanted_by, "libcomposite");
  EXPECT_EQ(c->load_order[0].relpath, "kernel/drivers/usb/common/usb-common.ko.xz");
  EXPECT_EQ(c->load_order[5].reason, ModuleReason::Softdep); // crc32c via the crc32c* alias
  EXPECT_EQ(c->missing_softdeps, (std::vector<std::string>{"no-such-alias"}));
}

TEST(Modules, NamesFoldDashAndUnderscore) {
  TempDir dir;
  write_example(dir.path());
  // Upstream matched names exactly (spec §8 item 8): dwc3_qcom != dwc3-qcom.
  for (const char* req : {"dwc3_qcom", "dwc3-qcom"}) {
    auto c = resolve_in(dir.path(), {req});
    ASSERT_TRUE(c) << c.error().message();
    EXPECT_EQ(names(*c), (std::vector<std::string>{"dwc3_qcom", "phy_qcom_usb"})) << req; // post: softdep
  }
  auto b = resolve_in(dir.path(), {"over-lay", "overlay"});
  ASSERT_FALSE(b); // folding only swaps '-' and '_'; "over_lay" is a different name
}

TEST(Modules, MissingModuleNamesModuleKernelAndPlace) {
  TempDir dir;
  write_example(dir.path());
  auto c = resolve_in(dir.path(), {"usb_f_fs", "nonexistent-mod"});
  ASSERT_FALSE(c);
  const auto& msg = c.error().message();
  EXPECT_NE(msg.find("nonexistent_mod"), std::string::npos) << msg;
  EXPECT_NE(msg.find("1.0"), std::string::npos) << msg;
  EXPECT_NE(msg.find("/lib/modules/1.0/modules.dep"), std::string::npos) << msg;
  EXPECT_NE(msg.find("modules.builtin"), std::string::npos) << msg;
}

TEST(Modules, MissingModulesDepSaysRunDepmod) {
  TempDir dir;
  put(dir / "lib/modules/1.0/kernel/fs/erofs/erofs.ko", "x");
  auto fsys = filesystems::open_host_directory(dir.path().string());
  ASSERT_TRUE(fsys);
  auto idx = ModuleIndex::load(**fsys, "/lib/modules/1.0", "1.0");
  ASSERT_FALSE(idx);
  EXPECT_NE(idx.error().message().find("depmod -b"), std::string::npos) << idx.error().message();
}

// modprobe --show-depends for one module: module names in order, and built-ins.
struct KmodAnswer {
  std::vector<std::string> order;
  std::set<std::string> builtin;
};
KmodAnswer kmod_show_depends(const test::DebianKernel& k, const std::string& module) {
  auto out = fastboop::test::run({"modprobe", "--show-depends", "-d", k.tree.string(), "-S", k.kver, module});
  EXPECT_EQ(out.exit_code, 0) << module << ": " << out.err;
  KmodAnswer a;
  std::istringstream in(std::string(as_chars(out.out)));
  std::string word, path;
  while (in >> word) {
    if (word == "insmod") {
      in >> path;
      a.order.push_back(module_name_from_path(path));
      std::string rest;
      std::getline(in, rest); // module parameters, if any
    } else if (word == "builtin") {
      in >> path;
      a.builtin.insert(fold_module_name(path));
    }
  }
  return a;
}

void expect_same_as_kmod(const std::vector<std::string>& set,
                         const std::optional<test::DebianKernel>& tree = std::nullopt) {
  const auto& k = tree ? *tree : *test::debian_kernel();
  auto fsys = filesystems::open_host_directory(k.tree.string());
  ASSERT_TRUE(fsys);
  auto idx = ModuleIndex::load(**fsys, "/lib/modules/" + k.kver, k.kver);
  ASSERT_TRUE(idx) << idx.error().message();
  auto c = idx->resolve(set);
  ASSERT_TRUE(c) << c.error().message();
  const auto our_names = names(*c);
  std::set<std::string> ours(our_names.begin(), our_names.end());
  std::set<std::string> theirs;
  std::set<std::string> theirs_builtin;
  std::map<std::string, std::size_t> pos;
  for (std::size_t i = 0; i < c->load_order.size(); ++i)
    pos[c->load_order[i].name] = i;
  for (const auto& m : set) {
    auto a = kmod_show_depends(k, m);
    theirs.insert(a.order.begin(), a.order.end());
    theirs_builtin.insert(a.builtin.begin(), a.builtin.end());
    // Every module kmod loads before `m` (its dependencies and pre softdeps)
    // comes before it in our order too.
    for (std::size_t i = 0; i + 1 < a.order.size(); ++i)
      EXPECT_LT(pos[a.order[i]], pos[a.order.back()]) << a.order[i] << " before " << a.order.back();
  }
  EXPECT_EQ(ours, theirs);
  for (const auto& b : theirs_builtin)
    EXPECT_TRUE(std::find(c->builtin.begin(), c->builtin.end(), b) != c->builtin.end()) << b;
}

TEST(ModulesDebian, GadgetSetEqualsKmodClosure) {
  FASTBOOP_REQUIRE_PROGRAM("modprobe");
  STAGE0_REQUIRE_DEBIAN_KERNEL();
  expect_same_as_kmod({"configfs", "libcomposite", "usb_f_fs", "overlay", "erofs", "usb_f_acm", "dwc3-qcom",
                       "phy-qcom-qusb2"});
}

TEST(ModulesDebian, SoftdepSetEqualsKmodClosure) {
  FASTBOOP_REQUIRE_PROGRAM("modprobe");
  STAGE0_REQUIRE_DEBIAN_KERNEL();
  // ext4 and jbd2 have "pre: crypto-crc32c" (an alias), libcrc32c "pre: crc32c".
  expect_same_as_kmod({"ext4", "erofs", "libcrc32c"});
}

TEST(ModulesDebian, EverySoftdepLineCountsLikeMergedKmodConfig) {
  FASTBOOP_REQUIRE_PROGRAM("modprobe");
  STAGE0_REQUIRE_DEBIAN_KERNEL();
  // depmod writes one "softdep btrfs pre: X" line per MODULE_SOFTDEP, and
  // kmod 30 honours only the first line for a module. We honour all of them.
  // The peer gets the same information as one merged line per module, in a
  // copy of the index (the module files are shared through a symlink); our
  // closure must equal kmod's on that copy, for both index forms.
  const auto& k = *test::debian_kernel();
  TempDir dir;
  auto src = k.tree / ("lib/modules/" + k.kver);
  auto dst = dir.path() / ("lib/modules/" + k.kver);
  std::filesystem::create_directories(dst);
  for (const auto& e : std::filesystem::directory_iterator(src)) {
    if (e.path().filename() == "kernel")
      std::filesystem::create_directory_symlink(e.path(), dst / "kernel");
    else
      std::filesystem::copy_file(e.path(), dst / e.path().filename());
  }
  std::map<std::string, std::string> merged;
  std::vector<std::string> order;
  std::istringstream in(std::string(as_chars(fastboop::test::read_file(src / "modules.softdep"))));
  for (std::string line; std::getline(in, line);) {
    std::istringstream words(line);
    std::string w, mod;
    if (!(words >> w) || w != "softdep" || !(words >> mod))
      continue;
    if (!merged.count(mod))
      order.push_back(mod);
    std::string rest;
    std::getline(words, rest);
    if (rest.find("pre:") == std::string::npos && rest.find("post:") == std::string::npos)
      rest = " pre:" + rest;
    merged[mod] += rest;
  }
  std::string text;
  for (const auto& m : order)
    text += "softdep " + m + merged[m] + "\n";
  fastboop::test::write_file(dst / "modules.softdep", text);
  expect_same_as_kmod({"btrfs", "ext4", "nfsd"}, test::DebianKernel{dir.path(), k.kver});
  expect_same_as_kmod({"btrfs", "ext4"}, test::DebianKernel{dir.path(), k.kver});
}

TEST(ModulesDebian, FirmwareFromModinfo) {
  STAGE0_REQUIRE_DEBIAN_KERNEL();
  const auto& k = *test::debian_kernel();
  auto mod = k.tree / ("lib/modules/" + k.kver) / "kernel/drivers/net/wireless/ath/ath10k/ath10k_pci.ko";
  if (!std::filesystem::exists(mod))
    GTEST_SKIP() << "no ath10k_pci in this kernel";
  auto fw = module_firmware(fastboop::test::read_file(mod));
  ASSERT_TRUE(fw) << fw.error().message();
  FASTBOOP_REQUIRE_PROGRAM("modinfo");
  auto out = fastboop::test::run({"modinfo", "-F", "firmware", mod.string()});
  std::vector<std::string> theirs;
  std::istringstream in(std::string(as_chars(out.out)));
  for (std::string l; std::getline(in, l);)
    theirs.push_back(l);
  EXPECT_FALSE(theirs.empty());
  EXPECT_EQ(*fw, theirs);
}

} // namespace
} // namespace fastboop::stage0
