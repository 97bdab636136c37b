/*
 * harness_raw.c — HTTP over a plain socket, for requests libcurl would not send the way a test
 * needs them: a declared Content-Length longer than the body, chunked bodies, hand-framed
 * requests; and bare connections for the slowloris test.
 */
#include "harness.h"
#include "harness_internal.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

static int raw_connect(char *err, size_t errlen) {
  int port = harness_server_port();
  if (port == 0) {
    snprintf(err, errlen, "no server running");
    return -1;
  }
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) {
    snprintf(err, errlen, "socket: %s", strerror(errno));
    return -1;
  }
  struct timeval tv = {.tv_sec = 10};
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  if (harness_source_address()[0]) {
    struct sockaddr_in src = {.sin_family = AF_INET};
    inet_pton(AF_INET, harness_source_address(), &src.sin_addr);
    bind(fd, (struct sockaddr *)&src, sizeof src);
  }
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
    snprintf(err, errlen, "connect: %s", strerror(errno));
    close(fd);
    return -1;
  }
  return fd;
}

/* Sends all of data; returns false (without failing) once the peer stops reading. */
static bool raw_send_all(int fd, const char *data, size_t len) {
  while (len > 0) {
    ssize_t n = send(fd, data, len, MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EINTR)
        continue;
      return false;
    }
    data += n;
    len -= (size_t)n;
  }
  return true;
}

/* True once raw holds a complete response (headers plus a body of Content-Length bytes, or a
 * complete chunked body). Without either, the response ends at EOF. */
static bool raw_response_complete(const buf *raw) {
  if (!raw->data)
    return false;
  const char *end = strstr(raw->data, "\r\n\r\n");
  if (!end)
    return false;
  size_t head_len = (size_t)(end - raw->data) + 4;
  const char *cl = NULL;
  bool chunked = false;
  for (const char *p = raw->data; p < end;) {
    const char *eol = strstr(p, "\r\n");
    if (!eol)
      break;
    if (strncasecmp(p, "Content-Length:", 15) == 0)
      cl = p + 15;
    if (strncasecmp(p, "Transfer-Encoding:", 18) == 0 && strstr(p, "chunked") && strstr(p, "chunked") < eol)
      chunked = true;
    p = eol + 2;
  }
  if (chunked)
    return raw->len >= head_len + 5 && memcmp(raw->data + raw->len - 5, "0\r\n\r\n", 5) == 0;
  /* Status codes without a body. */
  int status = 0;
  sscanf(raw->data, "HTTP/%*s %d", &status);
  if (status == 204 || status == 304 || (status >= 100 && status < 200))
    return true;
  if (cl)
    return raw->len >= head_len + strtoul(cl, NULL, 10);
  return false;
}

static void raw_parse(http_response *r, const buf *raw) {
  if (!raw->data || strncmp(raw->data, "HTTP/", 5) != 0) {
    snprintf(r->error, sizeof r->error, "no HTTP response received (%zu bytes)", raw->len);
    r->body = xstrdup("");
    return;
  }
  sscanf(raw->data, "HTTP/%*s %ld", &r->status);
  const char *p = strstr(raw->data, "\r\n");
  const char *end = strstr(raw->data, "\r\n\r\n");
  if (!p || !end) {
    snprintf(r->error, sizeof r->error, "truncated HTTP response");
    r->body = xstrdup("");
    return;
  }
  p += 2;
  while (p < end + 2) {
    const char *eol = strstr(p, "\r\n");
    response_add_header_line(r, p, (size_t)(eol - p));
    p = eol + 2;
  }
  const char *b = end + 4;
  size_t blen = raw->len - (size_t)(b - raw->data);
  buf body = {0};
  const char *te = http_header(r, "Transfer-Encoding");
  if (te && strstr(te, "chunked")) {
    const char *q = b, *lim = b + blen;
    while (q < lim) {
      char *after;
      unsigned long n = strtoul(q, &after, 16);
      const char *data = strstr(after, "\r\n");
      if (!data || n == 0)
        break;
      data += 2;
      if (data + n > lim)
        n = (unsigned long)(lim - data);
      buf_append(&body, data, n);
      q = data + n + 2;
    }
  } else {
    const char *cl = http_header(r, "Content-Length");
    if (cl && strtoul(cl, NULL, 10) < blen)
      blen = strtoul(cl, NULL, 10);
    buf_append(&body, b, blen);
  }
  response_finish(r, &body);
}

