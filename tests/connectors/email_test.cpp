// The email connector's library (src/connectors/email/): the MIME codecs,
// composing and parsing messages, and IMAP framing as units; then SMTP and
// IMAP against real servers from Debian packages, each started by the test
// on 127.0.0.1 on free ports with its state in a temp dir:
//   SMTP  aiosmtpd (python3-aiosmtpd) run by email_peers/smtp_server.py:
//         STARTTLS required, AUTH against one user, each message to a file
//   IMAP  Dovecot (dovecot-imapd) in the foreground with the config
//         email_peers/dovecot.conf.in: STARTTLS required on one port, TLS
//         on another, one passwd-file user, Maildir in the temp dir
// Both use a self-signed certificate made with openssl by the test. The
// server tests skip only when the server programs are not installed
// (scripts/install-deps.sh installs them).
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <pwd.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "connectors/email/imap_protocol.h"
#include "connectors/email/imap_reader.h"
#include "connectors/email/mime_codecs.h"
#include "connectors/email/mime_message.h"
#include "connectors/email/outgoing_message.h"
#include "connectors/email/smtp_sender.h"
#include "connectors/mcp/child_process.h"
#include "core/clock.h"
#include "core/curl_util.h"
#include "test_support.h"

namespace cadre {
namespace {

namespace fs = std::filesystem;
using cadre::testing::eventually;
using cadre::testing::read_file;
using cadre::testing::TempDir;
using cadre::testing::write_file;

// ===========================================================================
// Units: codecs
// ===========================================================================

TEST(MimeCodecs, Base64RoundTripsAndDecodesLeniently) {
  for (std::string data : {"", "f", "fo", "foo", "foob", "fooba", "foobar"}) {
    EXPECT_EQ(base64_decode(base64_encode(data)), data);
  }
  EXPECT_EQ(base64_encode("foobar"), "Zm9vYmFy");
  EXPECT_EQ(base64_decode("Zm9v\r\nYmFy\r\n"), "foobar");  // line breaks skipped
  EXPECT_EQ(base64_decode("Zm9vYg=="), "foob");
}

TEST(MimeCodecs, QuotedPrintableDecodesEscapesAndSoftBreaks) {
  EXPECT_EQ(quoted_printable_decode("caf=C3=A9 =\r\nau lait"), "café au lait");
  EXPECT_EQ(quoted_printable_decode("soft=  \r\nbreak"), "softbreak");  // whitespace after '='
  EXPECT_EQ(quoted_printable_decode("a=3Db"), "a=b");
  EXPECT_EQ(quoted_printable_decode("50=%"), "50=%");  // not an escape: kept
  EXPECT_EQ(quoted_printable_decode("a_b", /*q_encoding=*/true), "a b");
}

TEST(MimeCodecs, QuotedPrintableEncodingKeepsLinesShortAndRoundTrips) {
  std::string text = "Grüße aus Köln = Cologne\r\n" + std::string(200, 'x') + " \r\ntrailing tab\t";
  std::string encoded = quoted_printable_encode(text);
  size_t line_start = 0;
  while (line_start < encoded.size()) {
    size_t end = encoded.find("\r\n", line_start);
    if (end == std::string::npos) end = encoded.size();
    EXPECT_LE(end - line_start, 76u) << encoded;
    line_start = end + 2;
  }
  EXPECT_NE(encoded.find("=3D"), std::string::npos);
  EXPECT_NE(encoded.find("x=20\r\n"), std::string::npos)
      << "a space before a line break is encoded";
  EXPECT_NE(encoded.find("tab=09"), std::string::npos);
  EXPECT_EQ(quoted_printable_decode(encoded), text);
}

TEST(MimeCodecs, HeaderWordsRoundTripInShortWordsOfWholeCharacters) {
  std::string subject = "Grüße – ünïcödé ☃ " + std::string(60, 'a') + " 日本語のテキスト";
  std::string encoded = encode_header_words(subject);
  size_t start = 0;
  while (start < encoded.size()) {
    size_t end = encoded.find("\r\n ", start);
    if (end == std::string::npos) end = encoded.size();
    std::string word = encoded.substr(start, end - start);
    EXPECT_LE(word.size(), 75u);
    EXPECT_EQ(word.rfind("=?UTF-8?B?", 0), 0u);
    EXPECT_TRUE(is_valid_utf8(base64_decode(word.substr(10, word.size() - 12))))
        << "a word holds whole characters";
    start = end + 3;
  }
  EXPECT_EQ(decode_header_words(encoded), subject);
}

TEST(MimeCodecs, DecodesEncodedWordsOfEachKind) {
  EXPECT_EQ(decode_header_words("=?utf-8?q?caf=C3=A9_cr=C3=A8me?="), "café crème");
  EXPECT_EQ(decode_header_words("=?ISO-8859-1?Q?Andr=E9?= Pirard <PIRARD@vm1.ulg.ac.be>"),
            "André Pirard <PIRARD@vm1.ulg.ac.be>");
  // Whitespace between adjacent words goes; around plain text it stays.
  EXPECT_EQ(decode_header_words("=?UTF-8?B?SGVs?=  \r\n =?UTF-8?B?bG8=?= world"), "Hello world");
  // A character split across two words is joined before decoding.
  EXPECT_EQ(decode_header_words("=?UTF-8?B?w6k=?= =?UTF-8?B?4pg=?= =?UTF-8?B?gw==?="), "é☃");
  EXPECT_EQ(decode_header_words("=?utf-8*en?Q?hi?="), "hi");  // RFC 2231 language
  EXPECT_EQ(decode_header_words("no words =? here ?= at all"), "no words =? here ?= at all");
  EXPECT_EQ(decode_header_words("=?UTF-8?X?bad?="), "=?UTF-8?X?bad?=");
  EXPECT_EQ(decode_header_words("raw \xE9t\xE9"), "raw été");  // 8-bit Latin-1 in a header
}

TEST(MimeCodecs, CharsetsBecomeUtf8) {
  EXPECT_EQ(to_utf8("caf\xE9", "iso-8859-1"), "café");
  EXPECT_EQ(to_utf8("\x80 5", "Windows-1252"), "€ 5");
  EXPECT_EQ(to_utf8("caf\xE9", "\"LATIN1\""), "café");
  EXPECT_EQ(to_utf8("\xA4", "iso-8859-15"), "€");  // through iconv
  EXPECT_EQ(to_utf8("\xF0\xD2\xC9\xD7\xC5\xD4", "koi8-r"), "Привет");
  EXPECT_EQ(to_utf8("ok \xFF", "utf-8"), "ok \xEF\xBF\xBD");  // invalid → U+FFFD
  EXPECT_EQ(to_utf8("caf\xC3\xA9", "us-ascii"), "café");      // mislabelled UTF-8
  EXPECT_EQ(to_utf8("caf\xE9", "x-unknown"), "café");
  EXPECT_EQ(truncate_utf8("aé", 2), "a");  // never half a character
  EXPECT_EQ(truncate_utf8("aé", 3), "aé");
}

// ===========================================================================
// Units: reading a message
// ===========================================================================

TEST(MimeMessage, UnfoldsHeadersAndReadsAPlainBody) {
  MimeMessage message = parse_mime_message(
      "From: Someone\r\n <someone@example.com>\r\n"
      "Subject: =?UTF-8?Q?Gr=C3=BC=C3=9Fe?=\r\n\tfrom Köln\r\n"
      "X-Empty:\r\n"
      "\r\n"
      "line one\r\nline two\r\n");
  EXPECT_EQ(message.header("from"), "Someone <someone@example.com>");
  EXPECT_EQ(message.decoded_header("SUBJECT"), "Grüße from Köln");
  EXPECT_EQ(message.header("X-Empty"), "");
  EXPECT_EQ(message.header("Missing"), "");
  EXPECT_EQ(message.text, "line one\nline two\n");
  EXPECT_FALSE(message.text_truncated);
}

TEST(MimeMessage, PrefersPlainTextInMultipartAlternative) {
  MimeMessage message = parse_mime_message(
      "Content-Type: multipart/alternative; boundary=\"b1\"\r\n\r\n"
      "preamble\r\n"
      "--b1\r\n"
      "Content-Type: text/html; charset=utf-8\r\n\r\n"
      "<p>HTML version</p>\r\n"
      "--b1\r\n"
      "Content-Type: text/plain; charset=\"iso-8859-1\"\r\n"
      "Content-Transfer-Encoding: quoted-printable\r\n\r\n"
      "Plain caf=E9 version=\r\n continues\r\n"
      "--b1--\r\n"
      "epilogue\r\n");
  EXPECT_EQ(message.text, "Plain café version continues");
}

TEST(MimeMessage, StripsHtmlWhenThereIsNoPlainText) {
  MimeMessage message = parse_mime_message(
      "Content-Type: text/html; charset=utf-8\r\n"
      "Content-Transfer-Encoding: base64\r\n\r\n" +
      base64_encode("<html><head><title>T</title><style>p {color: red}</style></head>"
                    "<body><p>Hello&nbsp;<b>world</b> &amp; friends</p><p>Line&#32;two&#x21;"
                    "<br>three</p><script>alert(1)</script><!-- hidden --></body></html>"));
  EXPECT_EQ(message.text, "Hello world & friends\n\nLine two!\nthree");
}

TEST(MimeMessage, FindsTheBodyInNestedPartsAndSkipsAttachments) {
  MimeMessage message = parse_mime_message(
      "Content-Type: multipart/mixed; boundary=outer\r\n\r\n"
      "--outer\r\n"
      "Content-Type: text/plain\r\n"
      "Content-Disposition: attachment; filename=notes.txt\r\n\r\n"
      "attached, not the body\r\n"
      "--outer\r\n"
      "Content-Type: multipart/alternative; boundary=inner\r\n\r\n"
      "--inner\r\n"
      "Content-Type: text/plain; charset=utf-8\r\n"
      "Content-Transfer-Encoding: base64\r\n\r\n" +
      base64_encode("the body, ünïcode") +
      "\r\n--inner--\r\n"
      "--outer\r\n"
      "Content-Type: message/rfc822\r\n\r\n"
      "Subject: forwarded\r\n\r\nforwarded text\r\n"
      "--outer--\r\n");
  EXPECT_EQ(message.text, "the body, ünïcode");
}

TEST(MimeMessage, ReadsRfc2231ParametersAndCapsTheText) {
  MimeMessage with_charset = parse_mime_message(
      "Content-Type: text/plain; charset*=iso-8859-1'en'iso-8859-1\r\n\r\ncaf\xE9");
  EXPECT_EQ(with_charset.text, "café");
  MimeMessage long_one =
      parse_mime_message("Subject: x\r\n\r\n" + std::string(1000, 'a') + "é", 1001);
  EXPECT_EQ(long_one.text, std::string(1000, 'a'));
  EXPECT_TRUE(long_one.text_truncated);
}

TEST(MimeMessage, SurvivesTruncatedAndMalformedInput) {
  // Cut mid-part (as a partial fetch cuts): what is there is read.
  MimeMessage cut = parse_mime_message(
      "Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nso "
      "far");
  EXPECT_EQ(cut.text, "so far");
  EXPECT_EQ(parse_mime_message("").text, "");
  EXPECT_EQ(parse_mime_message("no headers at all\n\nbody").text, "no headers at all\n\nbody");
  EXPECT_EQ(parse_mime_message("Content-Type: multipart/mixed\r\n\r\nno boundary").text, "");
  // Deep nesting is bounded, not a stack overflow.
  std::string deep;
  for (int i = 0; i < 200; ++i) {
    deep += "Content-Type: multipart/mixed; boundary=b" + std::to_string(i) + "\r\n\r\n--b" +
            std::to_string(i) + "\r\n";
  }
  EXPECT_EQ(parse_mime_message(deep + "Content-Type: text/plain\r\n\r\nbottom").text, "");
}

// ===========================================================================
// Units: composing a message
// ===========================================================================

constexpr TimeMs kSentAt = 1772528700000;  // 2026-03-03T09:05:00Z

OutgoingEmail simple_email() {
  OutgoingEmail email;
  email.from = "Cadre Bot <bot@example.com>";
  email.to = {"alice@example.org"};
  email.subject = "Weekly report";
  email.text = "Hello\nAll good.\n";
  return email;
}

std::string header_block(const std::string& data) {
  return data.substr(0, data.find("\r\n\r\n"));
}

TEST(OutgoingMessage, WritesTheHeadersAndA7bitBody) {
  OutgoingEmail email = simple_email();
  email.cc = {"Carol <carol@example.org>"};
  email.bcc = {"dave@example.org"};
  email.reply_to = "support@example.com";
  email.in_reply_to = "orig-1@mail.example.org";
  Result<ComposedEmail> composed = compose_email(email, "key-1", kSentAt);
  ASSERT_TRUE(composed.ok()) << composed.status().to_string();
  EXPECT_EQ(composed->envelope_from, "bot@example.com");
  EXPECT_EQ(
      composed->recipients,
      (std::vector<std::string>{"alice@example.org", "carol@example.org", "dave@example.org"}));
  EXPECT_EQ(composed->message_id, message_id_for("key-1", "example.com"));
  EXPECT_EQ(composed->message_id.size(), 1 + 32 + 1 + 11 + 1);
  const std::string headers = header_block(composed->data);
  EXPECT_NE(headers.find("Date: Tue, 03 Mar 2026 09:05:00 +0000\r\n"), std::string::npos)
      << headers;
  EXPECT_NE(headers.find("From: Cadre Bot <bot@example.com>\r\n"), std::string::npos);
  EXPECT_NE(headers.find("To: alice@example.org\r\n"), std::string::npos);
  EXPECT_NE(headers.find("Cc: Carol <carol@example.org>\r\n"), std::string::npos);
  EXPECT_NE(headers.find("Reply-To: support@example.com\r\n"), std::string::npos);
  EXPECT_NE(headers.find("Subject: Weekly report\r\n"), std::string::npos);
  EXPECT_NE(headers.find("Message-ID: " + composed->message_id), std::string::npos);
  EXPECT_NE(headers.find(
                "In-Reply-To: <orig-1@mail.example.org>\r\nReferences: <orig-1@mail.example.org>"),
            std::string::npos);
  EXPECT_NE(headers.find("Content-Transfer-Encoding: 7bit"), std::string::npos);
  EXPECT_EQ(headers.find("dave"), std::string::npos) << "Bcc is in the envelope only";
  EXPECT_EQ(composed->data.substr(composed->data.find("\r\n\r\n") + 4), "Hello\r\nAll good.\r\n");
}

TEST(OutgoingMessage, EncodesNonAsciiAndFoldsLongHeaders) {
  OutgoingEmail email = simple_email();
  email.from = "Zoë \"the bot\" Ünïcode <bot@example.com>";
  email.to = {};
  for (int i = 0; i < 8; ++i)
    email.to.push_back("Person " + std::to_string(i) + " <p" + std::to_string(i) + "@example.org>");
  email.to.push_back("\"Doe, Jane\" <jane@example.org>");
  email.subject = "Grüße – a rather long subject line that certainly needs folding somewhere along";
  email.text = "Ünïcode body\nand a very long line " + std::string(1200, 'x') + "\n";
  Result<ComposedEmail> composed = compose_email(email, "key", kSentAt);
  ASSERT_TRUE(composed.ok()) << composed.status().to_string();
  const std::string headers = header_block(composed->data);
  size_t line_start = 0;
  while (line_start < composed->data.size()) {
    size_t end = composed->data.find("\r\n", line_start);
    ASSERT_NE(end, std::string::npos);
    EXPECT_LE(end - line_start, 78u) << composed->data.substr(line_start, end - line_start);
    line_start = end + 2;
  }
  EXPECT_TRUE(is_ascii(composed->data));
  EXPECT_NE(headers.find("\"Doe, Jane\" <jane@example.org>"), std::string::npos);
  EXPECT_NE(headers.find("Content-Transfer-Encoding: quoted-printable"), std::string::npos);

  MimeMessage read_back = parse_mime_message(composed->data);
  EXPECT_EQ(read_back.decoded_header("Subject"), email.subject);
  EXPECT_EQ(read_back.decoded_header("From"), "Zoë \"the bot\" Ünïcode <bot@example.com>");
  EXPECT_EQ(read_back.text, email.text);
}

TEST(OutgoingMessage, RefusesHeaderInjectionNamingTheField) {
  struct Case {
    std::string field;
    std::function<void(OutgoingEmail&)> spoil;
  };
  std::vector<Case> cases = {
      {"subject", [](OutgoingEmail& e) { e.subject = "hi\r\nBcc: victim@example.net"; }},
      {"subject", [](OutgoingEmail& e) { e.subject = "just a\nnewline"; }},
      {"from", [](OutgoingEmail& e) { e.from = "bot@example.com\r\nX-Evil: 1"; }},
      {"to[1]", [](OutgoingEmail& e) { e.to.push_back("Bob\n <bob@example.org>"); }},
      {"cc[0]", [](OutgoingEmail& e) { e.cc = {"carol@example.org\r"}; }},
      {"bcc[0]", [](OutgoingEmail& e) { e.bcc = {"dave@example.org\nRCPT TO:<x@y>"}; }},
      {"reply_to", [](OutgoingEmail& e) { e.reply_to = "a@b.c\r\nX: y"; }},
      {"in_reply_to", [](OutgoingEmail& e) { e.in_reply_to = "<a@b>\r\nX: y"; }},
  };
  for (const auto& c : cases) {
    OutgoingEmail email = simple_email();
    c.spoil(email);
    Result<ComposedEmail> composed = compose_email(email, "key", kSentAt);
    ASSERT_FALSE(composed.ok()) << c.field;
    EXPECT_EQ(composed.status().code(), StatusCode::kInvalidArgument);
    EXPECT_NE(composed.status().message().find("field '" + c.field + "' contains a line break"),
              std::string::npos)
        << composed.status().message();
  }
}

TEST(OutgoingMessage, RefusesBadAddressesAndMissingParts) {
  auto error_of = [](const std::function<void(OutgoingEmail&)>& spoil) {
    OutgoingEmail email = simple_email();
    spoil(email);
    Result<ComposedEmail> composed = compose_email(email, "key", kSentAt);
    return composed.ok() ? std::string("ok") : composed.status().to_string();
  };
  EXPECT_NE(error_of([](OutgoingEmail& e) { e.to = {"not-an-address"}; }).find("field 'to[0]'"),
            std::string::npos);
  EXPECT_NE(error_of([](OutgoingEmail& e) { e.to = {"a@@b.c"}; }).find("invalid_argument"),
            std::string::npos);
  EXPECT_NE(
      error_of([](OutgoingEmail& e) { e.to = {"a..b@example.org"}; }).find("invalid_argument"),
      std::string::npos);
  EXPECT_NE(error_of([](OutgoingEmail& e) { e.to = {"ü@example.org"}; }).find("invalid_argument"),
            std::string::npos);
  EXPECT_NE(error_of([](OutgoingEmail& e) { e.to = {"x@-bad-.org"}; }).find("invalid_argument"),
            std::string::npos);
  EXPECT_NE(error_of([](OutgoingEmail& e) { e.to = {}; }).find("no recipients"), std::string::npos);
  EXPECT_NE(error_of([](OutgoingEmail& e) { e.from = ""; }).find("field 'from' is empty"),
            std::string::npos);
  EXPECT_NE(error_of([](OutgoingEmail& e) {
              e.subject = "tab\tok but bell\a";
            }).find("control character"),
            std::string::npos);
  EXPECT_NE(error_of([](OutgoingEmail& e) { e.text = "bad \xFF utf-8"; }).find("field 'text'"),
            std::string::npos);
  EXPECT_NE(
      error_of([](OutgoingEmail& e) { e.in_reply_to = "no-at-sign"; }).find("field 'in_reply_to'"),
      std::string::npos);
  EXPECT_NE(error_of([](OutgoingEmail& e) {
              for (int i = 0; i < 101; ++i)
                e.bcc.push_back("r" + std::to_string(i) + "@example.org");
            }).find("resource_exhausted"),
            std::string::npos);
  Result<ComposedEmail> no_key = compose_email(simple_email(), "", kSentAt);
  EXPECT_EQ(no_key.status().code(), StatusCode::kInvalidArgument);
  // Duplicates are sent once.
  OutgoingEmail twice = simple_email();
  twice.cc = {"ALICE@example.org"};
  EXPECT_EQ(compose_email(twice, "key", kSentAt)->recipients.size(), 1u);
}

// ===========================================================================
// Units: IMAP framing
// ===========================================================================

TEST(ImapProtocol, FramesResponsesWithLiterals) {
  EXPECT_EQ(*imap_response_length("* OK ready\r\n* 1 EXISTS\r\n", 1000), 12u);
  EXPECT_EQ(*imap_response_length("* OK no end yet", 1000), 0u);
  const std::string fetch = "* 1 FETCH (UID 7 BODY[]<0> {5}\r\nab\r\nc)\r\n";
  EXPECT_EQ(*imap_response_length(fetch + "c1 OK done\r\n", 1000), fetch.size());
  EXPECT_EQ(*imap_response_length(fetch.substr(0, 35), 1000), 0u) << "inside the literal";
  EXPECT_EQ(imap_response_length("* 1 FETCH (BODY[] {999999999}\r\n", 1000).status().code(),
            StatusCode::kResourceExhausted);
  EXPECT_EQ(imap_response_length(std::string(2000, 'x'), 1000).status().code(),
            StatusCode::kResourceExhausted);
}

TEST(ImapProtocol, ParsesFetchValues) {
  Result<std::vector<ImapValue>> values = parse_imap_values(
      "* 12 FETCH (UID 7 FLAGS (\\Seen) BODY[HEADER.FIELDS (FROM)]<0> {3}\r\nabc "
      "ENVELOPE (\"q \\\"x\\\"\" NIL))\r\n");
  ASSERT_TRUE(values.ok()) << values.status().to_string();
  ASSERT_EQ(values->size(), 4u);
  EXPECT_TRUE((*values)[2].is_atom("FETCH"));
  const auto& items = (*values)[3].items;
  ASSERT_EQ(items.size(), 8u);
  EXPECT_EQ(items[1].text, "7");
  EXPECT_EQ(items[3].items[0].text, "\\Seen");
  EXPECT_EQ(items[4].text, "BODY[HEADER.FIELDS (FROM)]<0>");
  EXPECT_EQ(items[5].kind, ImapValue::Kind::kString);
  EXPECT_EQ(items[5].text, "abc");
  EXPECT_EQ(items[7].items[0].text, "q \"x\"");
  EXPECT_EQ(items[7].items[1].kind, ImapValue::Kind::kNil);
  EXPECT_FALSE(parse_imap_values("* 1 FETCH (UID 1").ok());
  EXPECT_FALSE(parse_imap_values("* 1 FETCH (BODY[] {10}\r\nabc)").ok());
  EXPECT_FALSE(parse_imap_values(std::string(100, '(')).ok());
  EXPECT_EQ(imap_quote("a \"b\" \\c"), "\"a \\\"b\\\" \\\\c\"");
  EXPECT_EQ(imap_uid_set({3, 4, 5, 9, 11, 12}), "3:5,9,11:12");
}

TEST(ImapCursorJson, RoundTrips) {
  ImapCursor cursor{3405691582, 42};
  Result<ImapCursor> back =
      ImapCursor::from_json(parse_json(dump_json(cursor.to_json()), "t").value());
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(back->uidvalidity, cursor.uidvalidity);
  EXPECT_EQ(back->last_uid, cursor.last_uid);
  EXPECT_FALSE(ImapCursor::from_json(Json{{"uidvalidity", -1}, {"last_uid", 0}}).ok());
  EXPECT_FALSE(ImapCursor::from_json(Json::array()).ok());
}

// ===========================================================================
// Real servers: shared helpers
// ===========================================================================

// A port free on 127.0.0.1 a moment ago.
int free_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address.sin_port = 0;
  socklen_t length = sizeof(address);
  if (::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) != 0) {
    ::close(fd);
    return -1;
  }
  ::close(fd);
  return ntohs(address.sin_port);
}

