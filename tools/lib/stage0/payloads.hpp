// Where the device-side programs a stage0 carries are found on the host: the
// PID1 (stage0-<arch>) and the smoo gadget (smoo-gadget-<arch>). One lookup
// order for both and for every tool:
//   1. the option (--stage0 / --stage0-init, --smoo-gadget),
//   2. the environment ($FASTBOOP_STAGE0_PATH, $FASTBOOP_SMOO_GADGET_PATH),
//   3. next to the running tool: <bindir>/<leaf>, <bindir>/<dir>/<leaf>,
//      <bindir>/../lib/fastboop/<dir>/<leaf> (a build tree's bin/, an
//      installed prefix),
//   4. the build tree this library was configured in (<build>/bin,
//      <build>/<dir>, <build>/lib/fastboop/<dir>),
//   5. the install prefix: ${libdir}/fastboop/<dir>/<leaf>.
// <dir> is "stage0" or "smoo". A miss is an error listing every place tried
// and what to do.
#pragma once

#include "common/result.hpp"

#include <filesystem>
#include <optional>
#include <string>

namespace fastboop::stage0 {

enum class Payload { Stage0Init, SmooGadget };

struct PayloadQuery {
  Payload kind = Payload::Stage0Init;
  std::optional<std::string> explicit_path;
  std::string arch;        // "aarch64"
  std::string option_name; // how the caller's tool spells the option, for the error
};

Result<std::filesystem::path> find_payload(const PayloadQuery& query);

} // namespace fastboop::stage0
