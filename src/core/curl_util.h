// What the code that drives libcurl shares: curl's global setup done once,
// handles that free themselves, and the header text helpers.
//
// Thread-safety: init_curl_once may be called from any thread; a handle
// belongs to one thread at a time.
#pragma once

#include <curl/curl.h>

#include <memory>
#include <string>
#include <string_view>

namespace cadre {

void init_curl_once();

struct CurlEasyDeleter {
  void operator()(CURL* handle) const { curl_easy_cleanup(handle); }
};
struct CurlListDeleter {
  void operator()(curl_slist* list) const { curl_slist_free_all(list); }
};
using CurlEasy = std::unique_ptr<CURL, CurlEasyDeleter>;
using CurlList = std::unique_ptr<curl_slist, CurlListDeleter>;

std::string lower_case(std::string_view text);
// Without spaces, tabs, CR and LF at either end (header names and values).
std::string_view trim_space(std::string_view text);

}  // namespace cadre
