// A channel as SOURCE (spec channels.md), through the built tools: packed by
// `fastboop-profile channel pack` from a compiled Device Profile, a compiled
// Boot Profile and an ext4 image made by mke2fs -d, then read by
// `fastboop-stage0` locally and over lighttpd on loopback, and shown back by
// `fastboop-profile show`.
#include "../pipeline/http_harness.hpp"
#include "stage0_fixtures.hpp"

#include <gmock/gmock.h>

#include <cstdio>
#include <map>

namespace fastboop::stage0 {
namespace {

namespace fsys = std::filesystem;
using fastboop::test::read_file;
using fastboop::test::run;
using fastboop::test::TempDir;
using ::testing::HasSubstr;

constexpr std::string_view kDevpro = R"(id: chan-board
display_name: Channel board
devicetree_name: vendor/board
match:
  - fastboot: {vid: 0x18d1, pid: 0x4ee1}
probe:
  - fastboot.getvar: product
    equals: chan
boot:
  fastboot_boot:
    android_bootimg:
      header_version: 2
      page_size: 4096
      kernel:
        encoding: image
)";

std::string text(const Bytes& b) {
  return std::string(as_chars(b));
}

class ChannelSource : public ::testing::Test {
protected:
  void SetUp() override {
    for (const char* p : {"mke2fs", "dtc"})
      FASTBOOP_REQUIRE_PROGRAM(p);
    const auto tree = dir / "tree";
    test::put(tree / "boot/vmlinuz-9.0", test::fake_arm64_image("9.0", 1 << 16));
    test::put(tree / "boot/config-9.0", "CONFIG_MODULES=y\n");
    const auto m = tree / "lib/modules/9.0";
    test::put(m / "modules.dep",
              "kernel/fs/configfs/configfs.ko:\nkernel/drivers/block/ublk_drv.ko:\n");
    for (const char* k : {"kernel/fs/configfs/configfs.ko", "kernel/drivers/block/ublk_drv.ko"})
      test::put(m / k, test::fake_module({}));
    test::put(m / "modules.builtin",
              "kernel/fs/overlayfs/overlay.ko\nkernel/fs/ext4/ext4.ko\nkernel/fs/erofs/erofs.ko\n"
              "kernel/drivers/usb/gadget/libcomposite.ko\n"
              "kernel/drivers/usb/gadget/function/usb_f_fs.ko\n");
    auto dtb = run_process({"dtc", "-q", "-I", "dts", "-O", "dtb", "-o", "-", "-"},
                           as_bytes("/dts-v1/; / { model = \"channel\"; };"));
    ASSERT_TRUE(dtb && dtb->exit_code == 0);
    test::put(tree / "boot/dtbs/9.0/vendor/board.dtb", dtb->out);
    ok({"sh", "-c",
        "mke2fs -q -F -t ext4 -b 4096 -d '" + tree.string() + "' -E root_owner=0:0 '" +
            image().string() + "' 16M"});
    test::put(dir / "devpro/chan-board.yaml", kDevpro);
    ok(profile({"compile-devpro", (dir / "devpro/chan-board.yaml").string(), "-o",
                (dir / "board.fdp").string()}));
    for (const char* id : {"one", "two"}) {
      test::put(dir / (std::string(id) + ".yaml"),
                "id: " + std::string(id) + "\nrootfs:\n  ext4:\n    file: root.ext4\n");
      ok(profile({"compile", (dir / (std::string(id) + ".yaml")).string(), "-o",
                  (dir / (std::string(id) + ".fbp")).string()}));
    }
    init = dir / "stage0-aarch64";
    Bytes elf = test::fake_elf(183);
    test::put(init, elf);
  }

  fsys::path image() const { return dir / "root.ext4"; }