bool can_connect(int port) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address.sin_port = htons(static_cast<uint16_t>(port));
  bool connected = ::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) == 0;
  ::close(fd);
  return connected;
}

// A server that accepts connections (the kernel's backlog does) and never says a word.
class SilentServer {
 public:
  SilentServer() {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t length = sizeof(address);
    ::bind(fd_, reinterpret_cast<sockaddr*>(&address), sizeof(address));
    ::listen(fd_, 16);
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&address), &length);
    port_ = ntohs(address.sin_port);
  }
  ~SilentServer() { ::close(fd_); }
  int port() const { return port_; }

 private:
  int fd_ = -1;
  int port_ = 0;
};

std::vector<std::string> child_env() {
  return {"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "LANG=C.UTF-8", "HOME=/nonexistent"};
}

// Runs a program to completion; its output goes to `log`.
int run_program(const std::vector<std::string>& argv, const fs::path& log) {
  ChildProcessOptions options;
  options.argv = argv;
  options.env = child_env();
  options.output_file = log;
  Result<std::unique_ptr<ChildProcess>> child = ChildProcess::spawn(options);
  if (!child.ok()) return -1;
  if (!(*child)->wait_for_exit(60000)) return -1;
  int status = *(*child)->exit_status();
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

// A self-signed certificate for 127.0.0.1 and localhost: cert.pem and key.pem in `dir`.
void make_certificate(const fs::path& dir) {
  int rc =
      run_program({"openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                   "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", (dir / "key.pem").string(),
                   "-out", (dir / "cert.pem").string(), "-days", "2", "-subj", "/CN=localhost",
                   "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"},
                  dir / "openssl.log");
  ASSERT_EQ(rc, 0) << read_file(dir / "openssl.log");
}

// SIGTERM at once (ChildProcess::stop would first wait for an exit on its
// own), and again until it takes: a server still starting may miss one.
void stop_server(std::unique_ptr<ChildProcess>& child) {
  if (!child) return;
  for (int attempt = 0; attempt < 50 && !child->reap_if_exited(); ++attempt) {
    ::kill(-child->pid(), SIGTERM);
    if (child->wait_for_exit(100)) break;
  }
  child->stop(1000);
  child.reset();
}

int64_t elapsed_ms(std::chrono::steady_clock::time_point since) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() -
                                                               since)
      .count();
}

