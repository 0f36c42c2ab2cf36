// Webhook signatures: what one side signs the other verifies, and every way
// a request can be wrong is refused with a reason that holds no secret.
#include "core/webhook_signature.h"

#include <gtest/gtest.h>

#include <string>

namespace cadre {
namespace {

constexpr char kSecret[] = "whsec_5c4a2b1e9f";
constexpr int64_t kNow = 1795600000;

TEST(WebhookSignature, WhatIsSignedVerifies) {
  std::string header = sign_webhook(kSecret, kNow, R"({"invoice":"inv_1"})");
  EXPECT_EQ(header.rfind("t=1795600000,v1=", 0), 0u) << header;
  EXPECT_EQ(header.size(), std::string("t=1795600000,v1=").size() + 64);
  EXPECT_TRUE(verify_webhook(kSecret, header, R"({"invoice":"inv_1"})", kNow + 10).ok());
  EXPECT_EQ(sign_webhook(kSecret, kNow, "x"), sign_webhook(kSecret, kNow, "x")) << "deterministic";
}

TEST(WebhookSignature, AnotherBodySecretOrTimeDoesNot) {
  std::string header = sign_webhook(kSecret, kNow, "amount=10");
  Status altered = verify_webhook(kSecret, header, "amount=1000", kNow);
  EXPECT_TRUE(altered.is(StatusCode::kFailedPrecondition));
  EXPECT_NE(altered.message().find("does not match"), std::string::npos);
  EXPECT_FALSE(verify_webhook("another secret", header, "amount=10", kNow).ok());
  // The time is part of what is signed: a replay with a fresh time fails.
  std::string replayed = "t=" + std::to_string(kNow + 600) + header.substr(header.find(','));
  EXPECT_FALSE(verify_webhook(kSecret, replayed, "amount=10", kNow + 600).ok());
  for (const Status& s : {altered, verify_webhook("another secret", header, "amount=10", kNow)}) {
    EXPECT_EQ(s.message().find(kSecret), std::string::npos);
    EXPECT_EQ(s.message().find(header.substr(header.find("v1=") + 3)), std::string::npos);
  }
}

TEST(WebhookSignature, OldOrFutureRequestsAreRefused) {
  std::string header = sign_webhook(kSecret, kNow, "{}");
  EXPECT_TRUE(verify_webhook(kSecret, header, "{}", kNow + 300, 300).ok());
  Status old = verify_webhook(kSecret, header, "{}", kNow + 301, 300);
  EXPECT_TRUE(old.is(StatusCode::kFailedPrecondition));
  EXPECT_NE(old.message().find("301 s ago"), std::string::npos) << old.message();
  Status future = verify_webhook(kSecret, header, "{}", kNow - 400, 300);
  EXPECT_NE(future.message().find("400 s in the future"), std::string::npos) << future.message();
}

TEST(WebhookSignature, ARotatedSecretIsAcceptedWhenAnySignatureMatches) {
  std::string old_sig = sign_webhook("old secret", kNow, "{}");
  std::string new_sig = sign_webhook(kSecret, kNow, "{}");
  std::string both = old_sig + ", v1=" + new_sig.substr(new_sig.find("v1=") + 3);
  EXPECT_TRUE(verify_webhook(kSecret, both, "{}", kNow).ok());
  EXPECT_TRUE(verify_webhook("old secret", both, "{}", kNow).ok());
}

TEST(WebhookSignature, MalformedHeadersAreNamed) {
  for (const char* header : {"", "garbage", "t=abc,v1=00", "t=1795600000", "v1=" "00", "t=1795600000,v1=zz",
                             "t=1795600000,v1=0123"}) {
    Status s = verify_webhook(kSecret, header, "{}", kNow);
    EXPECT_TRUE(s.is(StatusCode::kInvalidArgument)) << header << ": " << s.to_string();
    EXPECT_NE(s.message().find("Cadre-Signature"), std::string::npos) << s.message();
  }
}

}  // namespace
}  // namespace cadre
