/*
 * harness_http.c — HTTP to the current server through libcurl: responses and their headers,
 * paths and query encoding, the request functions, paged list walks, and the
 * HARNESS_EXCHANGE_LOG record of every exchange.
 */
#include "harness.h"
#include "harness_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <curl/curl.h>
#include <sodium.h>

http_response *response_new(const char *method, const char *path) {
  http_response *r = xmalloc(sizeof *r);
  memset(r, 0, sizeof *r);
  r->method = xstrdup(method);
  r->path = xstrdup(path);
  return r;
}

void http_response_free(http_response *resp) {
  if (!resp)
    return;
  for (size_t i = 0; i < resp->header_count; i++) {
    free(resp->header_names[i]);
    free(resp->header_values[i]);
  }
  free(resp->header_names);
  free(resp->header_values);
  free(resp->body);
  free(resp->method);
  free(resp->path);
  if (resp->json)
    json_decref(resp->json);
  free(resp);
}

static void response_clear_headers(http_response *r) {
  for (size_t i = 0; i < r->header_count; i++) {
    free(r->header_names[i]);
    free(r->header_values[i]);
  }
  r->header_count = 0;
}

/* Adds one "Name: value" header line (CRLF optional). Lines without a colon are ignored. */
void response_add_header_line(http_response *r, const char *line, size_t len) {
  while (len > 0 && (line[len - 1] == '\r' || line[len - 1] == '\n'))
    len--;
  const char *colon = memchr(line, ':', len);
  if (!colon)
    return;
  size_t nlen = (size_t)(colon - line);
  const char *v = colon + 1;
  size_t vlen = len - nlen - 1;
  while (vlen > 0 && (*v == ' ' || *v == '\t')) {
    v++;
    vlen--;
  }
  while (vlen > 0 && (v[vlen - 1] == ' ' || v[vlen - 1] == '\t'))
    vlen--;
  char **names = realloc(r->header_names, (r->header_count + 1) * sizeof *names);
  char **values = realloc(r->header_values, (r->header_count + 1) * sizeof *values);
  if (!names || !values)
    abort();
  r->header_names = names;
  r->header_values = values;
  char *n = xmalloc(nlen + 1);
  memcpy(n, line, nlen);
  n[nlen] = '\0';
  char *val = xmalloc(vlen + 1);
  memcpy(val, v, vlen);
  val[vlen] = '\0';
  r->header_names[r->header_count] = n;
  r->header_values[r->header_count] = val;
  r->header_count++;
}

void response_finish(http_response *r, buf *body) {
  if (body->data) {
    r->body = body->data;
    r->body_len = body->len;
  } else {
    r->body = xstrdup("");
    r->body_len = 0;
  }
  body->data = NULL;
  if (r->body_len > 0) {
    json_error_t err;
    r->json = json_loadb(r->body, r->body_len, JSON_DECODE_ANY, &err);
  }
}

const char *http_header(const http_response *resp, const char *name) {
  if (!resp)
    return NULL;
  for (size_t i = 0; i < resp->header_count; i++)
    if (strcasecmp(resp->header_names[i], name) == 0)
      return resp->header_values[i];
  return NULL;
}

bool http_header_has_token(const http_response *resp, const char *name, const char *token) {
  size_t tlen = strlen(token);
  for (size_t i = 0; resp && i < resp->header_count; i++) {
    if (strcasecmp(resp->header_names[i], name) != 0)
      continue;
    const char *p = resp->header_values[i];
    while (*p) {
      while (*p == ' ' || *p == '\t' || *p == ',')
        p++;
      const char *start = p;
      while (*p && *p != ',')
        p++;
      const char *end = p;
      while (end > start && (end[-1] == ' ' || end[-1] == '\t'))
        end--;
      if ((size_t)(end - start) == tlen && strncasecmp(start, token, tlen) == 0)
        return true;
    }
  }
  return false;
}

const char *hpath(const char *fmt, ...) {
  static _Thread_local char slots[8][1024];
  static _Thread_local unsigned next;
  char *out = slots[next++ % 8];
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(out, sizeof slots[0], fmt, ap);
  va_end(ap);
  if (n < 0 || (size_t)n >= sizeof slots[0])
    fail_msg("hpath: path longer than %zu bytes", sizeof slots[0]);
  return out;
}

char *harness_urlencode(const char *s) {
  global_init();
  char *e = curl_easy_escape(NULL, s, 0);
  if (!e)
    fail_msg("curl_easy_escape failed");
  char *out = xstrdup(e);
  curl_free(e);
  return out;
}

size_t buf_curl_write(char *ptr, size_t size, size_t nmemb, void *userdata) {
  buf_append((buf *)userdata, ptr, size * nmemb);
  return size * nmemb;
}

