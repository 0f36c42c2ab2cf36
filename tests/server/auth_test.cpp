// API tokens, browser sessions and CSRF (server/auth.h) on a real SQLite
// store. Read as the contract the workspace server relies on:
//   - a token is shown once and stored only as its hash; names are checked,
//     an active name is taken once, a revoked name may be reused;
//   - a bearer token authenticates until it is revoked; anything malformed,
//     unknown or revoked is "no credentials" (the server's 401);
//   - a login with a valid token opens a session (HttpOnly, SameSite=Strict
//     cookie) that ends when it expires, at logout, or when its token is
//     revoked, even if a token of the same name is made again;
//   - a session's state-changing requests need its CSRF token; bearer
//     callers need none;
//   - last use is written at most once a minute, also under concurrency;
//   - audit entries name tokens, never values; no value reaches the
//     database file.
#include "server/auth.h"

#include <gtest/gtest.h>

#include <atomic>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "core/hash.h"
#include "store/store.h"
#include "test_support.h"

namespace cadre {
namespace {

namespace fs = std::filesystem;
using testing::TempDir;

constexpr TimeMs kStart = 1'800'000'000'000;
constexpr TimeMs kMinute = 60'000;
constexpr TimeMs kHour = 60 * kMinute;
constexpr char kOperator[] = "operator:alice";

std::string cookie_of(const NewSession& session) {
  return "cadre_session=" + session.cookie_value;
}

class AuthTest : public ::testing::Test {
 protected:
  void SetUp() override { open(); }

  void open() {
    StoreOptions options;
    options.path = (dir_.path() / "cadre.db").string();
    auto opened = open_sqlite_store(options);
    ASSERT_TRUE(opened.ok()) << opened.status().to_string();
    store_ = std::move(opened).value();
  }

  std::string create(const std::string& name, TimeMs at = kStart) {
    auto token = create_api_token(*store_, name, kOperator, at);
    EXPECT_TRUE(token.ok()) << token.status().to_string();
    return token.ok() ? *token : "";
  }

  std::optional<Principal> bearer(const std::string& token, TimeMs at = kStart) {
    return authenticate_with("Bearer " + token, "", at);
  }

  std::optional<Principal> authenticate_with(const std::string& authorization,
                                             const std::string& cookie, TimeMs at = kStart) {
    auto found = authenticate(*store_, authorization, cookie, at);
    EXPECT_TRUE(found.ok()) << found.status().to_string();
    return found.ok() ? *found : std::nullopt;
  }

  NewSession login(const std::string& token, TimeMs at = kStart,
                   DurationMs lifetime = kDefaultSessionLifetime) {
    auto session = open_session(*store_, token, at, lifetime);
    EXPECT_TRUE(session.ok()) << session.status().to_string();
    return session.ok() ? *session : NewSession{};
  }

  TokenInfo info(const std::string& name) {
    auto tokens = list_api_tokens(*store_);
    EXPECT_TRUE(tokens.ok()) << tokens.status().to_string();
    for (const auto& t : *tokens)
      if (t.name == name) return t;
    ADD_FAILURE() << "no token " << name;
    return {};
  }

  std::vector<AuditEntry> audit_entries() {
    AuditFilter filter;
    filter.limit = 1000;
    auto entries = store_->audit().list(filter);
    EXPECT_TRUE(entries.ok()) << entries.status().to_string();
    return entries.ok() ? *entries : std::vector<AuditEntry>{};
  }

  // Every byte of the database, its WAL and its shared memory.
  std::string database_bytes() {
    std::string all;
    for (const auto& entry : fs::directory_iterator(dir_.path()))
      if (entry.is_regular_file()) all += testing::read_file(entry.path());
    return all;
  }

