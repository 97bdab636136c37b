/* Outbound HTTP (include/forumnet/outbound.h), on libcurl. */
#include "forumnet/outbound.h"

#include <curl/curl.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

static pthread_once_t once = PTHREAD_ONCE_INIT;

static void global_init(void) { curl_global_init(CURL_GLOBAL_DEFAULT); }

void outbound_init(void) { pthread_once(&once, global_init); }

typedef struct sink {
  outbound_response *out;
  size_t len;
} sink;

/* Keeps the first OUTBOUND_EXCERPT_MAX bytes; the rest is read and dropped (a large answer costs the
 * timeout at most, never memory). */
static size_t keep_excerpt(char *data, size_t size, size_t n, void *arg) {
  sink *s = arg;
  size_t total = size * n, room = OUTBOUND_EXCERPT_MAX - s->len, take = total < room ? total : room;
  memcpy(s->out->excerpt + s->len, data, take);
  s->len += take;
  s->out->excerpt[s->len] = '\0';
  return total;
}

int outbound_post(const outbound_request *req, outbound_response *out) {
  memset(out, 0, sizeof *out);
  outbound_init();
  CURL *curl = curl_easy_init();
  if (curl == NULL) {
    snprintf(out->error, sizeof out->error, "out of memory");
    return -1;
  }
  struct curl_slist *headers = NULL, *resolve = NULL;
  for (const char *const *h = req->headers; h && *h; h++)
    headers = curl_slist_append(headers, *h);
  headers = curl_slist_append(headers, "Expect:"); /* no 100-continue round trip */
  if (req->resolve && *req->resolve)
    resolve = curl_slist_append(resolve, req->resolve);
  sink s = {out, 0};
  curl_easy_setopt(curl, CURLOPT_URL, req->url);
  curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(curl, CURLOPT_FOLLOWLOCATION, 0L);
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(curl, CURLOPT_NOPROXY, "*"); /* a proxy would connect to what the guard did not check */
  curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, req->timeout_ms);
  curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, req->timeout_ms);
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
  curl_easy_setopt(curl, CURLOPT_RESOLVE, resolve);
  curl_easy_setopt(curl, CURLOPT_POST, 1L);
  curl_easy_setopt(curl, CURLOPT_POSTFIELDS, req->body);
  curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)req->body_len);
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, keep_excerpt);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &s);
  curl_easy_setopt(curl, CURLOPT_USERAGENT, "forumnet-webhooks/1");
  CURLcode rc = curl_easy_perform(curl);
  if (rc == CURLE_OK)
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &out->status);
  else {
    out->timed_out = rc == CURLE_OPERATION_TIMEDOUT;
    snprintf(out->error, sizeof out->error, "%s", curl_easy_strerror(rc));
  }
  curl_easy_cleanup(curl);
  curl_slist_free_all(headers);
  curl_slist_free_all(resolve);
  return rc == CURLE_OK ? 0 : -1;
}