// ===========================================================================
// SMTP against aiosmtpd
// ===========================================================================

constexpr char kPython[] = "/usr/bin/python3";
constexpr char kSmtpUser[] = "alice";
constexpr char kSmtpPassword[] = "s3cret-smtp-pw";

struct Received {
  Json envelope;
  std::string data;
};

class SmtpPeer {
 public:
  // tls: "starttls", "implicit" or "none".
  static std::unique_ptr<SmtpPeer> start(const fs::path& dir, const std::string& tls) {
    auto peer = std::unique_ptr<SmtpPeer>(new SmtpPeer());
    peer->outbox_ = dir / ("outbox-" + tls);
    const fs::path ready = dir / ("ready-" + tls);
    for (int attempt = 0; attempt < 3 && !peer->child_; ++attempt) {
      peer->port_ = free_port();
      ChildProcessOptions options;
      options.argv = {
          kPython,
          (cadre::testing::source_dir() / "tests/connectors/email_peers/smtp_server.py").string(),
          "--port",
          std::to_string(peer->port_),
          "--outbox",
          peer->outbox_.string(),
          "--ready-file",
          ready.string(),
          "--tls",
          tls,
          "--cert",
          (dir / "cert.pem").string(),
          "--key",
          (dir / "key.pem").string(),
          "--user",
          kSmtpUser,
          "--password",
          kSmtpPassword};
      options.env = child_env();
      options.output_file = dir / ("smtp-" + tls + ".log");
      Result<std::unique_ptr<ChildProcess>> child = ChildProcess::spawn(options);
      if (!child.ok()) {
        ADD_FAILURE() << child.status().to_string();
        return nullptr;
      }
      bool up = eventually([&] { return fs::exists(ready) || (*child)->reap_if_exited(); },
                           std::chrono::seconds(20));
      if (up && fs::exists(ready)) peer->child_ = std::move(*child);
    }
    if (!peer->child_) {
      ADD_FAILURE() << "aiosmtpd did not start: " << read_file(dir / ("smtp-" + tls + ".log"));
      return nullptr;
    }
    return peer;
  }