  ProcessOutput ok(const std::vector<std::string>& argv) {
    auto r = run(argv);
    EXPECT_EQ(r.exit_code, 0) << argv.back() << ": " << r.err;
    return r;
  }
  std::vector<std::string> profile(std::vector<std::string> args) {
    args.insert(args.begin(), fastboop::test::tool_path("fastboop-profile").string());
    return args;
  }
  // fastboop-stage0 with a private cache and no Device Profile directory but
  // `schema` (none: only the built-ins and the channel's).
  ProcessOutput stage0(std::vector<std::string> args, const std::string& schema = "") {
    std::vector<std::string> argv = {"env",
                                     "XDG_CACHE_HOME=" + (dir / "cache").string(),
                                     "FASTBOOP_OFFLINE=",
                                     "FASTBOOP_SCHEMA_PATH=" + schema,
                                     "HOME=" + dir.path().string(),
                                     "XDG_CONFIG_HOME=",
                                     "FASTBOOP_DEVPRO_SYSTEM_DIRS=",
                                     fastboop::test::tool_path("fastboop-stage0").string()};
    argv.insert(argv.end(), args.begin(), args.end());
    return run(argv);
  }
  fsys::path pack(const std::string& name, std::vector<std::string> records, bool artifact,
                  bool index) {
    std::vector<std::string> args = {"channel", "pack"};
    for (const auto& r : records)
      args.push_back((dir / r).string());
    if (artifact)
      args.insert(args.end(), {"--artifact", image().string()});
    if (index)
      args.push_back("--index");
    args.insert(args.end(), {"-o", (dir / name).string()});
    ok(profile(args));
    return dir / name;
  }
  // Every output of a build but stage0.json (which names its SOURCE).
  std::map<std::string, Bytes> outputs(const fsys::path& out) {
    std::map<std::string, Bytes> files;
    for (const auto& e : fsys::directory_iterator(out))
      if (e.path().filename() != "stage0.json")
        files[e.path().filename().string()] = read_file(e.path());
    return files;
  }

