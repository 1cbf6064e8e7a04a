// Pipeline hints on the wire (spec §3.8): the GBXHINT0 blob and the FBPHINT0
// channel record that wraps it, over the pipeline concern's PipelineHints
// model. `fastboop-profile show` recognises records appended to a compiled
// Boot Profile; `optimize` produces them.
#pragma once

#include "common/bytes.hpp"
#include "common/result.hpp"
#include "pipeline/hints.hpp"
#include "profiles/yaml_reader.hpp"

namespace fastboop::profiles {

// Entries are sorted by identity and validated before encoding.
Result<Bytes> encode_pipeline_hints_blob(const pipeline::PipelineHints& hints);   // GBXHINT0
Result<Bytes> encode_pipeline_hints_record(const pipeline::PipelineHints& hints); // FBPHINT0
// Fully validated decode (sorted unique identities; for FBPHINT0 the metadata
// identity list must equal the payload's entries).
Result<pipeline::PipelineHints> decode_pipeline_hints_blob(ByteSpan bytes, std::size_t* consumed);
Result<pipeline::PipelineHints> decode_pipeline_hints_record(ByteSpan bytes, std::size_t* consumed);

// The metadata block of a FBPHINT0 record (after its 18-byte header): the
// identity list, strictly ascending, with nothing after it. What a channel
// reader learns of a hint record without reading its payload.
Result<std::vector<std::string>> decode_pipeline_hints_metadata(ByteSpan metadata);

yaml::Json pipeline_hints_to_tree(const pipeline::PipelineHints& hints);

} // namespace fastboop::profiles
