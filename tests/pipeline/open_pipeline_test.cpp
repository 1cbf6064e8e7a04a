// open_pipeline: stacking from a profile pipeline, content digests verified,
// --local-artifact substitution, hints (collected and consumed), depth limit,
// identity strings; auto-detection of bare paths.
#include "common/hash.hpp"
#include "pipeline/pipeline.hpp"
#include "pipeline_test_util.hpp"

#include <cstdlib>

namespace fastboop::test {
namespace {

namespace fs = std::filesystem;
using namespace pipeline;
using profiles::ContentDigest;
using profiles::PipelineSource;
using profiles::StageKind;

ContentDigest digest_of(const Bytes& b) { return {"sha512:" + sha512_hex(b), b.size()}; }

PipelineSource file_stage(const fs::path& p, const Bytes& data) {
  PipelineSource s;
  s.kind = StageKind::File;
  s.location = p.string();
  s.content = digest_of(data);
  return s;
}
PipelineSource wrap(StageKind k, PipelineSource inner) {
  PipelineSource s;
  s.kind = k;
  s.source = Box<PipelineSource>(std::move(inner));
  return s;
}

// gpt[partlabel=root] <- android_sparseimg <- xz <- file, built with the real tools.
struct Layered {
  std::filesystem::path dir;
  Bytes root, disk, simg, xz;
  bool ready = false;
  std::string error;
  Layered() {
    for (const char* p : {"sgdisk", "img2simg", "xz"})
      if (!have_program(p))
        return;
    dir = cached_fixture("pipeline-layered-v1", [](const fs::path& at, std::string& err) {
      write_file(at / "root.bin", nibble_bytes(2u << 20, 31));
      auto out = sh("set -e; cd '" + at.string() + "'\n"
                    "truncate -s 4M disk.img\n"
                    "sgdisk -o -n1:2048:+2M -c1:root disk.img >/dev/null 2>&1\n"
                    "dd if=root.bin of=disk.img bs=512 seek=2048 conv=notrunc status=none\n"
                    "img2simg disk.img disk.simg\n"
                    "xz -0 -T2 --block-size=128KiB -k disk.simg\n");
      err = out.err;
      return out.exit_code == 0;
    }, error);
    if (dir.empty())
      return;
    root = read_file(dir / "root.bin");
    disk = read_file(dir / "disk.img");
    simg = read_file(dir / "disk.simg");
    xz = read_file(dir / "disk.simg.xz");
    ready = true;
  }
  PipelineSource pipeline() const {
    PipelineSource gpt = wrap(StageKind::Gpt, wrap(StageKind::AndroidSparse, wrap(StageKind::Xz, file_stage(dir / "disk.simg.xz", xz))));
    gpt.partlabel = "root";
    return gpt;
  }
};

#define NEED_LAYERED(f)                                                                            \
  FASTBOOP_REQUIRE_PROGRAM("sgdisk");                                                              \
  FASTBOOP_REQUIRE_PROGRAM("img2simg");                                                            \
  FASTBOOP_REQUIRE_PROGRAM("xz");                                                                  \
  Layered f;                                                                                       \
  ASSERT_TRUE(f.ready) << f.error

OpenOptions opts(const TempDir& cache) {
  OpenOptions o;
  o.cache_dir = cache.path();
  o.network = NetworkMode::Offline; // nothing here may touch the network
  return o;
}

TEST(OpenPipeline, StackedStagesMatchTheExpandedReference) {
  NEED_LAYERED(f);
  TempDir cache;
  auto src = open_pipeline(f.pipeline(), opts(cache));
  ASSERT_TRUE(src.ok()) << src.error().message();
  EXPECT_EQ((*src)->describe().rfind("gpt[partlabel=root] <- android_sparseimg <- xz <- file(", 0), 0u) << (*src)->describe();
  expect_random_reads_match(**src, f.root, 41, 60);
}

TEST(OpenPipeline, ContentDigestsAreVerified) {
  NEED_LAYERED(f);
  TempDir cache;
  // Right digests on every stage: a full read passes.
  PipelineSource good = f.pipeline();
  good.content = digest_of(f.root);
  (*good.source)->content = digest_of(f.disk);
  (**(*good.source)->source).content = digest_of(f.simg);
  auto ok_src = open_pipeline(good, opts(cache));
  ASSERT_TRUE(ok_src.ok()) << ok_src.error().message();
  Bytes all = read_all(**ok_src);
  EXPECT_EQ(all, f.root);

  // A wrong digest on the xz stage: partial reads work, the full read fails
  // naming the stage, the expected and the actual digest.
  PipelineSource bad = f.pipeline();
  ContentDigest wrong{"sha512:" + std::string(128, '0'), f.simg.size()};
  (**(*bad.source)->source).content = wrong;
  auto bad_src = open_pipeline(bad, opts(cache));
  ASSERT_TRUE(bad_src.ok()) << bad_src.error().message();
  PipelineSource xz_only = **(*bad.source)->source;
  auto xz_src = open_pipeline(xz_only, opts(cache));
  ASSERT_TRUE(xz_src.ok());
  Bytes part(1000);
  expect_ok((*xz_src)->read_at(0, part));
  Bytes whole(f.simg.size());
  auto r = (*xz_src)->read_at(0, whole);
  ASSERT_FALSE(r.ok());
  const std::string& m = r.error().message();
  EXPECT_NE(m.find("content digest mismatch for stage xz{source=file{"), std::string::npos) << m;
  EXPECT_NE(m.find("expected " + wrong.digest), std::string::npos) << m;
  EXPECT_NE(m.find("actual " + digest_of(f.simg).digest), std::string::npos) << m;
  EXPECT_FALSE((*xz_src)->read_at(0, part).ok()) << "a failed verification sticks";

  // A wrong size is caught at open.
  PipelineSource bad_size = f.pipeline();
  bad_size.content = ContentDigest{digest_of(f.root).digest, f.root.size() + 1};
  auto s = open_pipeline(bad_size, opts(cache));
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.error().message().find("content size mismatch"), std::string::npos) << s.error().message();

