// A bounded walk of an ISO 9660 image's directory records before libarchive
// reads it: libarchive allocates a directory's claimed size before it reads
// it, so a record claiming 4 GiB costs 4 GiB (found by the fuzz campaign,
// issue 24). Every directory extent must lie inside the image.
#pragma once

#include "common/result.hpp"
#include "pipeline/block_source.hpp"

namespace fastboop::filesystems {

Result<void> check_iso9660_directories(pipeline::BlockSource& image);

} // namespace fastboop::filesystems