  ~SmtpPeer() { stop_server(child_); }

  int port() const { return port_; }
  std::string url(const std::string& scheme = "smtp") const {
    return scheme + "://127.0.0.1:" + std::to_string(port_);
  }
  size_t count() const {
    size_t n = 0;
    if (!fs::exists(outbox_)) return 0;
    for (const auto& entry : fs::directory_iterator(outbox_))
      n += entry.path().extension() == ".json";
    return n;
  }
  // Message number `n` (1-based), waiting for it to arrive.
  Received message(size_t n) const {
    const fs::path json = outbox_ / (std::to_string(n) + ".json");
    EXPECT_TRUE(eventually([&] { return fs::exists(json); }))
        << "message " << n << " did not arrive";
    Received received;
    received.envelope = parse_json(read_file(json), json.string()).value_or(Json());
    received.data = read_file(outbox_ / (std::to_string(n) + ".eml"));
    return received;
  }

 private:
  SmtpPeer() = default;
  std::unique_ptr<ChildProcess> child_;
  int port_ = 0;
  fs::path outbox_;
};

class SmtpSenderTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    bool python =
        fs::exists(kPython) && run_program({kPython, "-c", "import aiosmtpd"}, "/dev/null") == 0;
    if (!python) return;
    available_ = true;
    suite_dir_ = std::make_unique<TempDir>();
    make_certificate(suite_dir_->path());
    peer_ = SmtpPeer::start(suite_dir_->path(), "starttls");
  }
  static void TearDownTestSuite() {
    peer_.reset();
    suite_dir_.reset();
  }
  void SetUp() override {
    if (!available_) {
      GTEST_SKIP() << "python3-aiosmtpd is not installed (scripts/install-deps.sh installs it)";
    }
    ASSERT_NE(peer_, nullptr);
  }

  static SmtpSettings settings_for(const SmtpPeer& peer) {
    SmtpSettings settings;
    settings.url = peer.url();
    settings.username = kSmtpUser;
    settings.password = kSmtpPassword;
    settings.ca_file = (suite_dir_->path() / "cert.pem").string();
    settings.timeout = 10000;
    return settings;
  }
  static const fs::path& dir() { return suite_dir_->path(); }

  static inline bool available_ = false;
  static inline std::unique_ptr<TempDir> suite_dir_;
  static inline std::unique_ptr<SmtpPeer> peer_;
};

TEST_F(SmtpSenderTest, DeliversWithHeadersBodyAndEnvelope) {
  ManualClock clock(kSentAt);
  OutgoingEmail email;
  email.from = "Cadre Bot <bot@example.com>";
  email.to = {"alice@example.org", "Bob Ünïcode <bob@example.org>"};
  email.cc = {"carol@example.org"};
  email.bcc = {"dave@example.org"};
  email.subject = "Grüße – weekly report";
  email.text = "Hello Bob,\n.a line starting with a dot\n..and two\n\nNaïve café ☃\n" +
               std::string(300, 'z') + "\n";
  const size_t before = peer_->count();
  Result<Json> sent = send_email(settings_for(*peer_), email, "objective-1/step-3", clock);
  ASSERT_TRUE(sent.ok()) << sent.status().to_string();
  EXPECT_EQ((*sent)["message_id"], message_id_for("objective-1/step-3", "example.com"));
  EXPECT_EQ((*sent)["accepted"], Json({"alice@example.org", "bob@example.org", "carol@example.org",
                                       "dave@example.org"}));
  EXPECT_EQ((*sent)["server"], peer_->url());
  EXPECT_NE(json_text(*sent, "response").find("250"), std::string::npos) << sent->dump();

  Received received = peer_->message(before + 1);
  EXPECT_EQ(received.envelope["mail_from"], "bot@example.com");
  EXPECT_EQ(received.envelope["rcpt_tos"], (*sent)["accepted"]);
  EXPECT_EQ(received.envelope["auth_user"], kSmtpUser);
  MimeMessage message = parse_mime_message(received.data);
  EXPECT_EQ(message.header("Message-ID"), (*sent)["message_id"].get<std::string>());
  EXPECT_EQ(message.header("Date"), "Tue, 03 Mar 2026 09:05:00 +0000");
  EXPECT_EQ(message.decoded_header("From"), "Cadre Bot <bot@example.com>");
  EXPECT_EQ(message.decoded_header("To"), "alice@example.org, Bob Ünïcode <bob@example.org>");
  EXPECT_EQ(message.decoded_header("Cc"), "carol@example.org");
  EXPECT_EQ(message.header("Bcc"), "");
  EXPECT_EQ(received.data.find("dave@"), std::string::npos);
  EXPECT_EQ(message.decoded_header("Subject"), email.subject);
  EXPECT_EQ(message.text, email.text) << "dot-stuffing and quoted-printable undone";
}

TEST_F(SmtpSenderTest, MessageIdIsStableForOneIdempotencyKey) {
  OutgoingEmail email = simple_email();
  const size_t before = peer_->count();
  Result<Json> first = send_email(settings_for(*peer_), email, "run-7/notify");
  Result<Json> again = send_email(settings_for(*peer_), email, "run-7/notify");
  Result<Json> other = send_email(settings_for(*peer_), email, "run-8/notify");
  ASSERT_TRUE(first.ok() && again.ok() && other.ok()) << first.status().to_string();
  EXPECT_EQ((*first)["message_id"], (*again)["message_id"]);
  EXPECT_NE((*first)["message_id"], (*other)["message_id"]);
  EXPECT_EQ(parse_mime_message(peer_->message(before + 1).data).header("Message-ID"),
            parse_mime_message(peer_->message(before + 2).data).header("Message-ID"));
  EXPECT_EQ(parse_mime_message(peer_->message(before + 3).data).header("Message-ID"),
            (*other)["message_id"].get<std::string>());
}

