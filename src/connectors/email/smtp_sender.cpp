#include "connectors/email/smtp_sender.h"

#include <cctype>
#include <cstring>

#include "connectors/email/mail_curl.h"

namespace cadre {
namespace {

struct Upload {
  const std::string* data;
  size_t offset = 0;
};

// curl's read callback is C: nothing may throw across it.
size_t read_upload(char* buffer, size_t size, size_t count, void* user) {
  auto* upload = static_cast<Upload*>(user);
  size_t wanted = size * count;
  size_t left = upload->data->size() - upload->offset;
  size_t n = wanted < left ? wanted : left;
  std::memcpy(buffer, upload->data->data() + upload->offset, n);
  upload->offset += n;
  return n;
}

CurlList address_list(const std::vector<std::string>& addresses) {
  CurlList list;
  for (const auto& address : addresses) {
    curl_slist* extended = curl_slist_append(list.get(), ("<" + address + ">").c_str());
    if (extended == nullptr) return CurlList();
    (void)list.release();
    list.reset(extended);
  }
  return list;
}

// The EHLO name is the URL's path: a host name or an address literal.
bool is_ehlo_name(std::string_view name) {
  for (char c : name) {
    if (!std::isalnum(static_cast<unsigned char>(c)) &&
        std::string_view(".-[]:").find(c) == std::string_view::npos) {
      return false;
    }
  }
  return name.size() <= 255;
}

// A refusal the server answered with (curl: "RCPT failed: 550" and the like).
Status refusal(const MailCurl& mail, long smtp_code) {
  std::string message =
      mail.server().where() + ": the server refused the message (SMTP " + std::to_string(smtp_code);
  // curl's text says which command it was ("RCPT failed: 550").
  std::string detail = mail.safe_detail(mail.curl_error_text());
  if (!detail.empty()) message += ", " + detail;
  message += ")";
  std::string line = mail.safe_detail(mail.server_answer());
  if (!line.empty()) message += ": \"" + line + "\"";
  if (smtp_code < 500) return Status::Unavailable(message);
  if (smtp_code == 552) return Status::ResourceExhausted(message);
  if (smtp_code == 501 || smtp_code == 553) return Status::InvalidArgument(message);
  return Status::FailedPrecondition(message);
}

}  // namespace

Result<Json> send_email(const SmtpSettings& settings, const OutgoingEmail& email,
                        const std::string& idempotency_key, const Clock& clock) {
  CADRE_ASSIGN_OR_RETURN(MailServer server, parse_mail_url(settings.url, "smtp", "smtps"));
  if (!is_ehlo_name(server.path)) {
    return Status::InvalidArgument(server.where() +
                                   ": the URL's path (the EHLO name) is not a host name");
  }
  Result<ComposedEmail> composed = compose_email(email, idempotency_key, clock.now_ms());
  if (!composed.ok()) return composed.status().with_context(server.where());

  MailAccess access{settings.username, settings.password, settings.require_tls, settings.ca_file,
                    settings.timeout};
  const std::string url =
      server.scheme + "://" + server.host + ":" + std::to_string(server.port) + "/" + server.path;
  CADRE_ASSIGN_OR_RETURN(std::unique_ptr<MailCurl> mail, MailCurl::open(server, access, url));
  CURL* curl = mail->get();

  CurlList recipients = address_list(composed->recipients);
  if (!recipients) return Status::ResourceExhausted(server.where() + ": out of memory");
  const std::string mail_from = "<" + composed->envelope_from + ">";
  Upload upload{&composed->data};
  curl_easy_setopt(curl, CURLOPT_MAIL_FROM, mail_from.c_str());
  curl_easy_setopt(curl, CURLOPT_MAIL_RCPT, recipients.get());
  curl_easy_setopt(curl, CURLOPT_UPLOAD, 1L);
  curl_easy_setopt(curl, CURLOPT_READFUNCTION, read_upload);
  curl_easy_setopt(curl, CURLOPT_READDATA, &upload);
  curl_easy_setopt(curl, CURLOPT_INFILESIZE_LARGE, static_cast<curl_off_t>(composed->data.size()));

  CURLcode code = curl_easy_perform(curl);
  if (code != CURLE_OK) {
    long smtp_code = 0;
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &smtp_code);
    const bool answered =
        code == CURLE_SEND_ERROR || code == CURLE_WEIRD_SERVER_REPLY || code == CURLE_RECV_ERROR;
    if (answered && smtp_code >= 400 && smtp_code < 600) {
      return refusal(*mail, smtp_code);
    }
    return mail->error(code);
  }

  Json accepted = Json::array();
  for (const auto& address : composed->recipients) accepted.push_back(address);
  return Json{{"message_id", composed->message_id},
              {"accepted", std::move(accepted)},
              {"server", server.where()},
              {"response", mail->last_server_line()}};
}

}  // namespace cadre
