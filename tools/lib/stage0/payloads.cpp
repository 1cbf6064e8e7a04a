#include "stage0/payloads.hpp"

#include <algorithm>
#include <cstdlib>
#include <sys/stat.h>
#include <unistd.h>
#include <vector>

namespace fastboop::stage0 {

namespace {

struct PayloadNames {
  const char* env;
  const char* dir;
  const char* leaf_prefix;
  const char* what;
};

PayloadNames names_of(Payload kind) {
  switch (kind) {
  case Payload::SmooGadget:
    return {"FASTBOOP_SMOO_GADGET_PATH", "smoo", "smoo-gadget-", "smoo-gadget program"};
  case Payload::Stage0Init:
    break;
  }
  return {"FASTBOOP_STAGE0_PATH", "stage0", "stage0-", "stage0 PID1 binary"};
}

bool is_regular(const std::string& p) {
  struct stat st {};
  return ::stat(p.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

} // namespace

Result<std::filesystem::path> find_payload(const PayloadQuery& q) {
  const PayloadNames n = names_of(q.kind);
  if (q.explicit_path) {
    if (!is_regular(*q.explicit_path))
      return Error(q.option_name + " " + *q.explicit_path + ": no such file", ErrorKind::NotFound);
    return std::filesystem::path(*q.explicit_path);
  }
  if (const char* env = std::getenv(n.env); env && *env) {
    if (!is_regular(env))
      return Error(std::string("$") + n.env + "=" + env + ": no such file", ErrorKind::NotFound);
    return std::filesystem::path(env);
  }
  const std::string leaf = n.leaf_prefix + q.arch;
  std::vector<std::string> candidates;
  char self[4096];
  const ssize_t len = ::readlink("/proc/self/exe", self, sizeof(self) - 1);
  if (len > 0) {
    const std::filesystem::path bindir =
        std::filesystem::path(std::string(self, static_cast<std::size_t>(len))).parent_path();
    candidates.push_back((bindir / leaf).string());
    candidates.push_back((bindir / n.dir / leaf).string());
    candidates.push_back((bindir.parent_path() / "lib" / "fastboop" / n.dir / leaf).string());
  }
  const std::string build = FASTBOOP_STAGE0_BUILD_DIR;
  candidates.push_back(build + "/bin/" + leaf);
  candidates.push_back(build + "/" + n.dir + "/" + leaf);
  candidates.push_back(build + "/lib/fastboop/" + n.dir + "/" + leaf);
  candidates.push_back(std::string(FASTBOOP_STAGE0_LIBDIR) + "/fastboop/" + n.dir + "/" + leaf);
  std::string tried;
  std::vector<std::string> seen; // a tool in <build>/bin finds the build tree twice
  for (const auto& c : candidates) {
    if (std::find(seen.begin(), seen.end(), c) != seen.end())
      continue;
    seen.push_back(c);
    if (is_regular(c))
      return std::filesystem::path(c);
    tried += "\n  " + c;
  }
  return Error(std::string(n.what) + " for " + q.arch + " not found; give " + q.option_name +
               " PATH, set $" + n.env + ", or install it as ${libdir}/fastboop/" + n.dir + "/" +
               leaf + ". Searched:" + tried,
               ErrorKind::NotFound);
}

} // namespace fastboop::stage0
