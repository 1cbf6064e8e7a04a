#include "stage0/source.hpp"

#include <sys/stat.h>

namespace fastboop::stage0 {

Result<OpenedSource> open_source(const std::string& spec) {
  struct stat st {};
  if (::stat(spec.c_str(), &st) != 0)
    return Error("SOURCE " + spec + ": no such file or directory", ErrorKind::Usage);
  if (S_ISDIR(st.st_mode)) {
    OpenedSource s;
    s.fs = TRY(filesystems::open_host_directory(spec));
    s.layers = {"directory"};
    s.host_root = spec;
    return s;
  }
  return Error("SOURCE " + spec + ": rootfs images are not readable by this build (no ext4/EROFS/FAT "
               "reader); unpack it into a directory",
               ErrorKind::Unsupported);
}

} // namespace fastboop::stage0