  // Eager mode hashes a local file leaf at open.
  PipelineSource leaf = file_stage(f.dir / "disk.simg.xz", f.xz);
  leaf.content->digest = wrong.digest;
  leaf.content->size_bytes = f.xz.size();
  OpenOptions eager = opts(cache);
  eager.content_check = ContentCheck::EagerLocalFiles;
  auto e = open_pipeline(leaf, eager);
  ASSERT_FALSE(e.ok());
  EXPECT_NE(e.error().message().find("content digest mismatch"), std::string::npos) << e.error().message();
}

TEST(OpenPipeline, LocalArtifactReplacesTheStageAndEverythingBelow) {
  NEED_LAYERED(f);
  TempDir cache;
  // The leaf is an unreachable http URL; the xz stage's content is the simg.
  PipelineSource http;
  http.kind = StageKind::Http;
  http.location = "http://127.0.0.1:1/never.img.xz";
  http.content = digest_of(f.xz);
  PipelineSource xz = wrap(StageKind::Xz, http);
  xz.content = digest_of(f.simg);
  PipelineSource gpt = wrap(StageKind::Gpt, wrap(StageKind::AndroidSparse, xz));
  gpt.index = 0;
  OpenOptions o = opts(cache);
  auto none = open_pipeline(gpt, o);
  ASSERT_FALSE(none.ok()) << "offline and no local artifact: must fail";
  EXPECT_NE(none.error().message().find("offline"), std::string::npos) << none.error().message();
  TempDir t;
  fs::copy_file(f.dir / "disk.simg", t / "local.simg");
  write_file(t / "unrelated", std::string_view("x"));
  auto index = LocalArtifactIndex::build({t / "unrelated", t / "local.simg"});
  ASSERT_TRUE(index.ok()) << index.error().message();
  o.local_artifacts = *index;
  auto src = open_pipeline(gpt, o);
  ASSERT_TRUE(src.ok()) << src.error().message();
  EXPECT_NE((*src)->describe().find("local-artifact("), std::string::npos) << (*src)->describe();
  expect_random_reads_match(**src, f.root, 42, 30);
  // Two different files with the same content are ambiguous.
  auto dup = LocalArtifactIndex::build({f.dir / "disk.simg", t / "local.simg"});
  ASSERT_FALSE(dup.ok());
  EXPECT_NE(dup.error().message().find("same content"), std::string::npos);
}

TEST(OpenPipeline, DepthLimitAndMissingInnerSource) {
  TempDir t;
  Bytes data(as_bytes("data").begin(), as_bytes("data").end());
  write_file(t / "f", data);
  auto nest = [&](int wrappers) {
    PipelineSource s = file_stage(t / "f", data);
    for (int i = 0; i < wrappers; ++i)
      s = wrap(StageKind::Xz, s);
    return s;
  };
  auto sixteen = open_pipeline(nest(16), opts(t));
  ASSERT_FALSE(sixteen.ok()); // the file is not xz, but the depth is allowed
  EXPECT_EQ(sixteen.error().message().find("max depth"), std::string::npos) << sixteen.error().message();
  EXPECT_EQ(sixteen.error().message().rfind("xz: offset 0x0", 0), 0u) << sixteen.error().message();
  auto seventeen = open_pipeline(nest(17), opts(t));
  ASSERT_FALSE(seventeen.ok());
  EXPECT_NE(seventeen.error().message().find("pipeline exceeds max depth 16"), std::string::npos);
  PipelineSource lonely;
  lonely.kind = StageKind::AndroidSparse;
  auto r = open_pipeline(lonely, opts(t));
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message().find("has no inner source"), std::string::npos);
}