TEST_F(SmtpSenderTest, RefusesHeaderInjectionAndSendsNothing) {
  const size_t before = peer_->count();
  OutgoingEmail email = simple_email();
  email.subject = "Invoice\r\nBcc: everyone@example.net";
  Result<Json> sent = send_email(settings_for(*peer_), email, "k");
  ASSERT_FALSE(sent.ok());
  EXPECT_EQ(sent.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(sent.status().message().find(peer_->url() + ": field 'subject' contains a line break"),
            std::string::npos)
      << sent.status().message();
  EXPECT_EQ(sent.status().message().find("everyone"), std::string::npos)
      << "the value is not quoted";

  email = simple_email();
  email.to = {"ok@example.org", "x@example.org>\r\nDATA"};
  EXPECT_NE(send_email(settings_for(*peer_), email, "k").status().message().find("field 'to[1]'"),
            std::string::npos);
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  EXPECT_EQ(peer_->count(), before);
}

TEST_F(SmtpSenderTest, WrongPasswordIsFailedPreconditionWithoutThePassword) {
  SmtpSettings settings = settings_for(*peer_);
  settings.password = "wrong-password-XYZ";
  Result<Json> sent = send_email(settings, simple_email(), "k");
  ASSERT_FALSE(sent.ok());
  EXPECT_EQ(sent.status().code(), StatusCode::kFailedPrecondition) << sent.status().to_string();
  EXPECT_NE(sent.status().message().find("127.0.0.1:" + std::to_string(peer_->port())),
            std::string::npos);
  EXPECT_NE(sent.status().message().find("refused the login"), std::string::npos);
  EXPECT_EQ(sent.status().message().find("wrong-password-XYZ"), std::string::npos);
  EXPECT_EQ(sent.status().message().find(kSmtpPassword), std::string::npos);
}

TEST_F(SmtpSenderTest, RefusedRecipientSendsNothing) {
  const size_t before = peer_->count();
  OutgoingEmail email = simple_email();
  email.to = {"alice@example.org", "refused-user@example.org"};
  Result<Json> sent = send_email(settings_for(*peer_), email, "k");
  ASSERT_FALSE(sent.ok());
  EXPECT_EQ(sent.status().code(), StatusCode::kFailedPrecondition) << sent.status().to_string();
  EXPECT_NE(sent.status().message().find("SMTP 550"), std::string::npos) << sent.status().message();
  EXPECT_NE(sent.status().message().find("no such user here"), std::string::npos)
      << sent.status().message();
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  EXPECT_EQ(peer_->count(), before);
}

TEST_F(SmtpSenderTest, UntrustedCertificateIsRefused) {
  SmtpSettings settings = settings_for(*peer_);
  settings.ca_file.clear();  // the system's CAs do not know the self-signed one
  Result<Json> sent = send_email(settings, simple_email(), "k");
  ASSERT_FALSE(sent.ok());
  EXPECT_EQ(sent.status().code(), StatusCode::kFailedPrecondition) << sent.status().to_string();
  EXPECT_NE(sent.status().message().find("certificate"), std::string::npos);
}

TEST_F(SmtpSenderTest, ImplicitTlsWorks) {
  std::unique_ptr<SmtpPeer> smtps = SmtpPeer::start(dir(), "implicit");
  ASSERT_NE(smtps, nullptr);
  SmtpSettings settings = settings_for(*smtps);
  settings.url = smtps->url("smtps");
  Result<Json> sent = send_email(settings, simple_email(), "smtps-1");
  ASSERT_TRUE(sent.ok()) << sent.status().to_string();
  EXPECT_EQ(smtps->message(1).envelope["auth_user"], kSmtpUser);
}

TEST_F(SmtpSenderTest, RequiredStarttlsThatIsNotOfferedIsAClearError) {
  std::unique_ptr<SmtpPeer> plain = SmtpPeer::start(dir(), "none");
  ASSERT_NE(plain, nullptr);
  SmtpSettings settings = settings_for(*plain);
  Result<Json> sent = send_email(settings, simple_email(), "k");
  ASSERT_FALSE(sent.ok());
  EXPECT_EQ(sent.status().code(), StatusCode::kFailedPrecondition) << sent.status().to_string();
  EXPECT_NE(sent.status().message().find("does not offer STARTTLS"), std::string::npos);
  EXPECT_EQ(plain->count(), 0u);

  // A local relay without TLS, when the caller says so.
  settings.require_tls = false;
  Result<Json> relayed = send_email(settings, simple_email(), "k");
  ASSERT_TRUE(relayed.ok()) << relayed.status().to_string();
  EXPECT_EQ(plain->message(1).envelope["rcpt_tos"], Json({"alice@example.org"}));
}

TEST_F(SmtpSenderTest, ServerDownIsUnavailable) {
  SmtpSettings settings = settings_for(*peer_);
  settings.url = "smtp://127.0.0.1:" + std::to_string(free_port());
  Result<Json> sent = send_email(settings, simple_email(), "k");
  ASSERT_FALSE(sent.ok());
  EXPECT_EQ(sent.status().code(), StatusCode::kUnavailable) << sent.status().to_string();
  EXPECT_NE(sent.status().message().find(settings.url), std::string::npos);
}

TEST_F(SmtpSenderTest, SilentServerHitsTheTimeout) {
  SilentServer silent;
  SmtpSettings settings = settings_for(*peer_);
  settings.url = "smtp://127.0.0.1:" + std::to_string(silent.port());
  settings.timeout = 1000;
  auto started = std::chrono::steady_clock::now();
  Result<Json> sent = send_email(settings, simple_email(), "k");
  const int64_t took = elapsed_ms(started);
  ASSERT_FALSE(sent.ok());
  EXPECT_EQ(sent.status().code(), StatusCode::kDeadlineExceeded) << sent.status().to_string();
  EXPECT_GE(took, 900);
  EXPECT_LT(took, 3000);
}

TEST_F(SmtpSenderTest, BadSettingsAreInvalidArgument) {
  SmtpSettings settings = settings_for(*peer_);
  settings.url = "http://127.0.0.1:25";
  EXPECT_EQ(send_email(settings, simple_email(), "k").status().code(),
            StatusCode::kInvalidArgument);
  settings.url = "smtp://alice:" + std::string(kSmtpPassword) + "@127.0.0.1:25";
  Result<Json> with_credentials = send_email(settings, simple_email(), "k");
  EXPECT_EQ(with_credentials.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(with_credentials.status().message().find(kSmtpPassword), std::string::npos)
      << with_credentials.status().message();
  settings = settings_for(*peer_);
  settings.timeout = 0;
  EXPECT_EQ(send_email(settings, simple_email(), "k").status().code(),
            StatusCode::kInvalidArgument);
}

// ===========================================================================
// IMAP against Dovecot
// ===========================================================================

constexpr char kDovecot[] = "/usr/sbin/dovecot";
constexpr char kImapUser[] = "reader";
constexpr char kImapPassword[] = "s3cret-imap-pw";

std::string replace_all(std::string text, const std::string& from, const std::string& to) {
  for (size_t at = text.find(from); at != std::string::npos; at = text.find(from, at + to.size())) {
    text.replace(at, from.size(), to);
  }
  return text;
}

size_t collect_output(char* data, size_t size, size_t count, void* user) {
  static_cast<std::string*>(user)->append(data, size * count);
  return size * count;
}

size_t read_string(char* buffer, size_t size, size_t count, void* user) {
  auto* source = static_cast<std::pair<const std::string*, size_t>*>(user);
  size_t n = std::min(size * count, source->first->size() - source->second);
  std::memcpy(buffer, source->first->data() + source->second, n);
  source->second += n;
  return n;
}

class DovecotPeer {
 public:
  // `dir` holds cert.pem and key.pem already.
  static std::unique_ptr<DovecotPeer> start(const fs::path& dir) {
    auto peer = std::unique_ptr<DovecotPeer>(new DovecotPeer());
    peer->dir_ = dir;
    std::error_code ec;
    fs::create_directories(dir / "mail", ec);
    // Root runs Dovecot's login and internal processes as its package users
    // and the mail user as nobody; anyone else runs everything as themselves.
    std::string login_user, internal_user;
    uid_t mail_uid = ::getuid();
    gid_t mail_gid = ::getgid();
    if (::getuid() == 0) {
      login_user = "dovenull";
      internal_user = "dovecot";
      mail_uid = 65534;
      mail_gid = 65534;
      if (::chown((dir / "mail").c_str(), mail_uid, mail_gid) != 0) {
        ADD_FAILURE() << "chown of the mail folder failed";
      }
    } else {
      passwd* me = ::getpwuid(::getuid());
      login_user = internal_user = me ? me->pw_name : "nobody";
    }
    fs::permissions(dir, fs::perms::owner_all | fs::perms::group_read | fs::perms::group_exec |
                             fs::perms::others_read | fs::perms::others_exec);
    write_file(dir / "users", std::string(kImapUser) + ":{PLAIN}" + kImapPassword + ":" +
                                  std::to_string(mail_uid) + ":" + std::to_string(mail_gid) +
                                  "::" + (dir / "mail" / kImapUser).string() + "::\n");
    const std::string config_template =
        read_file(cadre::testing::source_dir() / "tests/connectors/email_peers/dovecot.conf.in");
    // Free ports may be taken again by the time Dovecot binds them (tests run in parallel).
    for (int attempt = 1; attempt <= 3; ++attempt) {
      peer->port_ = free_port();
      peer->tls_port_ = free_port();
      std::string config = replace_all(config_template, "@DIR@", dir.string());
      config = replace_all(config, "@PORT_IMAP@", std::to_string(peer->port_));
      config = replace_all(config, "@PORT_IMAPS@", std::to_string(peer->tls_port_));
      config = replace_all(config, "@LOGIN_USER@", login_user);
      config = replace_all(config, "@INTERNAL_USER@", internal_user);
      write_file(dir / "dovecot.conf", config);
      if (peer->launch(/*report_failure=*/attempt == 3)) return peer;
    }
    return nullptr;
  }

  ~DovecotPeer() { stop(); }

  bool launch(bool report_failure = true) {
    // Up: "starting up" logged by this run (Dovecot binds its listeners
    // before it says so) and both ports answer.
    const fs::path log = dir_ / "dovecot.log";
    const size_t log_start = fs::exists(log) ? read_file(log).size() : 0;
    auto started = [&] {
      return read_file(log).find("starting up", log_start) != std::string::npos &&
             can_connect(port_) && can_connect(tls_port_);
    };
    ChildProcessOptions options;
    options.argv = {kDovecot, "-F", "-c", (dir_ / "dovecot.conf").string()};
    options.env = child_env();
    options.output_file = dir_ / "dovecot.out";
    Result<std::unique_ptr<ChildProcess>> child = ChildProcess::spawn(options);
    if (!child.ok()) {
      ADD_FAILURE() << child.status().to_string();
      return false;
    }
    child_ = std::move(*child);
    bool up =
        eventually([&] { return child_->reap_if_exited() || started(); }, std::chrono::seconds(20));
    if (!up || child_->exit_status()) {
      if (report_failure) {
        ADD_FAILURE() << "dovecot did not start: " << read_file(dir_ / "dovecot.out")
                      << read_file(dir_ / "dovecot.log");
      }
      stop_server(child_);
      return false;
    }
    return true;
  }

  void stop() { stop_server(child_); }

  int port() const { return port_; }
  int tls_port() const { return tls_port_; }
  const fs::path& dir() const { return dir_; }

  ImapSettings settings(const std::string& mailbox = "INBOX") const {
    ImapSettings settings;
    settings.url = "imap://127.0.0.1:" + std::to_string(port_) + "/" + mailbox;
    settings.username = kImapUser;
    settings.password = kImapPassword;
    settings.ca_file = (dir_ / "cert.pem").string();
    settings.timeout = 10000;
    return settings;
  }

  // The test's own IMAP client, through curl's IMAP support.
  // APPEND a message to `mailbox`.
  void append(const std::string& mailbox, const std::string& message) const {
    std::pair<const std::string*, size_t> source{&message, 0};
    std::string output;
    CURLcode code = run_curl("/" + mailbox, "", &source, &output);
    ASSERT_EQ(code, CURLE_OK) << "APPEND to " << mailbox << ": " << curl_easy_strerror(code);
  }
  // A command on the account (CREATE, DELETE…) or, with a mailbox, after selecting it.
  std::string command(const std::string& command, const std::string& mailbox = "") const {
    std::string output;
    CURLcode code = run_curl("/" + mailbox, command, nullptr, &output);
    EXPECT_EQ(code, CURLE_OK) << command << ": " << curl_easy_strerror(code);
    return output;
  }

 private:
  DovecotPeer() = default;

  CURLcode run_curl(const std::string& path, const std::string& custom,
                    std::pair<const std::string*, size_t>* upload, std::string* output) const {
    CurlEasy curl(curl_easy_init());
    const std::string url = "imap://127.0.0.1:" + std::to_string(port_) + path;
    const std::string ca = (dir_ / "cert.pem").string();
    curl_easy_setopt(curl.get(), CURLOPT_URL, url.c_str());
    curl_easy_setopt(curl.get(), CURLOPT_USE_SSL, CURLUSESSL_ALL);
    curl_easy_setopt(curl.get(), CURLOPT_CAINFO, ca.c_str());
    curl_easy_setopt(curl.get(), CURLOPT_USERNAME, kImapUser);
    curl_easy_setopt(curl.get(), CURLOPT_PASSWORD, kImapPassword);
    curl_easy_setopt(curl.get(), CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(curl.get(), CURLOPT_TIMEOUT_MS, 10000L);
    curl_easy_setopt(curl.get(), CURLOPT_WRITEFUNCTION, collect_output);
    curl_easy_setopt(curl.get(), CURLOPT_WRITEDATA, output);
    if (!custom.empty()) curl_easy_setopt(curl.get(), CURLOPT_CUSTOMREQUEST, custom.c_str());
    if (upload) {
      curl_easy_setopt(curl.get(), CURLOPT_UPLOAD, 1L);
      curl_easy_setopt(curl.get(), CURLOPT_READFUNCTION, read_string);
      curl_easy_setopt(curl.get(), CURLOPT_READDATA, upload);
      curl_easy_setopt(curl.get(), CURLOPT_INFILESIZE_LARGE,
                       static_cast<curl_off_t>(upload->first->size()));
    }
    return curl_easy_perform(curl.get());
  }

  fs::path dir_;
  int port_ = 0;
  int tls_port_ = 0;
  std::unique_ptr<ChildProcess> child_;
};

std::string plain_message(int n, const std::string& extra_headers = "") {
  return "From: Sender " + std::to_string(n) + " <sender" + std::to_string(n) +
         "@example.org>\r\n"
         "To: reader@example.com\r\n"
         "Subject: message " +
         std::to_string(n) +
         "\r\n"
         "Date: Tue, 03 Mar 2026 09:0" +
         std::to_string(n % 10) +
         ":00 +0100\r\n"
         "Message-ID: <m" +
         std::to_string(n) + "@example.org>\r\n" + extra_headers +
         "\r\n"
         "body of message " +
         std::to_string(n) + "\r\n";
}

std::vector<uint64_t> uids_of(const ImapBatch& batch) {
  std::vector<uint64_t> uids;
  for (const auto& message : batch.messages) uids.push_back(message.uid);
  return uids;
}

std::vector<std::string> subjects_of(const ImapBatch& batch) {
  std::vector<std::string> subjects;
  for (const auto& message : batch.messages) subjects.push_back(message.subject);
  return subjects;
}

// One Dovecot per test: each starts from an empty mail store.
class ImapReaderTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!fs::exists(kDovecot)) {
      GTEST_SKIP() << "dovecot-imapd is not installed (scripts/install-deps.sh installs it)";
    }
    make_certificate(dir_.path());
    if (HasFatalFailure()) return;
    peer_ = DovecotPeer::start(dir_.path());
    ASSERT_NE(peer_, nullptr);
  }
  void TearDown() override {
    if (peer_) peer_->stop();
  }

  TempDir dir_;
  std::unique_ptr<DovecotPeer> peer_;
};