static size_t curl_header_cb(char *ptr, size_t size, size_t nmemb, void *userdata) {
  http_response *r = userdata;
  size_t n = size * nmemb;
  /* A new status line starts a new header block (after 100 Continue, for instance). */
  if (n >= 5 && strncmp(ptr, "HTTP/", 5) == 0)
    response_clear_headers(r);
  else
    response_add_header_line(r, ptr, n);
  return n;
}

/* HARNESS_EXCHANGE_LOG: appends one JSON line per answered exchange, for tools/validate-responses.mjs:
 * {"method","path","query","status","content_type","body"} with the path without its query, the query
 * without '?' (null when none), and the raw body as a string, or as base64 with "body_encoding":"base64"
 * when it is not UTF-8.  One write() on an O_APPEND descriptor per line, so threads and parallel test
 * binaries can share the file. */
static void exchange_log(const http_response *r) {
  const char *log_path = getenv("HARNESS_EXCHANGE_LOG");
  if (!log_path || !*log_path || r->status == 0)
    return;
  const char *q = strchr(r->path, '?');
  size_t plen = q ? (size_t)(q - r->path) : strlen(r->path);
  const char *ct = http_header(r, "Content-Type");
  json_t *line = json_object();
  json_object_set_new(line, "method", json_string(r->method));
  json_object_set_new(line, "path", json_stringn(r->path, plen));
  json_object_set_new(line, "query", q ? json_string(q + 1) : json_null());
  json_object_set_new(line, "status", json_integer(r->status));
  json_object_set_new(line, "content_type", ct ? json_string(ct) : json_null());
  json_t *text = json_stringn(r->body, r->body_len); /* NULL when not UTF-8 */
  if (!text) {
    size_t cap = sodium_base64_encoded_len(r->body_len, sodium_base64_VARIANT_ORIGINAL);
    char *b64 = xmalloc(cap);
    sodium_bin2base64(b64, cap, (const unsigned char *)r->body, r->body_len, sodium_base64_VARIANT_ORIGINAL);
    text = json_string(b64);
    free(b64);
    json_object_set_new(line, "body_encoding", json_string("base64"));
  }
  json_object_set_new(line, "body", text);
  char *out = json_dumps(line, JSON_COMPACT);
  json_decref(line);
  int fd = out ? open(log_path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644) : -1;
  if (fd >= 0) {
    size_t n = strlen(out);
    out[n] = '\n'; /* replaces the NUL: the line and its newline go out in one write */
    if (write(fd, out, n + 1) != (ssize_t)(n + 1))
      fprintf(stderr, "harness: short write to HARNESS_EXCHANGE_LOG %s\n", log_path);
    close(fd);
  } else if (out) {
    fprintf(stderr, "harness: cannot open HARNESS_EXCHANGE_LOG %s: %s\n", log_path, strerror(errno));
  }
  free(out);
}

static http_response *curl_exchange(const char *method, const char *path, const char *token, const char *content_type,
                                    const char *body, size_t body_len, const char *const *headers, long timeout_ms) {
  global_init();
  http_response *r = response_new(method, path);
  CURL *c = curl_easy_init();
  if (!c) {
    snprintf(r->error, sizeof r->error, "curl_easy_init failed");
    return r;
  }
  char url[2048];
  snprintf(url, sizeof url, "%s%s", harness_base_url(), path);

  struct curl_slist *hl = NULL;
  char line[HARNESS_TOKEN_MAX + 64];
  hl = curl_slist_append(hl, "Expect:"); /* no 100-continue round trips */
  if (token) {
    snprintf(line, sizeof line, "Authorization: Bearer %s", token);
    hl = curl_slist_append(hl, line);
  }
  if (content_type) {
    snprintf(line, sizeof line, "Content-Type: %s", content_type);
    hl = curl_slist_append(hl, line);
  } else if (body) {
    /* libcurl would otherwise add application/x-www-form-urlencoded */
    hl = curl_slist_append(hl, "Content-Type:");
  }
  for (const char *const *h = headers; h && *h; h++)
    hl = curl_slist_append(hl, *h);

  buf out = {0};
  curl_easy_setopt(c, CURLOPT_URL, url);
  curl_easy_setopt(c, CURLOPT_PATH_AS_IS, 1L);
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, timeout_ms);
  curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, timeout_ms < 5000 ? timeout_ms : 5000L);
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, hl);
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, buf_curl_write);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &out);
  curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, curl_header_cb);
  curl_easy_setopt(c, CURLOPT_HEADERDATA, r);
  if (harness_source_address()[0]) {
    char iface[80];
    snprintf(iface, sizeof iface, "host!%s", harness_source_address());
    curl_easy_setopt(c, CURLOPT_INTERFACE, iface);
  }
  if (strcmp(method, "HEAD") == 0) {
    curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
  } else if (body) {
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)body_len);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
  } else if (strcmp(method, "POST") == 0 || strcmp(method, "PUT") == 0 || strcmp(method, "PATCH") == 0) {
    /* What clients send for an empty body: Content-Length: 0. */
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, "");
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)0);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
  } else if (strcmp(method, "GET") != 0) {
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
  }

  CURLcode rc = curl_easy_perform(c);
  if (rc == CURLE_OK) {
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r->status);
  } else {
    r->status = 0;
    snprintf(r->error, sizeof r->error, "libcurl: %s", curl_easy_strerror(rc));
  }
  response_finish(r, &out);
  exchange_log(r);
  curl_slist_free_all(hl);
  curl_easy_cleanup(c);
  return r;
}