  TempDir dir_;
  std::unique_ptr<Store> store_;
};

TEST_F(AuthTest, ATokenIsShownOnceAndStoredOnlyAsItsHash) {
  std::string token = create("laptop");
  ASSERT_EQ(token.size(), 49u) << "cadre_ + 43 characters of base64url";
  EXPECT_TRUE(token.starts_with("cadre_"));
  EXPECT_EQ(token.find_first_not_of(
                "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_", 6),
            std::string::npos);
  EXPECT_NE(create("phone"), token) << "random, not derived from the name";

  TokenInfo laptop = info("laptop");
  EXPECT_EQ(laptop.created_by, kOperator);
  EXPECT_EQ(laptop.created_at, kStart);
  EXPECT_EQ(laptop.last_used_at, 0);
  EXPECT_EQ(laptop.revoked_at, 0);

  auto stored = store_->api_token_by_hash(sha256_hex(token));
  ASSERT_TRUE(stored.ok() && stored->has_value());
  EXPECT_EQ((*stored)->name, "laptop");

  store_.reset();  // everything written and checkpointed
  std::string bytes = database_bytes();
  EXPECT_EQ(bytes.find(token), std::string::npos);
  EXPECT_EQ(bytes.find(token.substr(6, 20)), std::string::npos) << "not even a part of it";
  EXPECT_NE(bytes.find(sha256_hex(token)), std::string::npos);
}

TEST_F(AuthTest, TokenNamesAreLowerCaseLettersDigitsAndDotDashUnderscore) {
  for (const std::string& bad : std::vector<std::string>{"", "Laptop", "has space", "a/b", "ci:bot",
                                                         "naïve", std::string(65, 'a')}) {
    auto made = create_api_token(*store_, bad, kOperator, kStart);
    EXPECT_TRUE(made.status().is(StatusCode::kInvalidArgument))
        << "'" << bad << "': " << made.status().to_string();
  }
  for (const std::string& good :
       std::vector<std::string>{"ci.bot-1_x", "a", std::string(64, 'z'), "0"}) {
    auto made = create_api_token(*store_, good, kOperator, kStart);
    EXPECT_TRUE(made.ok()) << good << ": " << made.status().to_string();
  }
}

TEST_F(AuthTest, AnActiveNameIsTakenOnceButARevokedNameMayBeReused) {
  std::string first = create("ci");
  auto again = create_api_token(*store_, "ci", kOperator, kStart + 1);
  ASSERT_TRUE(again.status().is(StatusCode::kAlreadyExists)) << again.status().to_string();
  EXPECT_NE(again.status().message().find("cadre token revoke ci"), std::string::npos);
  EXPECT_TRUE(bearer(first).has_value()) << "the refused duplicate changed nothing";

  ASSERT_TRUE(revoke_api_token(*store_, "ci", kOperator, kStart + 2).ok());
  EXPECT_GT(info("ci").revoked_at, 0);
  std::string second = create("ci", kStart + 3);
  EXPECT_NE(second, first);
  EXPECT_EQ(info("ci").revoked_at, 0);
  EXPECT_EQ(info("ci").created_at, kStart + 3);
  EXPECT_FALSE(bearer(first, kStart + 4).has_value());
  ASSERT_TRUE(bearer(second, kStart + 4).has_value());
  EXPECT_EQ(bearer(second, kStart + 4)->token_name, "ci");
}

TEST_F(AuthTest, RevokingWhatIsNotThereIsNotFound) {
  EXPECT_TRUE(revoke_api_token(*store_, "nobody", kOperator, kStart).is(StatusCode::kNotFound));
  EXPECT_TRUE(revoke_api_token(*store_, "Not A Name", kOperator, kStart).is(StatusCode::kNotFound));
  create("ci");
  ASSERT_TRUE(revoke_api_token(*store_, "ci", kOperator, kStart).ok());
  Status twice = revoke_api_token(*store_, "ci", kOperator, kStart + 1);
  EXPECT_TRUE(twice.is(StatusCode::kNotFound)) << twice.to_string();
  EXPECT_NE(twice.message().find("already revoked"), std::string::npos) << twice.message();
}

TEST_F(AuthTest, ABearerTokenAuthenticatesAndAnythingElseIsNoCredentials) {
  std::string token = create("ci");
  auto principal = bearer(token);
  ASSERT_TRUE(principal.has_value());
  EXPECT_EQ(principal->token_name, "ci");
  EXPECT_FALSE(principal->via_session);
  EXPECT_EQ(principal->actor(), "api:ci");
  EXPECT_TRUE(authenticate_with("bearer " + token, "").has_value()) << "the scheme in any case";
  EXPECT_TRUE(authenticate_with("  Bearer   " + token + "  ", "").has_value());

  std::string flipped = token;
  flipped.back() = flipped.back() == 'A' ? 'B' : 'A';
  for (const std::string& wrong :
       {std::string(""), std::string("Bearer"), std::string("Bearer "), "Bearer " + flipped,
        "Bearer " + token + "x", "Bearer " + token.substr(0, 48), "Bearer " + token.substr(6),
        "Basic " + token, token, "Bearer" + token, "Bearer " + std::string(100000, 'a'),
        "Bearer cadre_" + std::string(43, '!'), "Bearer " + sha256_hex(token)}) {
    EXPECT_FALSE(authenticate_with(wrong, "").has_value()) << wrong.substr(0, 80);
  }

  ASSERT_TRUE(revoke_api_token(*store_, "ci", kOperator, kStart).ok());
  EXPECT_FALSE(bearer(token).has_value()) << "revoked";
}

TEST_F(AuthTest, AWrongBearerTokenIsNotRescuedByAGoodCookie) {
  std::string token = create("ci");
  NewSession session = login(token);
  EXPECT_TRUE(authenticate_with("", cookie_of(session)).has_value());
  EXPECT_FALSE(authenticate_with("Bearer cadre_wrong", cookie_of(session)).has_value());
  auto by_bearer = authenticate_with("Bearer " + token, cookie_of(session));
  ASSERT_TRUE(by_bearer.has_value());
  EXPECT_FALSE(by_bearer->via_session) << "a bearer caller is one, cookie or not";
}

TEST_F(AuthTest, LastUseIsWrittenAtMostOnceAMinute) {
  std::string token = create("ci");
  ASSERT_TRUE(bearer(token, kStart + 1000).has_value());
  EXPECT_EQ(info("ci").last_used_at, kStart + 1000);

  int64_t writes_before = store_->stats().commits;
  for (int i = 0; i < 50; ++i) ASSERT_TRUE(bearer(token, kStart + 1000 + i * 1000).has_value());
  EXPECT_EQ(store_->stats().commits, writes_before) << "no write per request";
  EXPECT_EQ(info("ci").last_used_at, kStart + 1000);

  ASSERT_TRUE(bearer(token, kStart + 1000 + kMinute).has_value());
  EXPECT_EQ(info("ci").last_used_at, kStart + 1000 + kMinute);
}

TEST_F(AuthTest, ALoginWithAValidTokenOpensASessionInAStrictHttpOnlyCookie) {
  std::string token = create("ui");
  NewSession session = login(token);
  EXPECT_EQ(session.cookie_value.size(), 43u);
  EXPECT_EQ(session.csrf_token.size(), 43u);
  EXPECT_NE(session.cookie_value, session.csrf_token);
  EXPECT_EQ(session.expires_at, kStart + kDefaultSessionLifetime);
  EXPECT_EQ(session.set_cookie, "cadre_session=" + session.cookie_value +
                                    "; Path=/; Max-Age=43200; HttpOnly; SameSite=Strict");
  auto secure = open_session(*store_, token, kStart, kHour, /*secure_cookie=*/true);
  ASSERT_TRUE(secure.ok());
  EXPECT_TRUE(secure->set_cookie.ends_with("; Max-Age=3600; HttpOnly; SameSite=Strict; Secure"))
      << secure->set_cookie;
  EXPECT_NE(secure->cookie_value, session.cookie_value);

  auto principal =
      authenticate_with("", "theme=dark; cadre_session=" + session.cookie_value + "; lang=en");
  ASSERT_TRUE(principal.has_value());
  EXPECT_EQ(principal->token_name, "ui");
  EXPECT_TRUE(principal->via_session);
  EXPECT_EQ(principal->session_hash, sha256_hex(session.cookie_value));

  for (const std::string& wrong :
       {std::string(""), std::string("cadre_session="), std::string("cadre_session"),
        "other=" + session.cookie_value, "cadre_session=" + session.csrf_token,
        "cadre_session=" + token, "cadre_session=" + std::string(43, 'a'),
        "cadre_session=" + session.cookie_value + "x", "xcadre_session=" + session.cookie_value}) {
    EXPECT_FALSE(authenticate_with("", wrong).has_value()) << wrong;
  }
}

TEST_F(AuthTest, ALoginWithAnythingButAnActiveTokenIsRefusedWithoutQuotingIt) {
  std::string token = create("ui");
  std::string flipped = token;
  flipped[10] = flipped[10] == 'x' ? 'y' : 'x';
  for (const std::string& wrong :
       {std::string(""), flipped, token + " extra", std::string("Bearer ") + token}) {
    auto session = open_session(*store_, wrong, kStart);
    ASSERT_TRUE(session.status().is(StatusCode::kFailedPrecondition))
        << session.status().to_string();
    EXPECT_EQ(session.status().message(), "invalid token");
  }
  ASSERT_TRUE(revoke_api_token(*store_, "ui", kOperator, kStart).ok());
  EXPECT_TRUE(
      open_session(*store_, token, kStart + 1).status().is(StatusCode::kFailedPrecondition));
  EXPECT_TRUE(
      open_session(*store_, create("ui2"), kStart, 999).status().is(StatusCode::kInvalidArgument))
      << "a lifetime under a second";
}

TEST_F(AuthTest, ASessionEndsWhenItExpiresAndIsDeleted) {
  NewSession session = login(create("ui"), kStart, kHour);
  EXPECT_TRUE(authenticate_with("", cookie_of(session), kStart + kHour - 1).has_value());
  EXPECT_FALSE(authenticate_with("", cookie_of(session), kStart + kHour).has_value());
  auto row = store_->api_session(sha256_hex(session.cookie_value));
  ASSERT_TRUE(row.ok());
  EXPECT_FALSE(row->has_value()) << "deleted when shown expired";
  EXPECT_FALSE(authenticate_with("", cookie_of(session), kStart).has_value())
      << "gone even for an earlier clock";
}

TEST_F(AuthTest, ExpiredSessionsAreSweptWhenOthersLogIn) {
  std::string token = create("ui");
  NewSession old_one = login(token, kStart, kHour);
  NewSession long_one = login(token, kStart, 10 * kHour);
  login(token, kStart + 2 * kHour);  // the sweep
  auto old_row = store_->api_session(sha256_hex(old_one.cookie_value));
  ASSERT_TRUE(old_row.ok());
  EXPECT_FALSE(old_row->has_value());
  auto long_row = store_->api_session(sha256_hex(long_one.cookie_value));
  ASSERT_TRUE(long_row.ok());
  EXPECT_TRUE(long_row->has_value());
  auto swept = store_->delete_expired_api_sessions(kStart + 11 * kHour);
  ASSERT_TRUE(swept.ok());
  EXPECT_EQ(*swept, 1) << "the long one; the sweeping login's own lasts 12 hours";
}

TEST_F(AuthTest, RevokingATokenEndsItsSessionsEvenIfTheNameIsMadeAgain) {
  std::string token = create("ui");
  NewSession session = login(token);
  NewSession other = login(create("other"));
  auto principal = authenticate_with("", cookie_of(session));
  ASSERT_TRUE(principal.has_value());

  ASSERT_TRUE(revoke_api_token(*store_, "ui", kOperator, kStart + 1).ok());
  EXPECT_FALSE(authenticate_with("", cookie_of(session), kStart + 2).has_value());
  EXPECT_TRUE(
      check_csrf(*store_, *principal, session.csrf_token).is(StatusCode::kFailedPrecondition))
      << "a principal found before the revocation cannot change state after it";
  EXPECT_TRUE(authenticate_with("", cookie_of(other), kStart + 2).has_value())
      << "other tokens' sessions stay";

  std::string remade = create("ui", kStart + 3);
  EXPECT_FALSE(authenticate_with("", cookie_of(session), kStart + 4).has_value());
  EXPECT_TRUE(authenticate_with("Bearer " + remade, "", kStart + 4).has_value());
}

TEST_F(AuthTest, SessionsNeedTheirCsrfTokenToChangeStateAndBearerCallersNeedNone) {
  std::string token = create("ui");
  NewSession session = login(token);
  NewSession second = login(token);
  auto principal = authenticate_with("", cookie_of(session));
  ASSERT_TRUE(principal.has_value());

  EXPECT_TRUE(check_csrf(*store_, *principal, session.csrf_token).ok());
  EXPECT_TRUE(check_csrf(*store_, *principal, " " + session.csrf_token + " ").ok());
  for (const std::string& wrong :
       {std::string(""), std::string("   "), second.csrf_token, session.cookie_value,
        session.csrf_token + "x", session.csrf_token.substr(1), token,
        sha256_hex(session.csrf_token), std::string(100000, 'a')}) {
    Status refused = check_csrf(*store_, *principal, wrong);
    EXPECT_TRUE(refused.is(StatusCode::kFailedPrecondition))
        << wrong.substr(0, 60) << ": " << refused.to_string();
    EXPECT_EQ(refused.message().find(session.csrf_token), std::string::npos);
  }
  EXPECT_NE(check_csrf(*store_, *principal, "").message().find("missing"), std::string::npos);

  auto by_bearer = bearer(token);
  ASSERT_TRUE(by_bearer.has_value());
  EXPECT_TRUE(check_csrf(*store_, *by_bearer, "").ok());
}

TEST_F(AuthTest, ARenewedCsrfTokenReplacesTheOldOne) {
  NewSession session = login(create("ui"));
  auto principal = authenticate_with("", cookie_of(session));
  ASSERT_TRUE(principal.has_value());
  auto renewed = renew_csrf_token(*store_, *principal);
  ASSERT_TRUE(renewed.ok()) << renewed.status().to_string();
  EXPECT_NE(*renewed, session.csrf_token);
  EXPECT_TRUE(check_csrf(*store_, *principal, *renewed).ok());
  EXPECT_FALSE(check_csrf(*store_, *principal, session.csrf_token).ok());
  Principal bearer_caller{"ui", false, ""};
  EXPECT_TRUE(
      renew_csrf_token(*store_, bearer_caller).status().is(StatusCode::kFailedPrecondition));
}

TEST_F(AuthTest, LogoutEndsTheSessionOnly) {
  std::string token = create("ui");
  NewSession session = login(token);
  NewSession kept = login(token);
  auto principal = authenticate_with("", cookie_of(session));
  ASSERT_TRUE(principal.has_value());
  ASSERT_TRUE(close_session(*store_, *principal, kStart + 5).ok());
  EXPECT_FALSE(authenticate_with("", cookie_of(session)).has_value());
  EXPECT_FALSE(check_csrf(*store_, *principal, session.csrf_token).ok());
  EXPECT_TRUE(close_session(*store_, *principal, kStart + 6).ok())
      << "logging out twice is harmless";
  EXPECT_TRUE(authenticate_with("", cookie_of(kept)).has_value());
  EXPECT_TRUE(bearer(token).has_value());
  EXPECT_EQ(clear_session_cookie(),
            "cadre_session=; Path=/; Max-Age=0; Expires=Thu, 01 Jan 1970 00:00:00 GMT; HttpOnly; "
            "SameSite=Strict");
  EXPECT_TRUE(clear_session_cookie(true).ends_with("; Secure"));
}

TEST_F(AuthTest, OneTokenCannotHoardSessions) {
  std::string token = create("ui");
  NewSession first = login(token, kStart);
  for (int i = 1; i <= kMaxSessionsPerToken; ++i) login(token, kStart + i);
  EXPECT_FALSE(authenticate_with("", cookie_of(first), kStart + 100).has_value())
      << "the oldest gave way";
}

TEST_F(AuthTest, ChangesAreAuditedByNameAndNoValueIsEverWritten) {
  std::string token = create("ui");
  NewSession session = login(token, kStart + 1);
  auto principal = authenticate_with("", cookie_of(session), kStart + 2);
  ASSERT_TRUE(principal.has_value());
  std::string renewed = *renew_csrf_token(*store_, *principal);
  ASSERT_TRUE(close_session(*store_, *principal, kStart + 3).ok());
  login(token, kStart + 4);
  ASSERT_TRUE(revoke_api_token(*store_, "ui", kOperator, kStart + 5).ok());

  std::vector<std::string> actions;
  for (const auto& e : audit_entries()) {
    actions.push_back(e.action);
    EXPECT_EQ(e.subject, "ui");
    std::string text = e.actor + e.action + e.subject + e.data.dump();
    for (const std::string& value : {token, session.cookie_value, session.csrf_token, renewed})
      EXPECT_EQ(text.find(value), std::string::npos) << e.action;
  }
  EXPECT_EQ(actions, (std::vector<std::string>{"token.created", "session.opened", "session.closed",
                                               "session.opened", "token.revoked"}));
  auto entries = audit_entries();
  EXPECT_EQ(entries[0].actor, kOperator);
  EXPECT_EQ(entries[1].actor, "api:ui");

  store_.reset();
  std::string bytes = database_bytes();
  for (const std::string& value : {token, session.cookie_value, session.csrf_token, renewed})
    EXPECT_EQ(bytes.find(value), std::string::npos);
}

TEST_F(AuthTest, ManyThreadsAuthenticateAtOnce) {
  std::string token = create("ci");
  std::string revoked = create("old");
  ASSERT_TRUE(revoke_api_token(*store_, "old", kOperator, kStart).ok());
  NewSession session = login(create("ui"));
  const int64_t writes_before = store_->stats().commits;

  std::atomic<int> wrong{0}, errors{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 200; ++i) {
        const TimeMs at = kStart + kMinute + i;  // all within one minute
        auto good = authenticate(*store_, "Bearer " + token, "", at);
        auto bad = authenticate(*store_, "Bearer " + revoked, "", at);
        auto browser = authenticate(*store_, "", cookie_of(session), at);
        if (!good.ok() || !bad.ok() || !browser.ok()) {
          ++errors;
          continue;
        }
        if (!*good || (*good)->token_name != "ci" || *bad || !*browser ||
            (*browser)->token_name != "ui" ||
            (t % 2 == 0 && !check_csrf(*store_, **browser, session.csrf_token).ok())) {
          ++wrong;
        }
      }
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(errors.load(), 0);
  EXPECT_EQ(wrong.load(), 0);
  EXPECT_LE(store_->stats().commits - writes_before, 2)
      << "one last-use write per token in that minute";
  for (const char* name : {"ci", "ui"}) {
    EXPECT_GE(info(name).last_used_at, kStart + kMinute) << name;
    EXPECT_LT(info(name).last_used_at, kStart + kMinute + 200) << name;
  }
  EXPECT_EQ(info("old").last_used_at, 0) << "a revoked token is not used";
}

}  // namespace
}  // namespace cadre