TEST_F(ImapReaderTest, FetchesEverythingThenOnlyWhatIsNewAcrossRestarts) {
  for (int n = 1; n <= 3; ++n) peer_->append("INBOX", plain_message(n));
  Result<ImapBatch> first = fetch_new_emails(peer_->settings(), ImapCursor{}, 50);
  ASSERT_TRUE(first.ok()) << first.status().to_string();
  EXPECT_FALSE(first->uidvalidity_changed);
  EXPECT_EQ(uids_of(*first), (std::vector<uint64_t>{1, 2, 3}));
  EXPECT_EQ(subjects_of(*first), (std::vector<std::string>{"message 1", "message 2", "message 3"}));
  const IncomingEmail& one = first->messages[0];
  EXPECT_EQ(one.message_id, "<m1@example.org>");
  EXPECT_EQ(one.from, "Sender 1 <sender1@example.org>");
  EXPECT_EQ(one.to, "reader@example.com");
  EXPECT_EQ(one.date, "2026-03-03T08:01:00.000Z");
  EXPECT_EQ(one.text, "body of message 1\n");
  EXPECT_NE(first->cursor.uidvalidity, 0u);
  EXPECT_EQ(first->cursor.last_uid, 3u);

  // Nothing new: an empty batch, the same cursor.
  Result<ImapBatch> idle = fetch_new_emails(peer_->settings(), first->cursor, 50);
  ASSERT_TRUE(idle.ok()) << idle.status().to_string();
  EXPECT_TRUE(idle->messages.empty());
  EXPECT_EQ(idle->cursor.last_uid, 3u);

  // The cursor is persisted as JSON and the server restarts in between.
  const std::string saved = dump_json(first->cursor.to_json());
  for (int n = 4; n <= 5; ++n) peer_->append("INBOX", plain_message(n));
  peer_->stop();
  ASSERT_TRUE(peer_->launch());
  peer_->append("INBOX", plain_message(6));
  Result<ImapCursor> restored = ImapCursor::from_json(parse_json(saved, "cursor").value());
  ASSERT_TRUE(restored.ok());
  Result<ImapBatch> second = fetch_new_emails(peer_->settings(), *restored, 50);
  ASSERT_TRUE(second.ok()) << second.status().to_string();
  EXPECT_FALSE(second->uidvalidity_changed);
  EXPECT_EQ(uids_of(*second), (std::vector<uint64_t>{4, 5, 6}));
  EXPECT_EQ(second->cursor.last_uid, 6u);

  // A batch handed out again (cursor not saved) is the same batch.
  Result<ImapBatch> replayed = fetch_new_emails(peer_->settings(), *restored, 50);
  ASSERT_TRUE(replayed.ok());
  EXPECT_EQ(uids_of(*replayed), uids_of(*second));
}

