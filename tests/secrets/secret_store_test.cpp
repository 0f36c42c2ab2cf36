// The secret store and the redactor, as a specification:
//   - a value set is the value got back, and the file on disk never holds it;
//   - the key file is made private (0600) on the first set, and refused when
//     others may read it or its size is wrong;
//   - CADRE_SECRET_KEY (hex or base64) replaces the file; a bad value is an
//     error naming the variable, never repeating it;
//   - a wrong key, an altered ciphertext and entries swapped between names
//     all fail, each with its own clear message;
//   - names are checked; rm and ls need no key;
//   - ${env:NAME} and ${secret:NAME} resolve, and errors name the field and
//     secret, never a value;
//   - the redactor replaces every occurrence, prefers the longer value, finds
//     values inside JSON, and is safe from many threads.
#include "secrets/secret_store.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "core/config_loader.h"
#include "core/diagnostics.h"
#include "core/json.h"
#include "core/redact.h"
#include "core/references.h"
#include "secrets/secret_key.h"
#include "secrets/secret_resolver.h"
#include "test_support.h"

namespace cadre {
namespace {

namespace fs = std::filesystem;
using testing::contains;
using testing::read_file;
using testing::TempDir;
using testing::write_file;

constexpr char kValue[] = "sk-test-9f8e7d6c5b4a39281706";
// 32 bytes, as hex and as base64 (of the same bytes).
constexpr char kHexKey[] = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";
constexpr char kBase64Key[] = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";


mode_t mode_of(const fs::path& path) {
  struct stat info {};
  ::stat(path.c_str(), &info);
  return info.st_mode & 0777;
}

// Each test starts with no key in the environment and no registered values.
class SecretStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ::unsetenv(kSecretKeyEnv);
    clear_secret_values_for_testing();
  }
  void TearDown() override {
    ::unsetenv(kSecretKeyEnv);
    clear_secret_values_for_testing();
  }
  fs::path state() const { return dir_.path() / ".cadre"; }
  Json document() const { return Json::parse(read_file(state() / kSecretsFile)); }
  void write_document(const Json& doc) { write_file(state() / kSecretsFile, doc.dump(2)); }

  TempDir dir_;
};

TEST_F(SecretStoreTest, AValueSetIsTheValueGotBackAndTheFilesNeverHoldIt) {
  SecretStore store(state());
  ASSERT_TRUE(store.set("OPENAI_API_KEY", kValue, 1000).ok());
  ASSERT_TRUE(store.set("other.token-2", "second value", 2000).ok());
  EXPECT_EQ(store.get("OPENAI_API_KEY").value_or("?"), kValue);
  EXPECT_EQ(store.get("other.token-2").value_or("?"), "second value");

  for (const auto& entry : fs::directory_iterator(state())) {
    std::string bytes = read_file(entry.path());
    EXPECT_FALSE(contains(bytes, kValue)) << entry.path();
    EXPECT_FALSE(contains(bytes, "second value")) << entry.path();
  }
  // Replacing keeps one entry, with the new value and time.
  ASSERT_TRUE(store.set("OPENAI_API_KEY", "sk-rotated-value", 3000).ok());
  EXPECT_EQ(store.get("OPENAI_API_KEY").value_or("?"), "sk-rotated-value");
  auto list = store.list();
  ASSERT_TRUE(list.ok());
  ASSERT_EQ(list->size(), 2u);
  EXPECT_EQ((*list)[0].name, "OPENAI_API_KEY");
  EXPECT_EQ((*list)[0].updated_at, 3000);
  EXPECT_EQ((*list)[1].name, "other.token-2");
  EXPECT_EQ(mode_of(state() / kSecretsFile), 0600u);
}

TEST_F(SecretStoreTest, TheKeyFileIsMadePrivateOnTheFirstSetAndOnlyThen) {
  SecretStore store(state());
  EXPECT_FALSE(fs::exists(state() / kSecretKeyFile));
  auto missing = store.get("NOPE");
  EXPECT_TRUE(missing.status().is(StatusCode::kNotFound)) << missing.status().to_string();
  EXPECT_TRUE(contains(missing.status().message(), "NOPE"));
  EXPECT_FALSE(fs::exists(state() / kSecretKeyFile)) << "reading must not make a key";

  ASSERT_TRUE(store.set("A", kValue, 1).ok());
  ASSERT_TRUE(fs::exists(state() / kSecretKeyFile));
  EXPECT_EQ(mode_of(state() / kSecretKeyFile), 0600u);
  EXPECT_EQ(fs::file_size(state() / kSecretKeyFile), kSecretKeyBytes);
}

