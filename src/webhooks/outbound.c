/* Outbound HTTP (include/forumnet/outbound.h), on libcurl: one request (easy interface) or many at once on
 * one thread (multi interface). Both set a request up the same way (transfer_new). */
#include "forumnet/outbound.h"

#include <curl/curl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static pthread_once_t once = PTHREAD_ONCE_INIT;

static void global_init(void) { curl_global_init(CURL_GLOBAL_DEFAULT); }

void outbound_init(void) { pthread_once(&once, global_init); }

/* One request: its handle, its lists, and where the answer goes. */
typedef struct transfer {
  CURL *curl;
  struct curl_slist *headers, *resolve, *connect_to;
  outbound_response *out;
  size_t len;
  void *tag;
  struct transfer *prev, *next; /* in a batch: the requests in flight */
} transfer;

/* Keeps the first OUTBOUND_EXCERPT_MAX bytes; the rest is read and dropped (a large answer costs the
 * timeout at most, never memory). */
static size_t keep_excerpt(char *data, size_t size, size_t n, void *arg) {
  transfer *t = arg;
  size_t total = size * n, room = OUTBOUND_EXCERPT_MAX - t->len, take = total < room ? total : room;
  memcpy(t->out->excerpt + t->len, data, take);
  t->len += take;
  t->out->excerpt[t->len] = '\0';
  return total;
}

static void transfer_free(transfer *t) {
  if (t == NULL)
    return;
  curl_easy_cleanup(t->curl);
  curl_slist_free_all(t->headers);
  curl_slist_free_all(t->resolve);
  curl_slist_free_all(t->connect_to);
  free(t);
}

/* A handle for req, answering into out; NULL (out->error says why) when out of memory. */
static transfer *transfer_new(const outbound_request *req, outbound_response *out, void *tag) {
  memset(out, 0, sizeof *out);
  outbound_init();
  transfer *t = calloc(1, sizeof *t);
  CURL *curl = t ? curl_easy_init() : NULL;
  if (curl == NULL) {
    free(t);
    snprintf(out->error, sizeof out->error, "out of memory");
    return NULL;
  }
  *t = (transfer){.curl = curl, .out = out, .tag = tag};
  for (const char *const *h = req->headers; h && *h; h++)
    t->headers = curl_slist_append(t->headers, *h);
  t->headers = curl_slist_append(t->headers, "Expect:"); /* no 100-continue round trip */
  if (req->resolve && *req->resolve)
    t->resolve = curl_slist_append(NULL, req->resolve);
  if (req->connect_to && *req->connect_to)
    t->connect_to = curl_slist_append(NULL, req->connect_to);
  curl_easy_setopt(curl, CURLOPT_URL, req->url);
  curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(curl, CURLOPT_FOLLOWLOCATION, 0L);
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(curl, CURLOPT_NOPROXY, "*"); /* a proxy would connect to what the guard did not check */
  curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, req->timeout_ms);
  curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, req->timeout_ms);
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, t->headers);
  curl_easy_setopt(curl, CURLOPT_RESOLVE, t->resolve);
  curl_easy_setopt(curl, CURLOPT_CONNECT_TO, t->connect_to);
  curl_easy_setopt(curl, CURLOPT_POST, 1L);
  curl_easy_setopt(curl, CURLOPT_POSTFIELDS, req->body);
  curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)req->body_len);
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, keep_excerpt);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, t);
  curl_easy_setopt(curl, CURLOPT_PRIVATE, t);
  curl_easy_setopt(curl, CURLOPT_USERAGENT, "forumnet-webhooks/1");
  return t;
}

/* The answer's status, or why none came. */
static int transfer_done(transfer *t, CURLcode rc) {
  if (rc == CURLE_OK)
    curl_easy_getinfo(t->curl, CURLINFO_RESPONSE_CODE, &t->out->status);
  else {
    t->out->timed_out = rc == CURLE_OPERATION_TIMEDOUT;
    snprintf(t->out->error, sizeof t->out->error, "%s", curl_easy_strerror(rc));
  }
  return rc == CURLE_OK ? 0 : -1;
}

int outbound_post(const outbound_request *req, outbound_response *out) {
  transfer *t = transfer_new(req, out, NULL);
  if (t == NULL)
    return -1;
  int rc = transfer_done(t, curl_easy_perform(t->curl));
  transfer_free(t);
  return rc;
}

/* ---- many at once ---- */

struct outbound_batch {
  CURLM *multi;
  transfer *flying; /* the requests in flight, a list */
  int pending;
};

static void unlink_transfer(outbound_batch *b, transfer *t) {
  if (t->prev)
    t->prev->next = t->next;
  else
    b->flying = t->next;
  if (t->next)
    t->next->prev = t->prev;
  curl_multi_remove_handle(b->multi, t->curl);
  b->pending--;
}

outbound_batch *outbound_batch_new(long max_connections) {
  outbound_init();
  outbound_batch *b = calloc(1, sizeof *b);
  if (b == NULL || (b->multi = curl_multi_init()) == NULL) {
    free(b);
    return NULL;
  }
  curl_multi_setopt(b->multi, CURLMOPT_MAXCONNECTS, max_connections);
  return b;
}

void outbound_batch_free(outbound_batch *b) {
  if (b == NULL)
    return;
  while (b->flying) {
    transfer *t = b->flying;
    unlink_transfer(b, t);
    transfer_free(t);
  }
  curl_multi_cleanup(b->multi);
  free(b);
}

int outbound_batch_add(outbound_batch *b, const outbound_request *req, outbound_response *out, void *tag) {
  transfer *t = transfer_new(req, out, tag);
  if (t == NULL)
    return -1;
  if (curl_multi_add_handle(b->multi, t->curl) != CURLM_OK) {
    snprintf(out->error, sizeof out->error, "could not start the request");
    transfer_free(t);
    return -1;
  }
  t->next = b->flying;
  if (b->flying)
    b->flying->prev = t;
  b->flying = t;
  b->pending++;
  return 0;
}

/* Moves finished requests' tags into done (at most max). */
static int collect(outbound_batch *b, void **done, int max) {
  int n = 0, left = 0;
  CURLMsg *msg;
  while (n < max && (msg = curl_multi_info_read(b->multi, &left)) != NULL) {
    if (msg->msg != CURLMSG_DONE)
      continue;
    transfer *t = NULL;
    curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&t);
    (void)transfer_done(t, msg->data.result);
    unlink_transfer(b, t);
    done[n++] = t->tag;
    transfer_free(t);
  }
  return n;
}

int outbound_batch_run(outbound_batch *b, int timeout_ms, void **done, int max) {
  int running = 0;
  curl_multi_perform(b->multi, &running);
  int n = collect(b, done, max);
  if (n > 0)
    return n;
  curl_multi_poll(b->multi, NULL, 0, timeout_ms, NULL);
  curl_multi_perform(b->multi, &running);
  return collect(b, done, max);
}

int outbound_batch_pending(const outbound_batch *b) { return b->pending; }

void outbound_batch_wakeup(outbound_batch *b) { curl_multi_wakeup(b->multi); }