TEST(Identity, MatchesTheSpecExamples) {
  PipelineSource http;
  http.kind = StageKind::Http;
  http.location = "https://a/b.xz";
  EXPECT_EQ(stage_identity(wrap(StageKind::Xz, http)), "xz{source=http{url=len:14:https://a/b.xz;cors_safelisted_mode=false;}}");
  PipelineSource file;
  file.kind = StageKind::File;
  file.location = "./x";
  PipelineSource gpt = wrap(StageKind::Gpt, file);
  gpt.partlabel = "root";
  gpt.index = 0;
  EXPECT_EQ(stage_identity(gpt),
            "gpt{partlabel=some:value=len:4:root;partuuid=none;index=some:0;lba_size=none;source=file{path=len:3:./x;}}");
  PipelineSource sparse = wrap(StageKind::AndroidSparse, file);
  (*sparse.source)->location = "s";
  EXPECT_EQ(stage_identity(sparse), "android_sparseimg{source=file{path=len:1:s;}}");
}

TEST(Hints, CollectedHintsMatchUpstreamShapeAndAreConsumed) {
  NEED_LAYERED(f);
  TempDir cache;
  PipelineSource p = f.pipeline();
  auto hints = collect_pipeline_hints(p, CollectOptions{.cache_dir = cache.path()});
  ASSERT_TRUE(hints.ok()) << hints.error().message();
  ASSERT_TRUE(validate_pipeline_hints(*hints).ok());
  // xz, android_sparseimg and gpt carry no declared content: 3 entries; the
  // file leaf gets none.
  ASSERT_EQ(hints->entries.size(), 3u);
  const PipelineSource& sparse_stage = **p.source;
  const PipelineSource& xz_stage = **sparse_stage.source;
  const SparseIndex* idx = hints->sparse_index(stage_identity(sparse_stage));
  ASSERT_NE(idx, nullptr);
  EXPECT_EQ(std::uint64_t{idx->total_blks} * idx->blk_sz, f.disk.size());
  auto scanned = scan_sparse_index(*make_memory_source(f.simg));
  ASSERT_TRUE(scanned.ok());
  EXPECT_EQ(*idx, *scanned);
  EXPECT_EQ(*hints->content_digest(stage_identity(sparse_stage)), (ContentDigestHint{digest_of(f.disk).digest, f.disk.size()}));
  EXPECT_EQ(*hints->content_digest(stage_identity(xz_stage)), (ContentDigestHint{digest_of(f.simg).digest, f.simg.size()}));
  EXPECT_EQ(*hints->content_digest(stage_identity(p)), (ContentDigestHint{digest_of(f.root).digest, f.root.size()}));
  EXPECT_EQ(hints->find(stage_identity(xz_stage))->hints.size(), 1u);
  // The materialized copies exist, named by digest.
  EXPECT_TRUE(fs::exists(cache / ("materialized/" + sha512_hex(f.simg))));

  // Consumed: a hint sparse index is used instead of scanning. Prove it by
  // tampering with the FILL pattern of the hint: the bytes read change.
  PipelineHints tampered = *hints;
  bool changed = false;
  for (auto& e : tampered.entries)
    for (auto& h : e.hints)
      if (auto* si = std::get_if<SparseIndex>(&h))
        for (auto& c : si->chunks)
          if (c.fill_pattern && !changed) {
            c.fill_pattern = std::array<std::uint8_t, 4>{1, 2, 3, 4};
            changed = true;
          }
  ASSERT_TRUE(changed) << "the fixture must contain a FILL chunk";
  OpenOptions o = opts(cache);
  o.hints = &tampered;
  PipelineSource sparse_only = sparse_stage;
  auto src = open_pipeline(sparse_only, o);
  ASSERT_TRUE(src.ok()) << src.error().message();
  Bytes all(static_cast<std::size_t>((*src)->size()));
  auto r = (*src)->read_at(0, all);
  // The ContentDigest hint of that stage now also applies: a full read through
  // the tampered index fails verification.
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message().find("content digest mismatch"), std::string::npos) << r.error().message();

  // ContentDigest hints key local artifacts for stages without declared content.
  TempDir t;
  fs::copy_file(f.dir / "disk.img", t / "local.img");
  auto index = LocalArtifactIndex::build({t / "local.img"});
  ASSERT_TRUE(index.ok());
  OpenOptions lo = opts(cache);
  lo.hints = &*hints;
  lo.local_artifacts = *index;
  auto local = open_pipeline(p, lo);
  ASSERT_TRUE(local.ok()) << local.error().message();
  EXPECT_NE((*local)->describe().find("local-artifact(" + fs::canonical(t / "local.img").string()), std::string::npos)
      << (*local)->describe();
  expect_random_reads_match(**local, f.root, 43, 20);

  // Merging is idempotent; conflicting hints of one kind are rejected.
  auto merged = merge_pipeline_hints({*hints, *hints});
  ASSERT_TRUE(merged.ok());
  EXPECT_EQ(*merged, *hints);
  auto conflict = merge_pipeline_hints({*hints, tampered});
  EXPECT_FALSE(conflict.ok());
}