TEST_F(SecretStoreTest, AKeyFileOthersMayReadIsRefusedNamingTheFileAndTheFix) {
  SecretStore store(state());
  ASSERT_TRUE(store.set("A", kValue, 1).ok());
  const fs::path key = state() / kSecretKeyFile;
  ::chmod(key.c_str(), 0644);
  auto got = store.get("A");
  ASSERT_FALSE(got.ok());
  EXPECT_TRUE(got.status().is(StatusCode::kFailedPrecondition)) << got.status().to_string();
  EXPECT_TRUE(contains(got.status().message(), key.string())) << got.status().message();
  EXPECT_TRUE(contains(got.status().message(), "0644")) << got.status().message();
  EXPECT_TRUE(contains(got.status().message(), "chmod 600")) << got.status().message();
  EXPECT_FALSE(store.set("B", "another value", 2).ok()) << "set refuses it too";

  ::chmod(key.c_str(), 0640);
  EXPECT_FALSE(store.get("A").ok()) << "group-readable is refused as well";
  ::chmod(key.c_str(), 0600);
  EXPECT_EQ(store.get("A").value_or("?"), kValue);
}

TEST_F(SecretStoreTest, AKeyFileOfTheWrongSizeIsRefused) {
  SecretStore store(state());
  ASSERT_TRUE(store.set("A", kValue, 1).ok());
  const fs::path key = state() / kSecretKeyFile;
  std::string bytes = read_file(key);
  write_file(key, bytes + "x");
  ::chmod(key.c_str(), 0600);
  auto got = store.get("A");
  ASSERT_FALSE(got.ok());
  EXPECT_TRUE(contains(got.status().message(), "33 bytes")) << got.status().message();
  EXPECT_TRUE(contains(got.status().message(), key.string())) << got.status().message();
}

TEST_F(SecretStoreTest, AWrongKeyFailsClearlyAndNeverMixesTwoKeysInOneFile) {
  SecretStore store(state());
  ASSERT_TRUE(store.set("A", kValue, 1).ok());
  ::setenv(kSecretKeyEnv, kHexKey, 1);  // another key than the file's
  auto got = store.get("A");
  ASSERT_FALSE(got.ok());
  EXPECT_TRUE(got.status().is(StatusCode::kFailedPrecondition)) << got.status().to_string();
  EXPECT_TRUE(contains(got.status().message(), "wrong secret key")) << got.status().message();
  EXPECT_TRUE(contains(got.status().message(), kSecretKeyEnv)) << got.status().message();
  EXPECT_FALSE(contains(got.status().message(), kHexKey));
  // Setting under the wrong key is refused: the file would hold two keys' entries.
  EXPECT_FALSE(store.set("B", "another value", 2).ok());
  ::unsetenv(kSecretKeyEnv);
  EXPECT_EQ(store.get("A").value_or("?"), kValue);
  EXPECT_FALSE(store.get("B").ok());
}

TEST_F(SecretStoreTest, AnEntrySealedBeforeButWithNoKeyAnywhereSaysWhereTheKeyGoes) {
  SecretStore store(state());
  ASSERT_TRUE(store.set("A", kValue, 1).ok());
  fs::remove(state() / kSecretKeyFile);
  auto got = store.get("A");
  ASSERT_FALSE(got.ok());
  EXPECT_TRUE(contains(got.status().message(), "no secret key")) << got.status().message();
  EXPECT_TRUE(contains(got.status().message(), kSecretKeyEnv)) << got.status().message();
  // A set must not quietly make a new key: the old entries would never open again.
  EXPECT_FALSE(store.set("B", "another value", 2).ok());
  EXPECT_FALSE(fs::exists(state() / kSecretKeyFile));
}

TEST_F(SecretStoreTest, AnAlteredCiphertextDoesNotOpen) {
  SecretStore store(state());
  ASSERT_TRUE(store.set("A", kValue, 1).ok());
  Json doc = document();
  std::string sealed = doc["secrets"]["A"]["ciphertext"];
  sealed[4] = sealed[4] == 'A' ? 'B' : 'A';  // one base64 digit: a few bits of the box
  doc["secrets"]["A"]["ciphertext"] = sealed;
  write_document(doc);
  auto got = store.get("A");
  ASSERT_FALSE(got.ok());
  EXPECT_TRUE(got.status().is(StatusCode::kCorruption)) << got.status().to_string();
  EXPECT_TRUE(contains(got.status().message(), "secret A")) << got.status().message();
  EXPECT_TRUE(contains(got.status().message(), "altered")) << got.status().message();

  doc["secrets"]["A"]["nonce"] = "not base64!";
  write_document(doc);
  EXPECT_TRUE(store.get("A").status().is(StatusCode::kCorruption));
}

