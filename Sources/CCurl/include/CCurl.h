// Typed wrappers over libcurl's variadic entry points, which Swift cannot call.
// One wrapper per argument kind; each simply forwards to the variadic function.
#ifndef MESHWATCH_CCURL_H
#define MESHWATCH_CCURL_H

#include <curl/curl.h>

typedef size_t (*mw_curl_data_callback)(char *ptr, size_t size, size_t nmemb, void *userdata);

CURLcode mw_curl_easy_setopt_long(CURL *handle, CURLoption option, long value);
CURLcode mw_curl_easy_setopt_offset(CURL *handle, CURLoption option, curl_off_t value);
CURLcode mw_curl_easy_setopt_string(CURL *handle, CURLoption option, const char *value);
CURLcode mw_curl_easy_setopt_pointer(CURL *handle, CURLoption option, void *value);
CURLcode mw_curl_easy_setopt_slist(CURL *handle, CURLoption option, struct curl_slist *value);
CURLcode mw_curl_easy_setopt_data_callback(CURL *handle, CURLoption option, mw_curl_data_callback value);

CURLcode mw_curl_easy_getinfo_long(CURL *handle, CURLINFO info, long *value);
CURLcode mw_curl_easy_getinfo_double(CURL *handle, CURLINFO info, double *value);
CURLcode mw_curl_easy_getinfo_pointer(CURL *handle, CURLINFO info, void **value);

CURLMcode mw_curl_multi_setopt_long(CURLM *handle, CURLMoption option, long value);

/* Names the calling thread (at most 15 bytes), for ps, top and /proc. */
int mw_set_thread_name(const char *name);

#endif
