// Pipeline identity strings (spec §3.6): raw, untrimmed values, length-prefixed.
#include "pipeline/pipeline.hpp"

namespace fastboop::pipeline {

namespace {

using profiles::PipelineSource;
using profiles::StageKind;

std::string lp(const std::string& v) { return "len:" + std::to_string(v.size()) + ":" + v; }
std::string opt_str(const std::optional<std::string>& v) {
  return v ? "some:value=" + lp(*v) + ";" : std::string("none;");
}
std::string opt_u32(const std::optional<std::uint32_t>& v) {
  return v ? "some:" + std::to_string(*v) + ";" : std::string("none;");
}
std::string inner(const PipelineSource& s) {
  // A wrapper without a source cannot be opened; its identity still renders.
  return s.source ? stage_identity(**s.source) : std::string();
}

} // namespace

std::string stage_identity(const PipelineSource& s) {
  switch (s.kind) {
  case StageKind::Http:
    return "http{url=" + lp(s.location) + ";cors_safelisted_mode=" + (s.cors_safelisted_mode ? "true" : "false") + ";}";
  case StageKind::File:
    return "file{path=" + lp(s.location) + ";}";
  case StageKind::Casync:
    return "casync{index=" + lp(s.location) + ";chunk_store=" + opt_str(s.chunk_store) + "}";
  case StageKind::Xz:
    return "xz{source=" + inner(s) + "}";
  case StageKind::Tar:
    return "tar{entry=" + lp(s.tar_entry) + ";source=" + inner(s) + "}";
  case StageKind::AndroidSparse:
    return "android_sparseimg{source=" + inner(s) + "}";
  case StageKind::Iso9660:
    return "iso9660{path=" + lp(s.iso_path) + ";source=" + inner(s) + "}";
  case StageKind::Mbr:
    return "mbr{partuuid=" + opt_str(s.partuuid) + "index=" + opt_u32(s.index) + "lba_size=" + opt_u32(s.lba_size) +
           "source=" + inner(s) + "}";
  case StageKind::Gpt:
    return "gpt{partlabel=" + opt_str(s.partlabel) + "partuuid=" + opt_str(s.partuuid) + "index=" + opt_u32(s.index) +
           "lba_size=" + opt_u32(s.lba_size) + "source=" + inner(s) + "}";
  }
  return {};
}

} // namespace fastboop::pipeline