TEST_F(SecretStoreTest, EntriesSwappedBetweenNamesDoNotOpen) {
  SecretStore store(state());
  ASSERT_TRUE(store.set("PROD_KEY", "production value", 1).ok());
  ASSERT_TRUE(store.set("TEST_KEY", "test value here", 1).ok());
  Json doc = document();
  std::swap(doc["secrets"]["PROD_KEY"], doc["secrets"]["TEST_KEY"]);
  write_document(doc);
  auto prod = store.get("PROD_KEY");
  auto test = store.get("TEST_KEY");
  EXPECT_TRUE(prod.status().is(StatusCode::kCorruption)) << prod.status().to_string();
  EXPECT_TRUE(test.status().is(StatusCode::kCorruption)) << test.status().to_string();
  EXPECT_TRUE(contains(prod.status().message(), "moved from another name"));
}

TEST_F(SecretStoreTest, AKeyFromTheEnvironmentInHexOrBase64IsTheSameKey) {
  ::setenv(kSecretKeyEnv, kHexKey, 1);
  SecretStore store(state());
  ASSERT_TRUE(store.set("A", kValue, 1).ok());
  EXPECT_FALSE(fs::exists(state() / kSecretKeyFile)) << "no key file when the environment has one";
  ::setenv(kSecretKeyEnv, kBase64Key, 1);
  EXPECT_EQ(store.get("A").value_or("?"), kValue);
  ::setenv(kSecretKeyEnv, (std::string(kBase64Key) + "\n").c_str(),
           1);  // as `$(cat file)` may leave it
  EXPECT_EQ(store.get("A").value_or("?"), kValue);
}

TEST_F(SecretStoreTest, ABadKeyInTheEnvironmentNamesTheVariableAndNeverRepeatsIt) {
  SecretStore store(state());
  for (const std::string& bad : std::vector<std::string>{
           "too-short-key-value", std::string(kHexKey) + "00", "!!!!notbase64@@@@"}) {
    ::setenv(kSecretKeyEnv, bad.c_str(), 1);
    Status set = store.set("A", kValue, 1);
    ASSERT_FALSE(set.ok()) << bad;
    EXPECT_TRUE(contains(set.message(), kSecretKeyEnv)) << set.message();
    EXPECT_TRUE(contains(set.message(), "64 hex digits or as base64")) << set.message();
    EXPECT_FALSE(contains(set.message(), bad)) << set.message();
  }
}

TEST_F(SecretStoreTest, NamesAreCheckedAndRemoveAndListNeedNoKey) {
  SecretStore store(state());
  for (const std::string& bad : std::vector<std::string>{"", "9lives", "-x", "has space",
                                                         "slash/name", std::string(65, 'a')})
    EXPECT_TRUE(store.set(bad, kValue, 1).is(StatusCode::kInvalidArgument)) << bad;
  ASSERT_TRUE(store.set(std::string(64, 'a'), kValue, 1).ok());
  ASSERT_TRUE(store.set("_private.v-1", kValue, 1).ok());
  EXPECT_TRUE(store.set("EMPTY", "", 1).is(StatusCode::kInvalidArgument));

  fs::remove(state() / kSecretKeyFile);
  EXPECT_EQ(store.list().value_or({}).size(), 2u);
  EXPECT_TRUE(store.remove("_private.v-1").ok());
  EXPECT_TRUE(store.remove("_private.v-1").is(StatusCode::kNotFound));
  EXPECT_EQ(store.list().value_or({}).size(), 1u);
}

TEST_F(SecretStoreTest, LoadingRegistersEveryValueAndReportsEachFirstUseOnce) {
  SecretStore store(state());
  ASSERT_TRUE(store.set("A", kValue, 1).ok());
  ASSERT_TRUE(store.set("B", "value of b", 1).ok());
  std::vector<std::string> used;
  auto resolver = load_secrets(store, [&](const std::string& name) { used.push_back(name); });
  ASSERT_TRUE(resolver.ok()) << resolver.status().to_string();
  EXPECT_EQ(redact(std::string("key=") + kValue + " b=value of b"), "key=[secret:A] b=[secret:B]");
  EXPECT_EQ((*resolver)("A").value_or("?"), kValue);
  EXPECT_EQ((*resolver)("A").value_or("?"), kValue);
  auto missing = (*resolver)("C");
  EXPECT_TRUE(missing.status().is(StatusCode::kNotFound));
  EXPECT_TRUE(contains(missing.status().message(), "secret C is not set"));
  EXPECT_EQ(used, std::vector<std::string>{"A"});
}

