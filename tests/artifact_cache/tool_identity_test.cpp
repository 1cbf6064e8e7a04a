// A generator's identity in a cache key (tool_identity.hpp), on programs the
// real linker wrote: the build-id as readelf prints it, kept by strip (the
// key stays), changed by a rebuild from other sources (the key changes), and
// programs without an id (or a too short one) keyed by their bytes.
#include "artifact_cache/run.hpp"
#include "artifact_cache/tool_identity.hpp"
#include "test_support.hpp"

#include <filesystem>
#include <gmock/gmock.h>

namespace fastboop::artifact_cache {
namespace {

namespace fs = std::filesystem;

struct Programs {
  test::TempDir dir;
  fs::path source = dir / "gen.c";

  // Links `source` printing `text` with the linker option `build_id`.
  fs::path link(const std::string& name, const std::string& text, const std::string& build_id) {
    test::write_file(source, "#include <stdio.h>\nint main(void){puts(\"" + text + "\");}\n");
    const fs::path out = dir / name;
    const auto r = test::run({"cc", "-O1", "-o", out.string(), source.string(),
                              "-Wl,--build-id=" + build_id});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return out;
  }

  // The id as binutils' readelf reports it (the peer).
  static std::string readelf_id(const fs::path& program) {
    const auto r = test::run({"readelf", "-n", program.string()});
    const std::string out(r.out.begin(), r.out.end());
    const std::size_t at = out.find("Build ID: ");
    if (at == std::string::npos)
      return "";
    return out.substr(at + 10, out.find('\n', at) - at - 10);
  }
};

std::string key_with_tool(const fs::path& cache, const fs::path& tool) {
  const auto in = tool_input(cache.string(), tool);
  EXPECT_TRUE(in) << in.error().message();
  return in ? cache_key("stage0", "device=x", {*in}) : "";
}

TEST(ToolIdentity, ReadsTheBuildIdTheLinkerWroteAsReadelfDoes) {
  FASTBOOP_REQUIRE_PROGRAM("cc");
  FASTBOOP_REQUIRE_PROGRAM("readelf");
  Programs p;
  for (const std::string style : {"sha1", "md5", "uuid", "0x0123456789abcdef"}) {
    const fs::path prog = p.link("gen-" + style, "a", style);
    const auto data = test::read_file(prog);
    ASSERT_EQ(gnu_build_id(data), Programs::readelf_id(prog)) << style;
    ASSERT_FALSE(Programs::readelf_id(prog).empty()) << style;
  }
}

TEST(ToolIdentity, StrippingKeepsTheKeyARebuildFromOtherSourcesChangesIt) {
  FASTBOOP_REQUIRE_PROGRAM("cc");
  FASTBOOP_REQUIRE_PROGRAM("strip");
  Programs p;
  const fs::path a = p.link("a", "one", "sha1");
  const fs::path stripped = p.dir / "a-stripped";
  ASSERT_EQ(test::run({"strip", "-o", stripped.string(), a.string()}).exit_code, 0);
  ASSERT_NE(test::read_file(a), test::read_file(stripped));
  const fs::path b = p.link("b", "two", "sha1");
  const fs::path cache = p.dir / "cache";
  const auto in = tool_input(cache.string(), a);
  ASSERT_TRUE(in);
  EXPECT_EQ(in->digest, "gnu-build-id:" + Programs::readelf_id(a));
  EXPECT_EQ(key_with_tool(cache, a), key_with_tool(cache, stripped));
  EXPECT_NE(key_with_tool(cache, a), key_with_tool(cache, b));
}

TEST(ToolIdentity, AProgramWithoutAUsableIdIsKeyedByItsBytes) {
  FASTBOOP_REQUIRE_PROGRAM("cc");
  Programs p;
  const fs::path cache = p.dir / "cache";
  const fs::path none = p.link("none", "x", "none");
  const fs::path tiny = p.link("tiny", "x", "0x01020304"); // 4 bytes: too short to trust
  const fs::path script = p.dir / "script";
  test::write_file(script, "#!/bin/sh\necho hi\n");
  for (const auto& prog : {none, tiny, script}) {
    EXPECT_EQ(gnu_build_id(test::read_file(prog)), std::nullopt) << prog;
    const auto by_tool = tool_input(cache.string(), prog);
    const auto by_bytes = file_input(cache.string(), prog);
    ASSERT_TRUE(by_tool && by_bytes) << prog;
    EXPECT_EQ(by_tool->digest, by_bytes->digest) << prog;
  }
  EXPECT_FALSE(tool_input(cache.string(), p.dir / "missing"));
}

// `--key-tool` in a run: a rebuilt generator with the same id is a local hit,
// one with another id generates again.
TEST(ToolIdentity, ARunKeysItsGeneratorByBuildId) {
  FASTBOOP_REQUIRE_PROGRAM("cc");
  FASTBOOP_REQUIRE_PROGRAM("strip");
  Programs p;
  const fs::path gen = p.link("gen", "one", "sha1");
  const fs::path out = p.dir / "out.txt";
  auto run = [&](const fs::path& tool) {
    RunRequest r;
    r.cache_dir = (p.dir / "cache").string();
    r.kind = "bootimg";
    r.key_tools = {tool.string()};
    r.outputs = {out.string()};
    r.command = {"sh", "-c", "\"$0\" > \"$1\"", tool.string(), out.string()};
    Counters c;
    const auto o = run_cached(r, nullptr, c);
    EXPECT_TRUE(o) << o.error().message();
    return o ? o->served : Served::Uncached;
  };
  EXPECT_EQ(run(gen), Served::Generated);
  ASSERT_EQ(test::run({"strip", gen.string()}).exit_code, 0);
  EXPECT_EQ(run(gen), Served::LocalHit);
  EXPECT_EQ(test::read_file(out), test::bytes_of("one\n"));
  const fs::path other = p.link("gen", "two", "sha1");
  EXPECT_EQ(run(other), Served::Generated);
  EXPECT_EQ(test::read_file(out), test::bytes_of("two\n"));
}

} // namespace
} // namespace fastboop::artifact_cache