TEST_F(ImapReaderTest, PagesByLimitWithoutDuplicatesOrGaps) {
  for (int n = 1; n <= 7; ++n) peer_->append("INBOX", plain_message(n));
  ImapCursor cursor;
  std::vector<uint64_t> seen;
  std::vector<size_t> batch_sizes;
  for (int round = 0; round < 6; ++round) {
    Result<ImapBatch> batch = fetch_new_emails(peer_->settings(), cursor, 3);
    ASSERT_TRUE(batch.ok()) << batch.status().to_string();
    batch_sizes.push_back(batch->messages.size());
    for (uint64_t uid : uids_of(*batch)) seen.push_back(uid);
    cursor = batch->cursor;
    if (round == 1) peer_->append("INBOX", plain_message(8));  // arrives mid-way
  }
  EXPECT_EQ(seen, (std::vector<uint64_t>{1, 2, 3, 4, 5, 6, 7, 8}));
  EXPECT_EQ(batch_sizes, (std::vector<size_t>{3, 3, 2, 0, 0, 0}));
}

TEST_F(ImapReaderTest, NeverMarksMessagesSeen) {
  peer_->append("INBOX", plain_message(1));
  peer_->command("STORE 1 -FLAGS (\\Seen)", "INBOX");  // curl's APPEND sets \Seen
  auto seen = [&] {
    std::string flags = peer_->command("FETCH 1 (FLAGS)", "INBOX");
    size_t fetch_line = flags.find("FETCH (FLAGS");
    EXPECT_NE(fetch_line, std::string::npos) << flags;
    return fetch_line != std::string::npos && flags.find("\\Seen", fetch_line) != std::string::npos;
  };
  ASSERT_FALSE(seen());
  Result<ImapBatch> batch = fetch_new_emails(peer_->settings(), ImapCursor{}, 10);
  ASSERT_TRUE(batch.ok()) << batch.status().to_string();
  ASSERT_EQ(batch->messages.size(), 1u);
  EXPECT_FALSE(seen());
  peer_->command("FETCH 1 (BODY[])", "INBOX");  // what a reader that is not read-only does
  EXPECT_TRUE(seen()) << "the probe sees \\Seen when it is there";
}

TEST_F(ImapReaderTest, ReportsAChangedUidvalidityAndStartsAfresh) {
  peer_->command("CREATE Feed");
  for (int n = 1; n <= 2; ++n) peer_->append("Feed", plain_message(n));
  Result<ImapBatch> before = fetch_new_emails(peer_->settings("Feed"), ImapCursor{}, 10);
  ASSERT_TRUE(before.ok()) << before.status().to_string();
  ASSERT_EQ(before->cursor.last_uid, 2u);

  peer_->command("DELETE Feed");
  peer_->command("CREATE Feed");
  peer_->append("Feed", plain_message(9));
  Result<ImapBatch> after = fetch_new_emails(peer_->settings("Feed"), before->cursor, 10);
  ASSERT_TRUE(after.ok()) << after.status().to_string();
  EXPECT_TRUE(after->uidvalidity_changed);
  EXPECT_NE(after->cursor.uidvalidity, before->cursor.uidvalidity);
  EXPECT_EQ(uids_of(*after), (std::vector<uint64_t>{1}));
  EXPECT_EQ(subjects_of(*after), (std::vector<std::string>{"message 9"}));

  Result<ImapBatch> next = fetch_new_emails(peer_->settings("Feed"), after->cursor, 10);
  ASSERT_TRUE(next.ok());
  EXPECT_FALSE(next->uidvalidity_changed);
  EXPECT_TRUE(next->messages.empty());
}

TEST_F(ImapReaderTest, DecodesMimeMessages) {
  peer_->append("INBOX",
                "From: =?ISO-8859-1?Q?Andr=E9?= <andre@example.org>\r\n"
                "To: reader@example.com\r\n"
                "Subject: =?UTF-8?B?R3LDvMOfZSDigJMg4piD?=\r\n"
                "MIME-Version: 1.0\r\n"
                "Content-Type: multipart/alternative; boundary=\"alt\"\r\n\r\n"
                "--alt\r\n"
                "Content-Type: text/plain; charset=utf-8\r\n"
                "Content-Transfer-Encoding: base64\r\n\r\n" +
                    base64_encode("Plain text, ünïcode ☃\nsecond line") +
                    "\r\n--alt\r\n"
                    "Content-Type: text/html; charset=utf-8\r\n\r\n"
                    "<p>HTML</p>\r\n"
                    "--alt--\r\n");
  peer_->append("INBOX",
                "From: sender@example.org\r\n"
                "Subject: =?iso-8859-1?q?caf=E9?= and more\r\n"
                "Content-Type: text/plain; charset=iso-8859-1\r\n"
                "Content-Transfer-Encoding: quoted-printable\r\n\r\n"
                "Un caf=E9 cr=E8me, s'il vous pla=EEt. Soft=\r\n"
                " break.\r\n");
  peer_->append("INBOX",
                "From: html@example.org\r\n"
                "Subject: html only\r\n"
                "Content-Type: text/html; charset=utf-8\r\n\r\n"
                "<html><body><h1>Title</h1><p>One &amp; two</p></body></html>\r\n");
  Result<ImapBatch> batch = fetch_new_emails(peer_->settings(), ImapCursor{}, 10);
  ASSERT_TRUE(batch.ok()) << batch.status().to_string();
  ASSERT_EQ(batch->messages.size(), 3u);
  EXPECT_EQ(batch->messages[0].from, "André <andre@example.org>");
  EXPECT_EQ(batch->messages[0].subject, "Grüße – ☃");
  EXPECT_EQ(batch->messages[0].text, "Plain text, ünïcode ☃\nsecond line");
  EXPECT_EQ(batch->messages[0].message_id, "");
  EXPECT_EQ(batch->messages[1].subject, "café and more");
  EXPECT_EQ(batch->messages[1].text, "Un café crème, s'il vous plaît. Soft break.\n");
  EXPECT_EQ(batch->messages[2].text, "Title\n\nOne & two");
  EXPECT_FALSE(batch->messages[2].truncated);
}

TEST_F(ImapReaderTest, ReadsTheStartOfALargeMessage) {
  std::string attachment;
  for (int line = 0; line < 30000; ++line)
    attachment += base64_encode(std::string(54, 'A' + line % 26)) + "\r\n";
  peer_->append("INBOX",
                "From: big@example.org\r\n"
                "Subject: large\r\n"
                "Content-Type: multipart/mixed; boundary=m\r\n\r\n"
                "--m\r\n"
                "Content-Type: text/plain; charset=utf-8\r\n\r\n"
                "See the attachment.\r\n"
                "--m\r\n"
                "Content-Type: application/octet-stream\r\n"
                "Content-Disposition: attachment; filename=big.bin\r\n"
                "Content-Transfer-Encoding: base64\r\n\r\n" +
                    attachment + "--m--\r\n");
  peer_->append("INBOX", plain_message(2));
  Result<ImapBatch> batch = fetch_new_emails(peer_->settings(), ImapCursor{}, 10);
  ASSERT_TRUE(batch.ok()) << batch.status().to_string();
  ASSERT_EQ(batch->messages.size(), 2u);
  EXPECT_EQ(batch->messages[0].text, "See the attachment.");
  EXPECT_TRUE(batch->messages[0].truncated) << "2.2 MB read up to its first MiB";
  EXPECT_EQ(batch->messages[1].subject, "message 2");
  EXPECT_FALSE(batch->messages[1].truncated);
}

TEST_F(ImapReaderTest, ImplicitTlsWorks) {
  peer_->append("INBOX", plain_message(1));
  ImapSettings settings = peer_->settings();
  settings.url = "imaps://127.0.0.1:" + std::to_string(peer_->tls_port()) + "/INBOX";
  Result<ImapBatch> batch = fetch_new_emails(settings, ImapCursor{}, 10);
  ASSERT_TRUE(batch.ok()) << batch.status().to_string();
  EXPECT_EQ(uids_of(*batch), (std::vector<uint64_t>{1}));
}

TEST_F(ImapReaderTest, WrongPasswordIsFailedPreconditionWithoutThePassword) {
  ImapSettings settings = peer_->settings();
  settings.password = "wrong-password-XYZ";
  Result<ImapBatch> batch = fetch_new_emails(settings, ImapCursor{}, 10);
  ASSERT_FALSE(batch.ok());
  EXPECT_EQ(batch.status().code(), StatusCode::kFailedPrecondition) << batch.status().to_string();
  EXPECT_NE(batch.status().message().find("imap://127.0.0.1:" + std::to_string(peer_->port())),
            std::string::npos);
  EXPECT_EQ(batch.status().message().find("wrong-password-XYZ"), std::string::npos);
  EXPECT_EQ(batch.status().message().find(kImapPassword), std::string::npos);
}

TEST_F(ImapReaderTest, UntrustedCertificateAndMissingMailboxAreRefused) {
  ImapSettings settings = peer_->settings();
  settings.ca_file.clear();
  Result<ImapBatch> untrusted = fetch_new_emails(settings, ImapCursor{}, 10);
  EXPECT_EQ(untrusted.status().code(), StatusCode::kFailedPrecondition)
      << untrusted.status().to_string();

  Result<ImapBatch> missing = fetch_new_emails(peer_->settings("NoSuchBox"), ImapCursor{}, 10);
  EXPECT_EQ(missing.status().code(), StatusCode::kNotFound) << missing.status().to_string();
  EXPECT_NE(missing.status().message().find("\"NoSuchBox\""), std::string::npos);
}