http_response *http_request_len(const char *method, const char *path, const char *token, const char *content_type,
                                const char *body, size_t body_len, const char *const *headers) {
  return curl_exchange(method, path, token, content_type, body, body_len, headers, 30000);
}

http_response *http_request(const char *method, const char *path, const char *token, const char *content_type,
                            const char *body, const char *const *headers) {
  return http_request_len(method, path, token, content_type, body, body ? strlen(body) : 0, headers);
}

http_response *http_get_timeout(const char *path, long timeout_ms) {
  return curl_exchange("GET", path, NULL, NULL, NULL, 0, NULL, timeout_ms);
}

http_response *http_get(const char *path, const char *token) {
  return http_request("GET", path, token, NULL, NULL, NULL);
}

http_response *http_get_with_headers(const char *path, const char *token, const char *const *headers) {
  return http_request("GET", path, token, NULL, NULL, headers);
}

http_response *http_json_with_headers(const char *method, const char *path, const char *token, json_t *body,
                                      const char *const *headers) {
  char *text = NULL;
  if (body) {
    text = json_dumps(body, JSON_COMPACT);
    json_decref(body);
  }
  http_response *r = http_request(method, path, token, text ? "application/json" : NULL, text, headers);
  free(text);
  return r;
}

http_response *http_json(const char *method, const char *path, const char *token, json_t *body) {
  return http_json_with_headers(method, path, token, body, NULL);
}

http_response *http_request_timeout(const char *method, const char *path, const char *token, const char *content_type,
                                    const char *body, const char *const *headers, long timeout_ms) {
  return curl_exchange(method, path, token, content_type, body, body ? strlen(body) : 0, headers, timeout_ms);
}

void harness_exchange_log_pause(bool paused) {
  static char saved[4096];
  static bool is_paused;
  if (paused && !is_paused) {
    const char *v = getenv("HARNESS_EXCHANGE_LOG");
    if (!v || !*v || strlen(v) >= sizeof saved)
      return;
    memcpy(saved, v, strlen(v) + 1);
    unsetenv("HARNESS_EXCHANGE_LOG");
    is_paused = true;
  } else if (!paused && is_paused) {
    setenv("HARNESS_EXCHANGE_LOG", saved, 1);
    is_paused = false;
  }
}

json_t *harness_list_all_at(const char *list_path_arg, const char *token, int limit, const char *file, int line) {
  /* A copy: callers pass hpath()'s rotating buffers, which the page requests below would overwrite once a list
   * has more pages than hpath has buffers (seen as "GET &limit=200&cursor=..." on a large shared database). */
  char list_path[1024];
  snprintf(list_path, sizeof list_path, "%s", list_path_arg);
  const char sep = strchr(list_path, '?') ? '&' : '?';
  json_t *all = json_array();
  char *cursor = NULL;
  for (int page = 0; page < 10000; page++) {
    http_response *r = http_get(cursor ? hpath("%s%climit=%d&cursor=%s", list_path, sep, limit, cursor)
                                       : hpath("%s%climit=%d", list_path, sep, limit),
                                token);
    free(cursor);
    cursor = NULL;
    json_t *items = hjson_get(r->json, "items");
    json_t *next = hjson_get(r->json, "next_cursor");
    if (r->status != 200 || !json_is_array(items) || !(json_is_string(next) || json_is_null(next)))
      fail_with(r, file, line, "expected a list page {\"items\": [...], \"next_cursor\": ...}");
    json_array_extend(all, items);
    if (json_is_string(next))
      cursor = harness_urlencode(json_string_value(next));
    http_response_free(r);
    if (!cursor)
      return all;
  }
  fail_msg("list %s did not end within 10000 pages", list_path);
  return all;
}

bool harness_list_contains_at(const char *list_path, const char *token, const char *key, const char *value,
                              const char *file, int line) {
  json_t *all = harness_list_all_at(list_path, token, 200, file, line);
  bool found = false;
  size_t i;
  json_t *it;
  json_array_foreach(all, i, it) {
    const char *v = hjson_str(it, key);
    if (v && strcmp(v, value) == 0)
      found = true;
  }
  json_decref(all);
  return found;
}
