// build_stage0's decisions as pure functions: no dtc, no rootfs.
#include "stage0/build.hpp"

#include <gtest/gtest.h>

namespace fastboop::stage0 {
namespace {

// ## Show that build_stage0's module-compression decision follows the
// request and the kernel config, without dtc or a rootfs (issue 22).
TEST(Stage0Decisions, ModulesAreKeptCompressedOnlyWhenTheKernelCanDecompressThem) {
  const std::string_view enabled = "# comment\nCONFIG_MODULES=y\nCONFIG_MODULE_DECOMPRESS=y\n";
  EXPECT_EQ(module_storage(true, ModuleCompression::Auto, enabled), ModuleStorage::Kept);
  EXPECT_EQ(module_storage(true, ModuleCompression::Auto, std::string_view("CONFIG_MODULE_DECOMPRESS=y\n")),
            ModuleStorage::Kept);
  EXPECT_EQ(module_storage(true, ModuleCompression::Auto, std::string_view("# CONFIG_MODULE_DECOMPRESS is not set\n")),
            ModuleStorage::Decompressed);
  EXPECT_EQ(module_storage(true, ModuleCompression::Auto, std::nullopt), ModuleStorage::Decompressed);
  EXPECT_EQ(module_storage(true, ModuleCompression::Keep, std::nullopt), ModuleStorage::Kept);
  EXPECT_EQ(module_storage(true, ModuleCompression::Decompress, enabled), ModuleStorage::Decompressed);
  EXPECT_EQ(module_storage(false, ModuleCompression::Keep, enabled), ModuleStorage::NoneCompressed);
  EXPECT_EQ(module_storage_name(ModuleStorage::NoneCompressed), "none-compressed");
  EXPECT_EQ(module_storage_name(ModuleStorage::Kept), "kept");
  EXPECT_EQ(module_storage_name(ModuleStorage::Decompressed), "decompressed");
}

TEST(Stage0Decisions, AKernelConfigOptionCountsOnlyOnALineOfItsOwn) {
  EXPECT_TRUE(kernel_config_enables("CONFIG_A=y\n", "CONFIG_A"));
  EXPECT_TRUE(kernel_config_enables("X=1\nCONFIG_A=y", "CONFIG_A"));
  EXPECT_FALSE(kernel_config_enables("XCONFIG_A=y\n", "CONFIG_A"));
  EXPECT_FALSE(kernel_config_enables("CONFIG_A=m\n", "CONFIG_A"));
  EXPECT_FALSE(kernel_config_enables("", "CONFIG_A"));
}

} // namespace
} // namespace fastboop::stage0
