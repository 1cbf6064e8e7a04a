#include "stage0/live.hpp"

#include "filesystems/open.hpp"
#include "stage0/source.hpp"

namespace fastboop::stage0 {

namespace {

class FilesystemFileSource final : public pipeline::BlockSource {
public:
  FilesystemFileSource(filesystems::FilesystemPtr fs, filesystems::NodeId node, std::uint64_t size,
                       std::string path)
      : m_fs(std::move(fs)), m_node(node), m_size(size), m_path(std::move(path)) {}
  std::uint64_t size() const override { return m_size; }
  std::string describe() const override { return std::string(m_fs->kind()) + "[" + m_path + "]"; }
  Result<void> read_at(std::uint64_t offset, std::span<std::uint8_t> out) override {
    if (offset > m_size || out.size() > m_size - offset)
      return pipeline::layer_error(describe(), offset,
                                   "read of " + std::to_string(out.size()) + " bytes past the end");
    return m_fs->read(m_node, offset, out);
  }

private:
  filesystems::FilesystemPtr m_fs;
  filesystems::NodeId m_node;
  std::uint64_t m_size;
  std::string m_path;
};

} // namespace

Result<pipeline::BlockSourcePtr> open_file_in_filesystem(filesystems::FilesystemPtr fs,
                                                         std::string_view path) {
  filesystems::NodeId node = TRY(filesystems::resolve_path(*fs, path));
  filesystems::FileStat st = TRY(fs->stat(node));
  if (st.type != filesystems::FileType::Regular)
    return Error(std::string(fs->kind()) + ": " + std::string(path) + " is not a regular file");
  return pipeline::BlockSourcePtr(
      std::make_unique<FilesystemFileSource>(std::move(fs), node, st.size, std::string(path)));
}

Result<void> open_live_parts(OpenedSource& source, const pipeline::LiveLayout& layout,
                             const pipeline::OpenOptions& options) {
  LiveRoot live;
  live.kind = layout.kind;
  live.root_path = layout.root_path;
  if (!layout.kernel_paths.empty())
    live.kernel_path = layout.kernel_paths.front();
  pipeline::BlockSourcePtr iso;
  if (layout.opened_iso)
    iso = pipeline::make_shared_view(layout.opened_iso);
  else
    iso = TRY_CTX(pipeline::open_pipeline(layout.iso, options), "live ISO");
  const auto extent = TRY_CTX(pipeline::locate_iso9660_file(*iso, layout.root_path), "live ISO");
  if (!extent)
    return Error("live ISO: no " + layout.root_path, ErrorKind::NotFound);
  live.root_offset = extent->offset;
  live.root_size = extent->size;
  source.kernel_layers = {iso->describe()};
  source.kernel_fs = TRY_CTX(
      filesystems::open_filesystem(std::move(iso), filesystems::FsKind::Iso9660), "live ISO");
  if (layout.kind == pipeline::LiveLayoutKind::FedoraLive && source.fs->kind() == "squashfs") {
    // try_resolve_path gives nullopt only for a missing last component.
    std::optional<filesystems::NodeId> nested;
    if (TRY(filesystems::try_resolve_path(*source.fs, "/LiveOS")))
      nested = TRY(filesystems::try_resolve_path(*source.fs, kNestedRootImage));
    if (nested) {
      auto image = TRY(open_file_in_filesystem(std::move(source.fs), kNestedRootImage));
      source.layers.insert(source.layers.begin(), image->describe());
      source.fs = TRY_CTX(filesystems::open_filesystem(std::move(image)),
                          "live ISO nested root image " + std::string(kNestedRootImage));
      if (source.fs->kind() != "ext4" && source.fs->kind() != "erofs")
        return Error("live ISO nested root image " + std::string(kNestedRootImage) + " is " +
                         std::string(source.fs->kind()) + ", not ext4 or erofs",
                     ErrorKind::Unsupported);
      live.nested_image = kNestedRootImage;
      live.nested_type = source.fs->kind();
    }
  }
  source.live = std::move(live);
  return ok();
}

} // namespace fastboop::stage0