TEST(Hints, TarEntryIndexHint) {
  FASTBOOP_REQUIRE_PROGRAM("tar");
  TempDir t;
  Bytes payload = random_bytes(5000, 3);
  fs::create_directories(t / "src");
  write_file(t / "src/rootfs.img", payload);
  must_sh("cd '" + (t / "src").string() + "' && tar -cf ../a.tar rootfs.img");
  PipelineSource tar = wrap(StageKind::Tar, file_stage(t / "a.tar", read_file(t / "a.tar")));
  tar.tar_entry = "./rootfs.img";
  auto hints = collect_pipeline_hints(tar, CollectOptions{.cache_dir = t / "cache"});
  ASSERT_TRUE(hints.ok()) << hints.error().message();
  const TarIndex* ti = hints->tar_index(stage_identity(tar));
  ASSERT_NE(ti, nullptr);
  EXPECT_EQ(ti->entry_name, "rootfs.img");
  EXPECT_EQ(ti->header_offset, 0u);
  EXPECT_EQ(ti->data_offset, 512u);
  EXPECT_EQ(ti->size_bytes, payload.size());
  EXPECT_EQ(ti->entry_type, '0');
  EXPECT_EQ(*hints->content_digest(stage_identity(tar)), (ContentDigestHint{digest_of(payload).digest, payload.size()}));
}

