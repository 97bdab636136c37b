/* Email messages and their delivery (include/forumnet/mail.h). */
#include "forumnet/mail.h"

#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "forumnet/strbuf.h"

#define SMTP_CONNECT_TIMEOUT_S 10L
#define SMTP_TIMEOUT_S 60L

static const fn_config *mail_cfg;

void mail_configure(const fn_config *cfg) {
  static int curl_ready;
  if (!curl_ready)
    curl_ready = curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK;
  mail_cfg = cfg;
}

const fn_config *mail_config(void) { return mail_cfg; }

int mail_header_value_ok(const char *v) {
  for (const unsigned char *p = (const unsigned char *)v; *p; p++)
    if ((*p < 0x20 && *p != '\t') || *p == 0x7f)
      return 0;
  return 1;
}

fn_status mail_compose(const char *from, const char *to, const char *subject, const char *body, const char *id,
                       time_t when, char **out) {
  static const char *const days[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
  static const char *const months[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                       "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  const char *domain = strchr(from, '@');
  struct tm tm;
  *out = NULL;
  if (!mail_header_value_ok(from) || !mail_header_value_ok(to) || !mail_header_value_ok(subject) ||
      !mail_header_value_ok(id) || domain == NULL || gmtime_r(&when, &tm) == NULL)
    return FN_INVALID;
  strbuf b = STRBUF_INIT;
  strbuf_printf(&b, "From: %s\r\nTo: %s\r\nSubject: %s\r\n", from, to, subject);
  strbuf_printf(&b, "Date: %s, %02d %s %04d %02d:%02d:%02d +0000\r\n", days[tm.tm_wday], tm.tm_mday, months[tm.tm_mon],
                tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
  strbuf_printf(&b, "Message-ID: <%s%s>\r\n", id, domain);
  strbuf_puts(&b, "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n"
                  "Content-Transfer-Encoding: 8bit\r\n\r\n");
  for (const char *p = body; *p; p++) { /* every line ends with CRLF (SMTP and RFC 5322) */
    if (*p == '\n')
      strbuf_puts(&b, "\r\n");
    else if (*p != '\r')
      strbuf_append(&b, p, 1);
  }
  if (b.len < 2 || strcmp(b.data + b.len - 2, "\r\n") != 0)
    strbuf_puts(&b, "\r\n");
  *out = strbuf_finish(&b, NULL);
  return *out ? FN_OK : FN_INTERNAL;
}

/* ---- SMTP ---- */

typedef struct upload {
  const char *p;
  size_t left;
} upload;

static size_t read_message(char *buf, size_t size, size_t n, void *arg) {
  upload *u = arg;
  size_t len = size * n < u->left ? size * n : u->left;
  memcpy(buf, u->p, len);
  u->p += len;
  u->left -= len;
  return len;
}

static fn_status deliver_smtp(const fn_config *cfg, const char *to, const char *message, char *error,
                              size_t error_size) {
  char from[300], rcpt[300];
  upload u = {message, strlen(message)};
  CURL *curl = curl_easy_init();
  if (curl == NULL) {
    snprintf(error, error_size, "smtp: cannot start libcurl");
    return FN_INTERNAL;
  }
  snprintf(from, sizeof from, "<%s>", cfg->mail_from);
  snprintf(rcpt, sizeof rcpt, "<%s>", to);
  struct curl_slist *rcpts = curl_slist_append(NULL, rcpt);
  curl_easy_setopt(curl, CURLOPT_URL, cfg->smtp_url);
  curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "smtp,smtps");
  curl_easy_setopt(curl, CURLOPT_MAIL_FROM, from);
  curl_easy_setopt(curl, CURLOPT_MAIL_RCPT, rcpts);
  curl_easy_setopt(curl, CURLOPT_READFUNCTION, read_message);
  curl_easy_setopt(curl, CURLOPT_READDATA, &u);
  curl_easy_setopt(curl, CURLOPT_UPLOAD, 1L);
  curl_easy_setopt(curl, CURLOPT_INFILESIZE_LARGE, (curl_off_t)u.left);
  curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT, SMTP_CONNECT_TIMEOUT_S);
  curl_easy_setopt(curl, CURLOPT_TIMEOUT, SMTP_TIMEOUT_S);
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  if (cfg->smtp_ca_file[0] != '\0')
    curl_easy_setopt(curl, CURLOPT_CAINFO, cfg->smtp_ca_file);
  if (cfg->smtp_user[0] != '\0') {
    curl_easy_setopt(curl, CURLOPT_USERNAME, cfg->smtp_user);
    curl_easy_setopt(curl, CURLOPT_PASSWORD, cfg->smtp_password);
    /* credentials never travel in clear: smtp:// must offer STARTTLS */
    curl_easy_setopt(curl, CURLOPT_USE_SSL, (long)CURLUSESSL_ALL);
  } else {
    curl_easy_setopt(curl, CURLOPT_USE_SSL, (long)CURLUSESSL_TRY);
  }
  CURLcode rc = curl_easy_perform(curl);
  curl_slist_free_all(rcpts);
  curl_easy_cleanup(curl);
  if (rc == CURLE_OK)
    return FN_OK;
  snprintf(error, error_size, "smtp: %s (curl %d)", curl_easy_strerror(rc), (int)rc);
  return FN_UNAVAILABLE;
}

/* ---- files ---- */

static fn_status deliver_file(const fn_config *cfg, const char *id, const char *message, char *error,
                              size_t error_size) {
  char tmp[1200], path[1200];
  size_t len = strlen(message);
  snprintf(tmp, sizeof tmp, "%s/.%s.eml.tmp", cfg->mail_dir, id);
  snprintf(path, sizeof path, "%s/%s.eml", cfg->mail_dir, id);
  if (mkdir(cfg->mail_dir, 0700) != 0 && errno != EEXIST) {
    snprintf(error, error_size, "mail dir: %s", strerror(errno));
    return FN_UNAVAILABLE;
  }
  int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) {
    snprintf(error, error_size, "mail file: %s", strerror(errno));
    return FN_UNAVAILABLE;
  }
  ssize_t wrote = write(fd, message, len);
  int ok = wrote == (ssize_t)len && fsync(fd) == 0;
  ok = close(fd) == 0 && ok;
  if (!ok || rename(tmp, path) != 0) {
    snprintf(error, error_size, "mail file: %s", strerror(errno));
    unlink(tmp);
    return FN_UNAVAILABLE;
  }
  return FN_OK;
}

fn_status mail_deliver(const fn_config *cfg, const char *id, const char *to, const char *message, char *error,
                       size_t error_size) {
  error[0] = '\0';
  return cfg->smtp_url[0] != '\0' ? deliver_smtp(cfg, to, message, error, error_size)
                                  : deliver_file(cfg, id, message, error, error_size);
}