TEST_F(ImapReaderTest, ServerDownIsUnavailableAndSilenceIsADeadline) {
  ImapSettings settings = peer_->settings();
  peer_->stop();
  Result<ImapBatch> down = fetch_new_emails(settings, ImapCursor{}, 10);
  EXPECT_EQ(down.status().code(), StatusCode::kUnavailable) << down.status().to_string();
  EXPECT_NE(down.status().message().find("127.0.0.1:" + std::to_string(peer_->port())),
            std::string::npos);

  SilentServer silent;
  settings.url = "imap://127.0.0.1:" + std::to_string(silent.port()) + "/INBOX";
  settings.timeout = 1000;
  auto started = std::chrono::steady_clock::now();
  Result<ImapBatch> silence = fetch_new_emails(settings, ImapCursor{}, 10);
  const int64_t took = elapsed_ms(started);
  EXPECT_EQ(silence.status().code(), StatusCode::kDeadlineExceeded) << silence.status().to_string();
  EXPECT_GE(took, 900);
  EXPECT_LT(took, 3000);
}

TEST_F(ImapReaderTest, BadSettingsAreInvalidArgument) {
  ImapSettings settings = peer_->settings();
  EXPECT_EQ(fetch_new_emails(settings, ImapCursor{}, 0).status().code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(fetch_new_emails(settings, ImapCursor{}, kMaxImapFetchLimit + 1).status().code(),
            StatusCode::kInvalidArgument);
  settings.username.clear();
  EXPECT_EQ(fetch_new_emails(settings, ImapCursor{}, 1).status().code(),
            StatusCode::kInvalidArgument);
  settings = peer_->settings();
  settings.url = "imap://127.0.0.1:" + std::to_string(peer_->port()) + "/INBOX?SEARCH";
  EXPECT_EQ(fetch_new_emails(settings, ImapCursor{}, 1).status().code(),
            StatusCode::kInvalidArgument);
}


// ===========================================================================
// The email connector in a workspace, through `cadre serve`
// ===========================================================================

// New mail becomes events that a playbook answers over SMTP; `cadre serve`
// killed (-9) and restarted between deliveries neither misses a message nor
// handles one twice, and the replies go out once each.
class EmailConnectorScenario : public ::testing::Test {
 protected:
  void SetUp() override {
    const bool python = fs::exists(kPython) && run_program({kPython, "-c", "import aiosmtpd"}, "/dev/null") == 0;
    if (!fs::exists(kDovecot) || !python) {
      GTEST_SKIP() << "dovecot-imapd or python3-aiosmtpd is not installed (scripts/install-deps.sh installs them)";
    }
    make_certificate(dir_.path());
    if (HasFatalFailure()) return;
    imap_ = DovecotPeer::start(dir_.path());
    ASSERT_NE(imap_, nullptr);
    smtp_ = SmtpPeer::start(dir_.path(), "starttls");
    ASSERT_NE(smtp_, nullptr);
    ASSERT_EQ(cadre::testing::run_cadre({"init", ws_.string()}).exit_code, cadre::testing::kExitOk);
    const std::string ca = (dir_.path() / "cert.pem").string();
    write_file(ws_ / "cadre.yaml",
               "name: mail\n"
               "kernel: {workers: 2, poll_interval: 50ms, heartbeat: 1s, lease: 3s, shutdown_grace: 2s}\n"
               "connectors:\n"
               "  mail:\n"
               "    type: email\n"
               "    from: Support <support@example.com>\n"
               "    smtp: {url: \"" + smtp_->url() + "\", username: " + kSmtpUser +
                   ", password: \"${secret:SMTP_PASSWORD}\", ca_file: " + ca + "}\n"
               "    imap: {url: \"" + imap_->settings().url + "\", username: " + kImapUser +
                   ", password: \"${secret:IMAP_PASSWORD}\", ca_file: " + ca + ", every: 1s, event: mail.in}\n");
    write_file(ws_ / "policies.yaml",
               "rules:\n"
               "  - name: auto-replies\n"
               "    match: {tool: mail.send, args: {subject: {matches: \"Re: *\"}}}\n"
               "    decision: allow\n"
               "    reason: acknowledgements may go out unasked\n");
    write_file(ws_ / "playbooks" / "acknowledge.yaml",
               "description: Acknowledge every message\n"
               "triggers:\n  - event: mail.in\n"
               "    inputs: {uid: \"{{ event.data.uid }}\", from: \"{{ event.data.from }}\", "
               "subject: \"{{ event.data.subject }}\"}\n"
               "inputs:\n  uid: {type: integer}\n  from: {type: string}\n  subject: {type: string}\n"
               "steps:\n"
               "  - id: reply\n    uses: mail.send\n"
               "    with: {to: \"{{ input.from }}\", subject: \"Re: {{ input.subject }}\", "
               "text: \"We got your message.\"}\n"
               "  - id: note\n    uses: file.append\n"
               "    with: {path: handled.log, content: \"{{ input.uid }}\"}\n");
    for (const auto& [name, value] : {std::pair{"SMTP_PASSWORD", kSmtpPassword}, std::pair{"IMAP_PASSWORD", kImapPassword}}) {
      auto set = cadre::testing::run_cadre_with_input({"secret", "set", name}, ws_, std::string(value) + "\n");
      ASSERT_EQ(set.exit_code, cadre::testing::kExitOk) << set.err;
    }
    auto check = cadre::testing::run_cadre({"check"}, ws_);
    ASSERT_EQ(check.exit_code, cadre::testing::kExitOk) << check.out << check.err;
  }
  void TearDown() override {
    stop_serving(SIGTERM);
    smtp_.reset();
    if (imap_) imap_->stop();
  }
  void serve() {
    server_ = cadre::testing::spawn_cadre({"serve"}, ws_, dir_.path() / ("serve-" + std::to_string(++logs_) + ".log"));
  }
  void stop_serving(int signal) {
    if (server_ > 0) cadre::testing::stop_process(server_, signal);
    server_ = -1;
  }
  std::vector<std::string> handled() const {
    std::vector<std::string> lines;
    std::string text = read_file(ws_ / "handled.log");
    for (size_t start = 0, end; start < text.size(); start = end + 1) {
      end = text.find('\n', start);
      if (end == std::string::npos) end = text.size();
      if (end > start) lines.push_back(text.substr(start, end - start));
    }
    return lines;
  }

  TempDir dir_;
  fs::path ws_ = dir_.path() / "ws";
  std::unique_ptr<DovecotPeer> imap_;
  std::unique_ptr<SmtpPeer> smtp_;
  int server_ = -1;
  int logs_ = 0;
};

TEST_F(EmailConnectorScenario, EachNewMessageIsAnsweredOnceAcrossKills) {
  for (int n = 1; n <= 3; ++n) imap_->append("INBOX", plain_message(n));
  serve();
  ASSERT_TRUE(eventually([&] { return handled().size() == 3; }, std::chrono::seconds(30)))
      << handled().size() << " handled; " << read_file(dir_.path() / "serve-1.log");
  stop_serving(SIGKILL);
  for (int n = 4; n <= 5; ++n) imap_->append("INBOX", plain_message(n));
  serve();
  ASSERT_TRUE(eventually([&] { return handled().size() == 5; }, std::chrono::seconds(30))) << handled().size();
  stop_serving(SIGKILL);
  serve();  // nothing new: nothing more happens
  std::this_thread::sleep_for(std::chrono::milliseconds(2500));
  std::vector<std::string> lines = handled();
  std::sort(lines.begin(), lines.end());  // two workers: in any order, but each once
  EXPECT_EQ(lines, (std::vector<std::string>{"1", "2", "3", "4", "5"}));
  ASSERT_TRUE(eventually([&] { return smtp_->count() == 5; }, std::chrono::seconds(10))) << smtp_->count();
  std::vector<std::string> replies;
  for (size_t n = 1; n <= 5; ++n) {
    const std::string data = smtp_->message(n).data;
    const size_t at = data.find("Subject: Re: message ");
    ASSERT_NE(at, std::string::npos) << data;
    const std::string number = data.substr(at + 21, 1);
    replies.push_back(number);
    EXPECT_NE(data.find("To: Sender " + number + " <sender" + number + "@example.org>"), std::string::npos) << data;
  }
  std::sort(replies.begin(), replies.end());
  EXPECT_EQ(replies, (std::vector<std::string>{"1", "2", "3", "4", "5"}));
  EXPECT_EQ(smtp_->count(), 5u);
  auto listed = cadre::testing::run_cadre({"connectors", "--json"}, ws_);
  EXPECT_NE(listed.out.find("\"type\": \"email\""), std::string::npos) << listed.out;
  EXPECT_EQ(listed.out.find(kSmtpPassword), std::string::npos);
}

}  // namespace
}  // namespace cadre
