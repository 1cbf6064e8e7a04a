// Artifact pipelines (spec §3): YAML forms and binding rules, validation,
// identity strings and the PipelineSourceBin postcard layout. Internal to the
// profiles concern; the public entry points are in profiles.hpp.
#pragma once

#include "profiles/boot_profile.hpp"
#include "profiles/postcard.hpp"
#include "profiles/yaml_reader.hpp"

#include <functional>
#include <string_view>

namespace fastboop::profiles::detail {

// Stages below the outermost one (spec §3.5). Parsing, decoding and
// validation all stop here, before descending further.
constexpr unsigned max_pipeline_depth = 16;

// Stages decoded (decode_pipeline) and rendered (pipeline_to_tree) on this
// thread so far. Tests bound decoding and rendering by this work, linear in
// the stages, rather than by the clock.
struct PipelineWork {
  std::size_t decoded = 0;
  std::size_t rendered = 0;
};
PipelineWork& pipeline_work();

// Parse a stage map (a map value, or a flattened subset of one).
Result<PipelineSource> parse_pipeline(yaml::MapReader& map, unsigned depth);
Result<PipelineSource> parse_pipeline_value(const yaml::Value& value, unsigned depth);
Result<ContentDigest> parse_content(const yaml::Value& value);

// The authoring form: flattened wrappers unless the inner stage carries its
// own `content`, which would then bind to the wrapper (upstream bug B4), in
// which case the `source:` form is used.
yaml::Json pipeline_to_tree(const PipelineSource& source);
yaml::Json content_to_tree(const ContentDigest& content);

// The key path under which a stage's inner source appears in that form.
std::string inner_path(const PipelineSource& source, const std::string& path);
std::string_view stage_key(StageKind kind);

void encode_pipeline(postcard::Writer& w, const PipelineSource& source);
Result<PipelineSource> decode_pipeline(postcard::Reader& r, unsigned depth);

// Every stage, outermost first.
void for_each_stage(const PipelineSource& source, const std::function<void(const PipelineSource&)>& fn);
void for_each_stage_mut(PipelineSource& source, const std::string& path,
                        const std::function<Result<void>(PipelineSource&, const std::string&)>& fn,
                        Result<void>& status);

} // namespace fastboop::profiles::detail