/* Reads the answer on fd until it is complete, the peer closes, or timeout_ms pass; closes fd and
 * parses what arrived into r (r->error says why when no answer came). */
static void raw_receive(int fd, http_response *r, int timeout_ms) {
  buf raw = {0};
  int64_t deadline = harness_now_ms() + timeout_ms;
  for (;;) {
    if (raw_response_complete(&raw))
      break;
    int left = (int)(deadline - harness_now_ms());
    if (left <= 0) {
      snprintf(r->error, sizeof r->error, "no response within %d ms", timeout_ms);
      break;
    }
    struct pollfd pfd = {.fd = fd, .events = POLLIN};
    int pr = poll(&pfd, 1, left);
    if (pr < 0 && errno == EINTR)
      continue;
    if (pr <= 0)
      continue;
    char tmp[8192];
    ssize_t n = recv(fd, tmp, sizeof tmp, 0);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      break; /* EOF or reset: parse what arrived */
    buf_append(&raw, tmp, (size_t)n);
  }
  close(fd);
  char saved_error[sizeof r->error];
  memcpy(saved_error, r->error, sizeof saved_error);
  raw_parse(r, &raw);
  if (r->status == 0 && saved_error[0])
    memcpy(r->error, saved_error, sizeof saved_error);
  free(raw.data);
}

static http_response *raw_exchange(const char *method, const char *path, const char *token, const char *content_type,
                                   const char *framing_header, const char *body, size_t body_len, size_t chunk_size) {
  global_init();
  http_response *r = response_new(method, path);
  int fd = raw_connect(r->error, sizeof r->error);
  if (fd < 0) {
    r->body = xstrdup("");
    return r;
  }
  buf head = {0};
  buf_appendf(&head, "%s %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nConnection: close\r\n", method, path,
              harness_server_port());
  if (token)
    buf_appendf(&head, "Authorization: Bearer %s\r\n", token);
  if (content_type)
    buf_appendf(&head, "Content-Type: %s\r\n", content_type);
  buf_appendf(&head, "%s\r\n\r\n", framing_header);

  bool ok = raw_send_all(fd, head.data, head.len);
  if (ok && chunk_size == 0) {
    ok = raw_send_all(fd, body, body_len);
  } else if (ok) {
    for (size_t off = 0; ok && off < body_len; off += chunk_size) {
      size_t n = body_len - off < chunk_size ? body_len - off : chunk_size;
      char size_line[32];
      snprintf(size_line, sizeof size_line, "%zx\r\n", n);
      ok = raw_send_all(fd, size_line, strlen(size_line)) && raw_send_all(fd, body + off, n) &&
           raw_send_all(fd, "\r\n", 2);
    }
    if (ok)
      raw_send_all(fd, "0\r\n\r\n", 5);
  }
  free(head.data);

  raw_receive(fd, r, 10000);
  return r;
}

http_response *http_send_declared_length(const char *method, const char *path, const char *token,
                                         const char *content_type, size_t declared_length, const char *body,
                                         size_t body_len) {
  char framing[64];
  snprintf(framing, sizeof framing, "Content-Length: %zu", declared_length);
  if (body_len > declared_length)
    body_len = declared_length;
  return raw_exchange(method, path, token, content_type, framing, body, body_len, 0);
}

http_response *http_send_chunked(const char *method, const char *path, const char *token, const char *content_type,
                                 const char *body, size_t body_len, size_t chunk_size) {
  return raw_exchange(method, path, token, content_type, "Transfer-Encoding: chunked", body, body_len,
                      chunk_size ? chunk_size : 1024);
}

http_response *http_send_raw(const char *method, const char *path, const char *raw, size_t raw_len, int timeout_ms) {
  global_init();
  http_response *r = response_new(method, path);
  int fd = raw_connect(r->error, sizeof r->error);
  if (fd < 0) {
    r->body = xstrdup("");
    return r;
  }
  raw_send_all(fd, raw, raw_len); /* the server may answer (and close) before reading it all */
  raw_receive(fd, r, timeout_ms);
  return r;
}

int harness_server_connect(void) {
  char err[128];
  return raw_connect(err, sizeof err);
}