TEST_F(SecretStoreTest, ReferencesResolveAndErrorsNameTheFieldAndSecretNeverAValue) {
  SecretStore store(state());
  ASSERT_TRUE(store.set("TOKEN", kValue, 1).ok());
  auto secrets = load_secrets(store, nullptr);
  ASSERT_TRUE(secrets.ok());
  ::setenv("CADRE_SECRETS_TEST_USER", "ada", 1);
  auto text =
      resolve_references("user=${env:CADRE_SECRETS_TEST_USER} token=${secret:TOKEN} ${other}",
                         *secrets, "connectors.crm.auth");
  EXPECT_EQ(text.value_or("?"), std::string("user=ada token=") + kValue + " ${other}");

  auto missing = resolve_references("${secret:MISSING}", *secrets, "connectors.crm.auth");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().message(),
            "connectors.crm.auth: secret MISSING is not set (cadre secret set MISSING)");
  auto no_store = resolve_references("${secret:TOKEN}", SecretResolver(), "f");
  EXPECT_TRUE(no_store.status().is(StatusCode::kFailedPrecondition));
  auto bad_name = resolve_references("${secret:sk-live abc}", *secrets, "f");
  EXPECT_TRUE(bad_name.status().is(StatusCode::kInvalidArgument));
  EXPECT_FALSE(contains(bad_name.status().message(), "sk-live")) << bad_name.status().message();
  auto unclosed = resolve_references("${env:HOME", *secrets, "f");
  EXPECT_TRUE(unclosed.status().is(StatusCode::kInvalidArgument));
  ::unsetenv("CADRE_SECRETS_TEST_USER");
}

TEST_F(SecretStoreTest, CadreYamlAcceptsASecretReferenceAsAnApiKey) {
  Diagnostics diagnostics;
  WorkspaceConfig config = load_config(
      "models:\n  tiers:\n    small: {provider: openai, model: m, api_key: "
      "\"${secret:OPENAI.prod-1}\"}\n",
      "cadre.yaml", &diagnostics);
  EXPECT_TRUE(diagnostics.empty()) << diagnostics.to_string();
  EXPECT_EQ(config.models.tiers["small"].primary.api_key, "${secret:OPENAI.prod-1}");
}

// --- the redactor ---

TEST_F(SecretStoreTest, TheRedactorReplacesEveryOccurrenceAndPrefersTheLongerValue) {
  EXPECT_FALSE(has_secrets());
  EXPECT_EQ(redact("nothing registered"), "nothing registered");
  register_secret_value("SHORT", "abc");  // under 4 bytes: ignored
  EXPECT_FALSE(has_secrets());
  register_secret_value("KEY", "hunter22");
  register_secret_value("LONG", "hunter22-extended");
  EXPECT_TRUE(has_secrets());
  EXPECT_EQ(redact("a hunter22 b hunter22hunter22 c hunter22-extended d abc"),
            "a [secret:KEY] b [secret:KEY][secret:KEY] c [secret:LONG] d abc");
  EXPECT_FALSE(redacted_copy("clean text").has_value());
  EXPECT_EQ(redact(""), "");
}

TEST_F(SecretStoreTest, TheRedactorFindsAValueInsideJson) {
  const std::string tricky = "pa\"ss\\word\n1";
  register_secret_value("TRICKY", tricky);
  Json doc{{"args", {{"text", "the password is " + tricky}}}};
  std::string dumped = dump_json(doc);
  ASSERT_FALSE(contains(dumped, tricky)) << "the raw form is escaped inside JSON";
  EXPECT_EQ(redact(dumped), R"({"args":{"text":"the password is [secret:TRICKY]"}})");
  EXPECT_EQ(redact_json(doc)["args"]["text"], "the password is [secret:TRICKY]");
}

TEST_F(SecretStoreTest, TheRedactorIsSafeFromManyThreads) {
  std::atomic<bool> leaked{false};
  std::vector<std::thread> threads;
  // Writers register new values while readers redact text holding the first one.
  register_secret_value("FIRST", "first-secret-value");
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([t] {
      for (int i = 0; i < 200; ++i)
        register_secret_value("N" + std::to_string(t) + "_" + std::to_string(i),
                              "value-" + std::to_string(t) + "-" + std::to_string(i) + "-xyz");
    });
  }
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&leaked] {
      for (int i = 0; i < 2000; ++i) {
        std::string out = redact("x first-secret-value y first-secret-value");
        if (contains(out, "first-secret-value")) leaked = true;
      }
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_FALSE(leaked);
  EXPECT_EQ(redact("value-3-199-xyz and value-0-0-xyz"), "[secret:N3_199] and [secret:N0_0]");
}

}  // namespace
}  // namespace cadre
