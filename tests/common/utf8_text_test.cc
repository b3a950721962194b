#include "common/utf8_text.h"

#include <string>

#include "ccbatch/v1/job.pb.h"
#include "gtest/gtest.h"

namespace ccbatch::common {
namespace {

// The property the functions exist for: a string field holding `text`
// survives serialization and parsing.
bool SurvivesWire(const std::string& text) {
  v1::QueueEntry entry;
  entry.set_name(text);
  v1::QueueEntry parsed;
  return parsed.ParseFromString(entry.SerializeAsString()) &&
         parsed.name() == text;
}

TEST(Utf8TextTest, ValidTextIsValid) {
  const std::string texts[] = {"",
                               "ascii only",
                               "caf\xc3\xa9",
                               "\xe2\x82\xac 5",
                               "\xf0\x9f\xa7\xaa",
                               std::string("nul\0inside", 10)};
  for (const std::string& text : texts) {
    EXPECT_TRUE(IsValidUtf8(text)) << text;
    EXPECT_EQ(ToValidUtf8(text), text);
    EXPECT_TRUE(SurvivesWire(text));
  }
}

TEST(Utf8TextTest, InvalidBytesBecomeQuestionMarksOfTheSameLength) {
  struct Case {
    std::string text;
    std::string valid;
  };
  const Case cases[] = {
      {"caf\xe9", "caf?"},           // Latin-1
      {"\xc3", "?"},                 // sequence cut short
      {"a\xe2\x82", "a??"},          // sequence cut short
      {"\xc0\xaf", "??"},            // overlong '/'
      {"\xed\xa0\x80", "???"},       // surrogate
      {"\xf4\x90\x80\x80", "????"},  // above U+10FFFF
      {"\xff\xfe ok \xc3\xa9", "?? ok \xc3\xa9"},
  };
  for (const Case& c : cases) {
    EXPECT_FALSE(IsValidUtf8(c.text)) << c.text;
    EXPECT_FALSE(SurvivesWire(c.text)) << c.text;
    const std::string valid = ToValidUtf8(c.text);
    EXPECT_EQ(valid, c.valid);
    EXPECT_TRUE(SurvivesWire(valid));
    std::string in_place = c.text;
    EXPECT_TRUE(MakeValidUtf8(&in_place));
    EXPECT_EQ(in_place, c.valid);
  }
}

// Long ASCII runs are checked a word at a time: a stray byte anywhere, in a
// word or in the tail, must still be found.
TEST(Utf8TextTest, FindsAStrayByteAtEveryPosition) {
  for (size_t length = 1; length <= 24; ++length) {
    for (size_t at = 0; at < length; ++at) {
      std::string text(length, 'a');
      text[at] = '\xe9';
      EXPECT_FALSE(IsValidUtf8(text)) << length << " " << at;
      std::string expected(length, 'a');
      expected[at] = '?';
      EXPECT_EQ(ToValidUtf8(text), expected);
    }
  }
}

TEST(Utf8TextTest, MakeValidUtf8LeavesValidTextAlone) {
  std::string text = "caf\xc3\xa9";
  EXPECT_FALSE(MakeValidUtf8(&text));
  EXPECT_EQ(text, "caf\xc3\xa9");
}

TEST(Utf8TextTest, Utf8PrefixCutsBetweenCharacters) {
  const std::string text = "ab\xc3\xa9\xe2\x82\xac";  // a b é €
  EXPECT_EQ(Utf8Prefix(text, 100), text);
  EXPECT_EQ(Utf8Prefix(text, 7), text);
  EXPECT_EQ(Utf8Prefix(text, 6), "ab\xc3\xa9");
  EXPECT_EQ(Utf8Prefix(text, 5), "ab\xc3\xa9");
  EXPECT_EQ(Utf8Prefix(text, 4), "ab\xc3\xa9");
  EXPECT_EQ(Utf8Prefix(text, 3), "ab");
  EXPECT_EQ(Utf8Prefix(text, 2), "ab");
  EXPECT_EQ(Utf8Prefix(text, 0), "");
  for (size_t n = 0; n <= text.size(); ++n) {
    EXPECT_TRUE(IsValidUtf8(Utf8Prefix(text, n))) << n;
  }
}

TEST(Utf8TextTest, Utf8PrefixOfInvalidTextIsAPlainCut) {
  // Only continuation bytes: no character start to step back to.
  const std::string text = "\x80\x80\x80\x80\x80";
  EXPECT_EQ(Utf8Prefix(text, 4).size(), 1u);
  EXPECT_EQ(Utf8Prefix("abc\xff", 3), "abc");
}

}  // namespace
}  // namespace ccbatch::common
