#include "common/hash.hpp"
#include "common/fd.hpp"
#include "test_support.hpp"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

using namespace fastboop;

// Known-answer vectors (FIPS 180 "abc").
TEST(Hash, KnownAnswers) {
  EXPECT_EQ(sha1_hex(as_bytes("abc")), "a9993e364706816aba3e25717850c26c9cd0d89d");
  EXPECT_EQ(sha256_hex(as_bytes("abc")),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(sha512_hex(as_bytes("abc")),
            "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a"
            "2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f");
}

TEST(Hash, FileMatchesSha512sum) {
  FASTBOOP_REQUIRE_PROGRAM("sha512sum");
  test::TempDir tmp;
  auto data = test::random_bytes(300000, 7);
  test::write_file(tmp / "f", data);
  auto d = sha512_file(tmp / "f");
  ASSERT_TRUE(d);
  EXPECT_EQ(d->size, data.size());
  auto out = test::run({"sha512sum", (tmp / "f").string()});
  EXPECT_EQ(as_chars(out.out).substr(0, 128), d->sha512_hex);
  EXPECT_EQ(d->content_digest().rfind("sha512:", 0), 0u);
}

// hash_fd reads in kHashPiece pieces: sizes around the piece boundaries (and
// empty) hash as sha256sum does, and the descriptor's offset is left alone.
TEST(Hash, HashFdMatchesSha256sumAroundPieceBoundaries) {
  FASTBOOP_REQUIRE_PROGRAM("sha256sum");
  test::TempDir tmp;
  for (const std::size_t n : {std::size_t{0}, std::size_t{1}, kHashPiece - 1, kHashPiece,
                              kHashPiece + 1, 3 * kHashPiece, 3 * kHashPiece + 17}) {
    test::write_file(tmp / "f", test::random_bytes(n, 11));
    UniqueFd fd(::open((tmp / "f").c_str(), O_RDONLY | O_CLOEXEC));
    ASSERT_GE(fd.get(), 0);
    ASSERT_EQ(::lseek(fd.get(), 5, SEEK_SET), 5);
    Hasher h(HashAlgorithm::Sha256);
    const auto size = hash_fd(fd.get(), h);
    ASSERT_TRUE(size) << n;
    EXPECT_EQ(*size, n);
    EXPECT_EQ(::lseek(fd.get(), 0, SEEK_CUR), 5) << n;
    const auto out = test::run({"sha256sum", (tmp / "f").string()});
    EXPECT_EQ(as_chars(out.out).substr(0, 64), to_hex(h.finish())) << n;
  }
}
