/* HTTP for OpenID Connect: the discovery document, the JWKS and the code exchange, with libcurl. Timeouts
 * bound how long a request waits for a provider; answers are cut at OIDC_FETCH_MAX_BYTES; nothing here logs
 * a URL's answer, a code or a secret. */
#include <curl/curl.h>
#include <pthread.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "forumnet/log.h"
#include "forumnet/oidc.h"

#define CONNECT_TIMEOUT_MS 3000L
#define TOTAL_TIMEOUT_MS 8000L

static pthread_once_t once = PTHREAD_ONCE_INIT;
static void global_init(void) { curl_global_init(CURL_GLOBAL_DEFAULT); }

typedef struct answer {
  char *data;
  size_t len;
  int too_big;
} answer;

static size_t keep_answer(char *ptr, size_t size, size_t nmemb, void *userdata) {
  answer *a = userdata;
  size_t n = size * nmemb;
  if (a->len + n > OIDC_FETCH_MAX_BYTES) {
    a->too_big = 1;
    return 0; /* ends the transfer */
  }
  char *grown = realloc(a->data, a->len + n + 1);
  if (grown == NULL)
    return 0;
  a->data = grown;
  memcpy(a->data + a->len, ptr, n);
  a->len += n;
  a->data[a->len] = '\0';
  return n;
}

/* A handle with the common options; NULL when curl cannot make one. */
static CURL *new_handle(const char *url, int allow_http, answer *a) {
  pthread_once(&once, global_init);
  CURL *curl = curl_easy_init();
  if (curl == NULL)
    return NULL;
  curl_easy_setopt(curl, CURLOPT_URL, url);
  curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, allow_http ? "http,https" : "https");
  curl_easy_setopt(curl, CURLOPT_FOLLOWLOCATION, 0L);
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, CONNECT_TIMEOUT_MS);
  curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, TOTAL_TIMEOUT_MS);
  curl_easy_setopt(curl, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)OIDC_FETCH_MAX_BYTES);
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, keep_answer);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, a);
  curl_easy_setopt(curl, CURLOPT_USERAGENT, "forumnet-oidc/1");
  return curl;
}

/* Performs the request: 0 with *status when an answer came, else -1 (logged with curl's words only). */
static int perform(CURL *curl, const char *what, answer *a, long *status) {
  CURLcode rc = curl_easy_perform(curl);
  *status = 0;
  if (rc != CURLE_OK || a->too_big) {
    log_warn("oidc: %s failed: %s", what, a->too_big ? "answer too large" : curl_easy_strerror(rc));
    return -1;
  }
  curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, status);
  return 0;
}

/* The answer as a JSON object (new reference), or NULL. */
static json_t *answer_object(const answer *a) {
  if (a->data == NULL)
    return NULL;
  json_t *doc = json_loadb(a->data, a->len, JSON_REJECT_DUPLICATES, NULL);
  if (doc != NULL && !json_is_object(doc)) {
    json_decref(doc);
    doc = NULL;
  }
  return doc;
}

fn_status oidc_fetch_json(const char *url, int allow_http, json_t **out) {
  answer a = {0};
  long status = 0;
  *out = NULL;
  CURL *curl = new_handle(url, allow_http, &a);
  if (curl == NULL)
    return FN_UNAVAILABLE;
  struct curl_slist *headers = curl_slist_append(NULL, "Accept: application/json");
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
  if (perform(curl, "fetching provider metadata", &a, &status) == 0 && status == 200)
    *out = answer_object(&a);
  else if (status != 0)
    log_warn("oidc: fetching provider metadata answered HTTP %ld", status);
  curl_easy_cleanup(curl);
  curl_slist_free_all(headers);
  free(a.data);
  return *out ? FN_OK : FN_UNAVAILABLE;
}

/* "Authorization: Basic base64(urlencode(user):urlencode(password))" into a new string, or NULL. */
static char *basic_header(CURL *curl, const char *user, const char *password) {
  char *u = curl_easy_escape(curl, user, 0), *p = curl_easy_escape(curl, password, 0), *header = NULL;
  if (u && p) {
    size_t plain_len = strlen(u) + 1 + strlen(p);
    char *plain = malloc(plain_len + 1);
    size_t b64_len = sodium_base64_ENCODED_LEN(plain_len, sodium_base64_VARIANT_ORIGINAL);
    header = malloc(sizeof "Authorization: Basic " + b64_len);
    if (plain && header) {
      snprintf(plain, plain_len + 1, "%s:%s", u, p);
      strcpy(header, "Authorization: Basic ");
      sodium_bin2base64(header + strlen(header), b64_len, (const unsigned char *)plain, plain_len,
                        sodium_base64_VARIANT_ORIGINAL);
      sodium_memzero(plain, plain_len);
    } else {
      free(header);
      header = NULL;
    }
    free(plain);
  }
  if (p)
    sodium_memzero(p, strlen(p));
  curl_free(u);
  curl_free(p);
  return header;
}

fn_status oidc_post_form(const char *url, int allow_http, const char *user, const char *password, const char *form,
                         long *status, json_t **out) {
  answer a = {0};
  *out = NULL;
  *status = 0;
  CURL *curl = new_handle(url, allow_http, &a);
  if (curl == NULL)
    return FN_UNAVAILABLE;
  char *auth = basic_header(curl, user, password);
  struct curl_slist *headers = NULL;
  headers = curl_slist_append(headers, "Accept: application/json");
  headers = curl_slist_append(headers, "Content-Type: application/x-www-form-urlencoded");
  headers = curl_slist_append(headers, "Expect:");
  if (auth)
    headers = curl_slist_append(headers, auth);
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
  curl_easy_setopt(curl, CURLOPT_POST, 1L);
  curl_easy_setopt(curl, CURLOPT_POSTFIELDS, form);
  curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)strlen(form));
  fn_status st = FN_UNAVAILABLE;
  if (auth && perform(curl, "the code exchange", &a, status) == 0) {
    *out = answer_object(&a);
    st = FN_OK;
  }
  curl_easy_cleanup(curl);
  curl_slist_free_all(headers);
  if (auth) {
    sodium_memzero(auth, strlen(auth));
    free(auth);
  }
  if (a.data) {
    sodium_memzero(a.data, a.len);
    free(a.data);
  }
  return st;
}