TEST(Detect, PeelsXzSparseGptAndNamesTheFilesystem) {
  NEED_LAYERED(f);
  FASTBOOP_REQUIRE_PROGRAM("mke2fs");
  FASTBOOP_REQUIRE_PROGRAM("mkfs.fat");
  TempDir t;
  fs::create_directories(t / "tree/etc");
  write_file(t / "tree/etc/os-release", std::string_view("ID=test\n"));
  must_sh("set -e; cd '" + t.path().string() + "'\n"
          "mke2fs -q -t ext4 -d tree root.ext4 8M\n"
          "mkfs.fat -C boot.fat 2048 >/dev/null\n"
          "truncate -s 16M disk.img\n"
          "sgdisk -o -n1:2048:+2M -c1:boot -t1:ef00 -n2:0:+8M -c2:rootfs disk.img >/dev/null 2>&1\n"
          "dd if=boot.fat of=disk.img bs=512 seek=2048 conv=notrunc status=none\n"
          "dd if=root.ext4 of=disk.img bs=512 seek=6144 conv=notrunc status=none\n"
          "img2simg disk.img disk.simg && xz -0 -T2 -k disk.simg\n"
          "truncate -s 12M mbr.img\n"
          "printf 'label: dos\\n2048,4096,c\\n6144,,83\\n' | sfdisk -q mbr.img\n"
          "dd if=root.ext4 of=mbr.img bs=512 seek=6144 conv=notrunc status=none\n");
  TempDir cache;
  DetectOptions o;
  o.open = opts(cache);
  auto d = detect_pipeline((t / "disk.simg.xz").string(), o);
  ASSERT_TRUE(d.ok()) << d.error().message();
  ASSERT_EQ(d->layers.size(), 4u);
  EXPECT_EQ(d->layers[0], "gpt[index=1,partlabel=rootfs]");
  EXPECT_EQ(d->layers[1], "android_sparseimg");
  EXPECT_EQ(d->layers[2], "xz");
  EXPECT_EQ(d->layers[3], "file(" + (t / "disk.simg.xz").string() + ")");
  ASSERT_TRUE(d->filesystem.has_value());
  EXPECT_EQ(filesystem_type_name(*d->filesystem), "ext4");
  EXPECT_EQ(d->pipeline.kind, StageKind::Gpt);
  EXPECT_EQ(d->pipeline.index, 1u);
  Bytes ext4 = read_file(t / "root.ext4");
  Bytes head(4096);
  expect_ok(d->source->read_at(0, head));
  EXPECT_TRUE(std::equal(head.begin(), head.end(), ext4.begin()));
  // The detected chain reopens through open_pipeline to the same bytes.
  auto again = open_pipeline(d->pipeline, o.open);
  ASSERT_TRUE(again.ok()) << again.error().message();
  EXPECT_EQ(stage_identity(d->pipeline).substr(0, 4), "gpt{");

  DetectOptions boot = o;
  boot.partlabel = "boot";
  auto b = detect_pipeline((t / "disk.simg.xz").string(), boot);
  ASSERT_TRUE(b.ok()) << b.error().message();
  EXPECT_EQ(filesystem_type_name(*b->filesystem), "fat");

  auto m = detect_pipeline((t / "mbr.img").string(), o);
  ASSERT_TRUE(m.ok()) << m.error().message();
  EXPECT_EQ(m->layers[0], "mbr[index=1]");
  EXPECT_EQ(filesystem_type_name(*m->filesystem), "ext4");

  auto bare = detect_pipeline((t / "boot.fat").string(), o);
  ASSERT_TRUE(bare.ok());
  EXPECT_EQ(bare->layers.size(), 1u);
  EXPECT_EQ(filesystem_type_name(*bare->filesystem), "fat");

  if (have_program("mkfs.erofs")) {
    must_sh("mkfs.erofs --quiet '" + (t / "x.erofs").string() + "' '" + (t / "tree").string() + "'");
    auto e = detect_pipeline((t / "x.erofs").string(), o);
    ASSERT_TRUE(e.ok()) << e.error().message();
    EXPECT_EQ(filesystem_type_name(*e->filesystem), "erofs");
  }
  if (have_program("xorriso")) {
    must_sh("xorriso -as mkisofs -quiet -o '" + (t / "x.iso").string() + "' '" + (t / "tree").string() + "' 2>/dev/null");
    auto i = detect_pipeline((t / "x.iso").string(), o);
    ASSERT_TRUE(i.ok()) << i.error().message();
    EXPECT_EQ(filesystem_type_name(*i->filesystem), "iso9660");
  }
  auto unknown = detect_pipeline((t / "tree/etc/os-release").string(), o);
  ASSERT_TRUE(unknown.ok());
  EXPECT_FALSE(unknown->filesystem.has_value());
}

} // namespace
} // namespace fastboop::test
