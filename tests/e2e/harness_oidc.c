/*
 * harness_oidc.c — the browser stand-in of harness_oidc.h: libcurl with a cookie engine, redirects
 * followed by hand (to stop at the client's redirect_uri, which nothing listens on), and the provider's
 * HTML forms read just enough to post them back (action, hidden inputs, login and password).
 */
#include "harness_oidc.h"

#include "harness_assert.h"
#include "harness_internal.h"

#include <curl/curl.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define OIDC_MAX_STEPS 20
#define OIDC_PASSWORD "any password will do"

/* ---------------------------------------------------------------- the provider process */

void harness_oidc_provider_start(harness_oidc_provider *p, int port, const char *client_id, const char *client_secret) {
  char script[512], tools[512], pkg[600], port_text[16];
  snprintf(script, sizeof script, "%s/oidc_provider.mjs", FORUMNET_E2E_DIR);
  snprintf(tools, sizeof tools, "%s/../../tools", FORUMNET_E2E_DIR);
  snprintf(pkg, sizeof pkg, "%s/node_modules/oidc-provider/package.json", tools);
  if (access(pkg, R_OK) != 0)
    harness_fail("the oidc-provider npm package is missing: run `npm ci --prefix tools` (scripts/test.sh does)");
  snprintf(port_text, sizeof port_text, "%d", port);
  int in[2], out[2];
  /* close-on-exec: no other child (a forumnet server) keeps the provider's stdin open */
  if (pipe(in) != 0 || pipe(out) != 0 || fcntl(in[1], F_SETFD, FD_CLOEXEC) != 0 ||
      fcntl(out[0], F_SETFD, FD_CLOEXEC) != 0)
    harness_fail("pipe failed");
  pid_t pid = fork();
  if (pid < 0)
    harness_fail("fork failed");
  if (pid == 0) {
    dup2(in[0], STDIN_FILENO);
    dup2(out[1], STDOUT_FILENO);
    close(in[0]);
    close(in[1]);
    close(out[0]);
    close(out[1]);
    execlp("node", "node", script, port_text, tools, client_id, client_secret, (char *)NULL);
    _exit(127);
  }
  close(in[0]);
  close(out[1]);
  memset(p, 0, sizeof *p);
  p->pid = pid;
  p->stdin_fd = in[1];
  p->port = port;
  snprintf(p->issuer, sizeof p->issuer, "http://127.0.0.1:%d", port);
  char line[256] = "";
  size_t used = 0;
  int64_t deadline = harness_now_ms() + 15000;
  while (!strstr(line, "oidc-provider ready") && harness_now_ms() < deadline && used + 1 < sizeof line) {
    struct pollfd pfd = {.fd = out[0], .events = POLLIN};
    if (poll(&pfd, 1, 100) <= 0)
      continue;
    ssize_t n = read(out[0], line + used, sizeof line - 1 - used);
    if (n <= 0)
      break;
    used += (size_t)n;
    line[used] = '\0';
  }
  close(out[0]); /* it writes nothing more to stdout */
  if (!strstr(line, "oidc-provider ready")) {
    harness_oidc_provider_stop(p);
    harness_fail("the OpenID Provider did not start (node %s %d): %s", script, port, line);
  }
}

void harness_oidc_provider_stop(harness_oidc_provider *p) {
  if (p->pid <= 0)
    return;
  kill((pid_t)p->pid, SIGTERM);
  close(p->stdin_fd);
  waitpid((pid_t)p->pid, NULL, 0);
  p->pid = 0;
}

/* ---------------------------------------------------------------- the browser stand-in */

char *harness_url_with_param(const char *url, const char *name, const char *value) {
  char *enc = curl_easy_escape(NULL, value, 0);
  size_t nlen = strlen(name), size = strlen(url) + nlen + strlen(enc) + 4;
  char *out = xmalloc(size);
  const char *q = strchr(url, '?'), *p = q;
  const char *start = NULL, *end = NULL;
  while (p) { /* p points at '?' or '&' before a parameter */
    const char *next = strchr(p + 1, '&');
    if (strncmp(p + 1, name, nlen) == 0 && p[1 + nlen] == '=') {
      start = p + 1;
      end = next ? next : p + strlen(p);
      break;
    }
    p = next;
  }
  if (start)
    snprintf(out, size, "%.*s%s=%s%s", (int)(start - url), url, name, enc, end);
  else
    snprintf(out, size, "%s%c%s=%s", url, q ? '&' : '?', name, enc);
  curl_free(enc);
  return out;
}

/* The value of attribute `name` in the tag [tag, tag_end) into out, "&amp;" decoded; false if absent. */
static bool tag_attr(const char *tag, const char *tag_end, const char *name, char *out, size_t size) {
  char needle[32];
  snprintf(needle, sizeof needle, "%s=\"", name);
  size_t nlen = strlen(needle);
  for (const char *p = tag + 1; p + nlen < tag_end; p++) {
    if ((p[-1] != ' ' && p[-1] != '\t' && p[-1] != '\n') || strncmp(p, needle, nlen) != 0)
      continue;
    const char *v = p + nlen, *q = memchr(v, '"', (size_t)(tag_end - v));
    if (!q)
      return false;
    size_t o = 0;
    while (v < q && o + 1 < size) {
      if (strncmp(v, "&amp;", 5) == 0) {
        out[o++] = '&';
        v += 5;
      } else {
        out[o++] = *v++;
      }
    }
    out[o] = '\0';
    return true;
  }
  return false;
}

