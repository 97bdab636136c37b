#ifndef FORUMNET_MAIL_H
#define FORUMNET_MAIL_H

#include <stddef.h>
#include <time.h>

#include "forumnet/config.h"
#include "forumnet/status.h"

/* Email (README "Password reset and email"): an RFC 5322 message, sent by SMTP (libcurl) when
 * FORUMNET_SMTP_URL is set, else written as <id>.eml into FORUMNET_MAIL_DIR. Messages are queued in table
 * mail_outbox in the transaction of the change (mail_db.h) and delivered by the 'mail.send' job. */

/* Remembers the configuration the 'mail.send' job delivers with, and initialises libcurl. Once, at start,
 * before any thread runs. */
void mail_configure(const fn_config *cfg);
const fn_config *mail_config(void);

/* 1 when v can be a header value: no CR, LF or other control character (no header injection). */
int mail_header_value_ok(const char *v);

/* The message (CRLF line ends) from the given parts, dated when, with Message-ID <id@domain of from>.
 * *out: caller frees. FN_INVALID when a header value is not acceptable (mail_header_value_ok). */
fn_status mail_compose(const char *from, const char *to, const char *subject, const char *body, const char *id,
                       time_t when, char **out);

/* Delivers message to one recipient: SMTP, or the file <mail_dir>/<id>.eml (written to a temporary file,
 * then renamed). On failure error holds one line without secrets. */
fn_status mail_deliver(const fn_config *cfg, const char *id, const char *to, const char *message, char *error,
                       size_t error_size);

#endif