  TempDir dir;
  fsys::path init;
};

TEST_F(ChannelSource, ArtifactChannelBuildsTheSameStage0AsTheSeparateProfileAndImage) {
  const auto separate = dir / "separate";
  auto a = stage0({"build", image().string(), "--device-profile", "chan-board", "--stage0-init",
                   init.string(), "--root-device", "/dev/sda2", "-o", separate.string()},
                  (dir / "devpro").string());
  ASSERT_EQ(a.exit_code, 0) << a.err;
  for (bool index : {false, true}) {
    const auto channel =
        pack(index ? "indexed.chn" : "plain.chn", {"board.fdp", "one.fbp"}, true, index);
    const auto out = dir / (index ? "from-indexed" : "from-plain");
    // No Device Profile directory: chan-board comes from the channel.
    auto b = stage0({"build", channel.string(), "--device-profile", "chan-board", "--stage0-init",
                     init.string(), "--root-device", "/dev/sda2", "-o", out.string()});
    ASSERT_EQ(b.exit_code, 0) << b.err;
    EXPECT_EQ(outputs(out), outputs(separate));
    auto cat = stage0({"cat", channel.string(), "/lib/modules/9.0/modules.dep"});
    ASSERT_EQ(cat.exit_code, 0) << cat.err;
    EXPECT_EQ(cat.out, read_file(dir / "tree/lib/modules/9.0/modules.dep"));
    auto inspect = stage0({"inspect", "--json", channel.string()});
    ASSERT_EQ(inspect.exit_code, 0) << inspect.err;
    EXPECT_THAT(text(inspect.out),
                HasSubstr(index ? "channel(2 record(s), indexed) boot-profile(one)"
                                : "channel(2 record(s)) boot-profile(one)"));
  }
  // Without the channel, the id is unknown.
  auto c = stage0({"build", image().string(), "--device-profile", "chan-board", "--stage0-init",
                   init.string(), "--root-device", "/dev/sda2", "-o", (dir / "none").string()});
  EXPECT_EQ(c.exit_code, 3) << c.err;
}

TEST_F(ChannelSource, BootProfileIsChosenByIdOrTheOnlyOne) {
  const auto two = pack("two.chn", {"one.fbp", "board.fdp", "two.fbp"}, true, false);
  auto several = stage0({"cat", two.string(), "/boot/config-9.0"});
  EXPECT_EQ(several.exit_code, 2);
  EXPECT_THAT(several.err,
              HasSubstr("holds 2 Boot Profiles (one, two); choose one with --boot-profile"));
  auto chosen = stage0({"inspect", "--json", "--boot-profile", "two", two.string()});
  ASSERT_EQ(chosen.exit_code, 0) << chosen.err;
  EXPECT_THAT(text(chosen.out), HasSubstr("\"boot_profile\": \"two\""));
  auto missing = stage0({"inspect", "--boot-profile", "three", two.string()});
  EXPECT_EQ(missing.exit_code, 3);
  EXPECT_THAT(missing.err, HasSubstr("holds no such Boot Profile (it holds: one, two)"));
  auto bare = stage0({"inspect", "--boot-profile", "one", image().string()});
  EXPECT_EQ(bare.exit_code, 2);
  // Device profiles only: nothing to read a rootfs from.
  const auto devs = pack("devs.chn", {"board.fdp"}, false, false);
  auto none = stage0({"inspect", devs.string()});
  EXPECT_EQ(none.exit_code, 2);
  EXPECT_THAT(none.err, HasSubstr("holds no Boot Profile and no artifact"));
}

TEST_F(ChannelSource, PackShowAndIndexRoundTrip) {
  auto show = [&](const std::vector<std::string>& files) {
    std::vector<std::string> args = {"show"};
    args.insert(args.end(), files.begin(), files.end());
    return text(ok(profile(args)).out);
  };
  // The records as one file shown, against the channel shown.
  ok({"sh", "-c",
      "cat '" + (dir / "board.fdp").string() + "' '" + (dir / "one.fbp").string() + "' > '" +
          (dir / "cat.bin").string() + "'"});
  const std::string expected = show({(dir / "cat.bin").string()});
  EXPECT_THAT(expected, HasSubstr("--- # device_profile chan-board"));
  const auto plain = pack("p.chn", {"board.fdp", "one.fbp"}, true, false);
  EXPECT_EQ(show({plain.string()}), expected);
  const auto indexed = dir / "i.chn";
  ok(profile({"channel", "index", plain.string(), "-o", indexed.string()}));
  EXPECT_EQ(show({indexed.string()}), expected);
  // pack --index writes the same bytes as pack, then index; both deterministic.
  const auto packed_indexed = pack("pi.chn", {"board.fdp", "one.fbp"}, true, true);
  EXPECT_EQ(read_file(packed_indexed), read_file(indexed));
  EXPECT_EQ(read_file(pack("p2.chn", {"board.fdp", "one.fbp"}, true, false)), read_file(plain));
  // A Device Profile YAML is compiled by the packer: the same bytes.
  const auto from_yaml = pack("y.chn", {"devpro/chan-board.yaml", "one.fbp"}, true, false);
  EXPECT_EQ(read_file(from_yaml), read_file(plain));
  ok(profile({"channel", "pack", (dir / "board.fdp").string(), "--artifact", image().string(), "-o",
              (dir / "d.chn").string(), "--depfile", (dir / "d.chn.d").string()}));
  EXPECT_THAT(text(read_file(dir / "d.chn.d")), HasSubstr("board.fdp"));
  EXPECT_THAT(text(read_file(dir / "d.chn.d")), HasSubstr("root.ext4"));
  // The artifact follows unchanged.
  const Bytes img = read_file(image()), all = read_file(indexed);
  ASSERT_GT(all.size(), img.size());
  EXPECT_TRUE(
      std::equal(img.begin(), img.end(), all.end() - static_cast<std::ptrdiff_t>(img.size())));
  // Refusals: re-indexing, duplicate ids, an artifact that looks like records.
  auto again =
      run(profile({"channel", "index", indexed.string(), "-o", (dir / "ii.chn").string()}));
  EXPECT_EQ(again.exit_code, 2);
  auto dup = run(profile({"channel", "pack", (dir / "one.fbp").string(), (dir / "one.fbp").string(),
                          "-o", (dir / "dup.chn").string()}));
  EXPECT_EQ(dup.exit_code, 1);
  EXPECT_THAT(dup.err, HasSubstr("boot profile 'one' appears twice"));
  auto rec = run(profile({"channel", "pack", (dir / "one.fbp").string(), "--artifact",
                          (dir / "board.fdp").string(), "-o", (dir / "rec.chn").string()}));
  EXPECT_EQ(rec.exit_code, 2);
  EXPECT_FALSE(fsys::exists(dir / "rec.chn"));
}

TEST_F(ChannelSource, OverHttpAnIndexedHeadCostsFewerRequestsAndBuildsTheSame) {
  FASTBOOP_REQUIRE_PROGRAM("lighttpd");
  // Records big enough that the sequential head spans several 64 KiB pages:
  // Boot Profiles carrying a 100 KB overlay each (compiled by dtc).
  std::vector<std::string> records = {"board.fdp", "one.fbp"};
  for (int i = 0; i < 6; ++i) {
    const std::string id = "big" + std::to_string(i);
    std::string dts = "/dts-v1/;\n/plugin/;\n&{/} { blob = [";
    for (int k = 0; k < 100000; ++k)
      dts += k % 2 ? " 5a" : " a" + std::to_string(i);
    dts += "]; };\n";
    auto dtbo =
        run_process({"dtc", "-@", "-q", "-I", "dts", "-O", "dtb", "-o", "-", "-"}, as_bytes(dts));
    ASSERT_TRUE(dtbo && dtbo->exit_code == 0);
    auto b64 = run_process({"base64", "-w0"}, dtbo->out);
    ASSERT_TRUE(b64 && b64->exit_code == 0);
    test::put(dir / (id + ".yaml"),
              "id: " + id +
                  "\nrootfs:\n  ext4:\n    file: root.ext4\ndt_overlays:\n  - dtbo_base64: " +
                  text(b64->out) + "\n");
    ok(profile({"compile", (dir / (id + ".yaml")).string(), "-o", (dir / (id + ".fbp")).string()}));
    records.push_back(id + ".fbp");
  }
  pack("seq.chn", records, true, false);
  pack("idx.chn", records, true, true);
  fastboop::test::Lighttpd server(dir.path());
  ASSERT_TRUE(server.ok()) << server.error();
  fastboop::test::FaultProxy proxy(server.port());
  auto show_requests = [&](const std::string& name) {
    const int before = proxy.requests();
    auto r = run({"env", "XDG_CACHE_HOME=" + (dir / "cache-show").string(),
                  fastboop::test::tool_path("fastboop-profile").string(), "show", proxy.url(name)});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return proxy.requests() - before;
  };
  const int seq = show_requests("seq.chn"), idx = show_requests("idx.chn");
  std::printf("requests for show: sequential %d, indexed %d\n", seq, idx);
  EXPECT_LT(idx, seq);

  // The head alone (inspect reads the rootfs too, so count the head through
  // a Device-Profile-only channel).
  pack("devs-seq.chn", records, false, false);
  pack("devs-idx.chn", records, false, true);
  const int head_seq = show_requests("devs-seq.chn"), head_idx = show_requests("devs-idx.chn");
  std::printf("requests for a head without artifact: sequential %d, indexed %d\n", head_seq,
              head_idx);
  EXPECT_LT(head_idx, head_seq);

  // Built from the URL, with the channel's Device Profile, the same stage0.
  const auto separate = dir / "separate";
  auto a = stage0({"build", image().string(), "--device-profile", "chan-board", "--stage0-init",
                   init.string(), "--root-device", "/dev/sda2", "-o", separate.string()},
                  (dir / "devpro").string());
  ASSERT_EQ(a.exit_code, 0) << a.err;
  const auto out = dir / "from-url";
  auto b = stage0({"build", proxy.url("idx.chn"), "--boot-profile", "one", "--device-profile",
                   "chan-board", "--stage0-init", init.string(), "--root-device", "/dev/sda2", "-o",
                   out.string()});
  ASSERT_EQ(b.exit_code, 0) << b.err;
  EXPECT_EQ(outputs(out), outputs(separate));
}

} // namespace
} // namespace fastboop::stage0