/* Appends "&name=value" (URL-encoded) to the form body. */
static void add_field(buf *fields, const char *name, const char *value) {
  char *n = curl_easy_escape(NULL, name, 0), *v = curl_easy_escape(NULL, value, 0);
  buf_appendf(fields, "%s%s=%s", fields->len ? "&" : "", n, v);
  curl_free(n);
  curl_free(v);
}

/* The first form of html: its action (absolute, resolved against origin) and its urlencoded fields, with
 * login and password filled in when the form asks for them.  False when there is no form. */
static bool read_form(const char *html, const char *origin, const char *login, char *action, size_t action_size,
                      buf *fields) {
  const char *form = strstr(html, "<form"), *form_end = form ? strstr(form, "</form>") : NULL;
  const char *tag_end = form ? strchr(form, '>') : NULL;
  char raw[2048];
  if (!form || !form_end || !tag_end || !tag_attr(form, tag_end, "action", raw, sizeof raw))
    return false;
  if (raw[0] == '/')
    snprintf(action, action_size, "%s%s", origin, raw);
  else
    snprintf(action, action_size, "%s", raw);
  for (const char *in = strstr(tag_end, "<input"); in && in < form_end; in = strstr(in + 6, "<input")) {
    const char *in_end = strchr(in, '>');
    char name[128], value[1024] = "";
    if (!in_end || !tag_attr(in, in_end, "name", name, sizeof name))
      continue;
    tag_attr(in, in_end, "value", value, sizeof value);
    if (strcmp(name, "login") == 0)
      snprintf(value, sizeof value, "%s", login);
    else if (strcmp(name, "password") == 0)
      snprintf(value, sizeof value, "%s", OIDC_PASSWORD);
    add_field(fields, name, value);
  }
  buf_append(fields, "", 0); /* a form without fields is still posted */
  return true;
}

/* Copies query parameter name of url (URL-decoded) to out; "" when absent. */
static void query_param(const char *url, const char *name, char *out, size_t size) {
  out[0] = '\0';
  size_t nlen = strlen(name);
  for (const char *p = strchr(url, '?'); p; p = strpbrk(p + 1, "&#")) {
    if (strncmp(p + 1, name, nlen) != 0 || p[1 + nlen] != '=')
      continue;
    const char *v = p + 2 + nlen;
    int len = (int)strcspn(v, "&#");
    char *dec = curl_easy_unescape(NULL, v, len, NULL);
    snprintf(out, size, "%s", dec ? dec : "");
    curl_free(dec);
    return;
  }
}

/* "scheme://host:port" of url into out. */
static void origin_of(const char *url, char *out, size_t size) {
  const char *host = strstr(url, "://");
  const char *slash = host ? strchr(host + 3, '/') : NULL;
  snprintf(out, size, "%.*s", slash ? (int)(slash - url) : (int)strlen(url), url);
}

bool harness_oidc_sign_in(const char *authorization_url, const char *param, const char *value, const char *login,
                          const char *redirect_uri, harness_oidc_result *out) {
  memset(out, 0, sizeof *out);
  CURL *c = curl_easy_init();
  curl_easy_setopt(c, CURLOPT_COOKIEFILE, ""); /* the cookie engine, nothing read from disk */
  curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
  curl_easy_setopt(c, CURLOPT_TIMEOUT, 20L);
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, buf_curl_write);
  char url[4096], origin[256];
  char *first = param ? harness_url_with_param(authorization_url, param, value) : NULL;
  snprintf(url, sizeof url, "%s", first ? first : authorization_url);
  free(first);
  buf post = {0}; /* the form body to post to url; data NULL for a GET */
  bool done = false;
  for (int step = 0; step < OIDC_MAX_STEPS && !done; step++) {
    buf p = {0};
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &p);
    if (post.data) {
      curl_easy_setopt(c, CURLOPT_POSTFIELDS, post.data);
    } else {
      curl_easy_setopt(c, CURLOPT_HTTPGET, 1L);
    }
    CURLcode rc = curl_easy_perform(c);
    free(post.data);
    post = (buf){0};
    long status = 0;
    char *next = NULL;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_getinfo(c, CURLINFO_REDIRECT_URL, &next);
    origin_of(url, origin, sizeof origin);
    if (rc != CURLE_OK) {
      snprintf(out->error, sizeof out->error, "%.120s: %s", url, curl_easy_strerror(rc));
      done = true;
    } else if (status >= 300 && status < 400 && next) {
      snprintf(url, sizeof url, "%s", next);
      if (strncmp(next, redirect_uri, strlen(redirect_uri)) == 0) {
        snprintf(out->location, sizeof out->location, "%s", next);
        query_param(next, "code", out->code, sizeof out->code);
        query_param(next, "state", out->state, sizeof out->state);
        query_param(next, "error", out->error, sizeof out->error);
        done = true;
      }
    } else if (status == 200 && p.data && read_form(p.data, origin, login, url, sizeof url, &post)) {
      /* the form is posted at the next step */
    } else {
      snprintf(out->error, sizeof out->error, "HTTP %ld at %.120s: %.100s", status, url, p.data ? p.data : "");
      done = true;
    }
    free(p.data);
  }
  free(post.data);
  curl_easy_cleanup(c);
  if (!out->location[0] && !out->error[0])
    snprintf(out->error, sizeof out->error, "no redirect to %s within %d steps", redirect_uri, OIDC_MAX_STEPS);
  return out->code[0] != '\0' && out->error[0] == '\0';
}
