/*
 * e2e_password_reset.c — password reset by email and set-password invitations (issue 16, deliverables 2 to 4;
 * README "Password reset and email"), with a real SMTP server on loopback (Debian's python3-aiosmtpd, its
 * Mailbox handler writing each message received into a maildir):
 *   - the reset link arrives by SMTP as an RFC 5322 message; confirming it sets the password and ends every
 *     session and access token; the link is single use; an expired one fails;
 *   - an unknown email: 202, no email, no row, in the same timing class as a known one;
 *   - SMTP down: the answer is still 202, the job is retried (attempts, last_error), and the message is
 *     delivered once the server is up;
 *   - smtps:// and STARTTLS deliver to a server whose certificate chains to FORUMNET_SMTP_CA_FILE, and an
 *     untrusted certificate is refused (recorded on the job, retried);
 *   - no SMTP URL: an .eml file appears in FORUMNET_MAIL_DIR and parses as RFC 5322 (python3's email module);
 *   - POST /v1/members with send_invite: no password, a set-password link by email (7 days);
 *   - a leader's invitation to a group emails the invitee (the group's name only); a join request and a
 *     refused invitation email nobody;
 *   - rate limiting (429), header injection refused at validation, erasure deletes links and pending email.
 * Each test that delivers starts its own server with the job thread on (FORUMNET_JOBS=1) above the suite's.
 * Its own database (harness_use_own_database): its instances run every due job of their database, which on the
 * shared one would include other suites' email.
 */
#include "harness.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define PYTHON "/usr/bin/python3" /* Debian's, where python3-aiosmtpd is installed */
#define RESET_URL "https://app.example.org/reset?token={token}"
#define MAIL_FROM "forumnet@test.example.org"
#define NEW_PASSWORD "a new password of mine"

static harness_account g_admin;
static char g_tmp[64];
static char g_site[HARNESS_ID_MAX];

static int group_setup(void **state) {
  (void)state;
  harness_use_own_database("password_reset");
  harness_suite_start(NULL, &g_admin);
  harness_new_site_id(g_admin.token, g_site);
  snprintf(g_tmp, sizeof g_tmp, "/tmp/forumnet-e2e-mail-XXXXXX");
  if (mkdtemp(g_tmp) == NULL)
    harness_fail("mkdtemp failed");
  return 0;
}

static int group_teardown(void **state) {
  char cmd[128];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", g_tmp);
  if (system(cmd) != 0)
    fprintf(stderr, "could not remove %s\n", g_tmp);
  return harness_suite_teardown(state);
}

/* ---------------------------------------------------------------- the SMTP server */

static int port_open(int port) {
  struct sockaddr_in a = {
      .sin_family = AF_INET, .sin_port = htons((uint16_t)port), .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  int ok = fd >= 0 && connect(fd, (struct sockaddr *)&a, sizeof a) == 0;
  if (fd >= 0)
    close(fd);
  return ok;
}

typedef struct smtp_sink {
  pid_t pid;
  int port;
  char dir[160]; /* the maildir's new/, where messages land */
} smtp_sink;

/* How the test's SMTP server speaks: in clear, TLS from the first byte (SMTPS), or STARTTLS required before
 * any mail (aiosmtpd's default once it has a certificate). TLS uses the test's certificate (make_certificate). */
typedef enum sink_tls { SINK_PLAIN, SINK_SMTPS, SINK_STARTTLS } sink_tls;
/* `python3 -m aiosmtpd`, except that the greeting's host name is "localhost": aiosmtpd calls socket.getfqdn() for
 * every connection, on its event loop, and the look-up of the machine's name can wait on an unreachable resolver
 * (once 15 s in a fresh Debian root: the message never came within the test's wait). The arguments after -c
 * are aiosmtpd's own. */
#define AIOSMTPD_WITHOUT_DNS                                                                                           \
  "import runpy, socket; socket.getfqdn = lambda name='': 'localhost'; "                                               \
  "runpy.run_module('aiosmtpd', run_name='__main__', alter_sys=True)"
static char g_cert[128], g_key[128];

static void sink_start_tls(smtp_sink *s, int port, const char *name, sink_tls tls) {
  char listen[32];
  s->port = port;
  char maildir[128];
  snprintf(maildir, sizeof maildir, "%s/%s", g_tmp, name);
  snprintf(s->dir, sizeof s->dir, "%s/new", maildir);
  snprintf(listen, sizeof listen, "127.0.0.1:%d", port);
  s->pid = fork();
  if (s->pid < 0)
    harness_fail("fork failed");
  if (s->pid == 0) {
    const char *argv[16] = {PYTHON, "-c", AIOSMTPD_WITHOUT_DNS, "-n", "-l", listen};
    int n = 6;
    if (tls != SINK_PLAIN) {
      argv[n++] = tls == SINK_SMTPS ? "--smtpscert" : "--tlscert";
      argv[n++] = g_cert;
      argv[n++] = tls == SINK_SMTPS ? "--smtpskey" : "--tlskey";
      argv[n++] = g_key;
    }
    argv[n++] = "-c";
    argv[n++] = "aiosmtpd.handlers.Mailbox";
    argv[n] = maildir;
    execv(PYTHON, (char *const *)argv);
    _exit(127);
  }
  for (int i = 0; i < 200 && !port_open(port); i++)
    harness_sleep_ms(50);
  if (!port_open(port))
    harness_fail("the SMTP server (python3 -m aiosmtpd) did not start on port %d", port);
}

static void sink_start(smtp_sink *s, int port, const char *name) { sink_start_tls(s, port, name, SINK_PLAIN); }

static void sink_stop(smtp_sink *s) {
  if (s->pid > 0) {
    kill(s->pid, SIGTERM);
    waitpid(s->pid, NULL, 0);
    s->pid = 0;
  }
}

/* The test's SMTP server, stopped by the teardown also when the test failed. */
static smtp_sink sink;

static int stop_test_servers(void **state) {
  sink_stop(&sink);
  return harness_stop_test_servers(state);
}

/* ---------------------------------------------------------------- messages */

static char *read_whole(const char *path) {
  FILE *f = fopen(path, "rb");
  if (f == NULL)
    return NULL;
  char *buf = calloc(1, 65536);
  size_t n = fread(buf, 1, 65535, f);
  buf[n] = '\0';
  fclose(f);
  return buf;
}

/* The first file of dir (not a hidden one) whose text has "To: <to>" at a line start, or NULL. *path_out
 * (PATH_MAX) names it when not NULL. With count not NULL, every file is read and *count is how many match. */
static char *find_message(const char *dir, const char *to, char *path_out, int *count) {
  char needle[300];
  snprintf(needle, sizeof needle, "\nTo: %s", to);
  DIR *d = opendir(dir);
  struct dirent *e;
  char *found = NULL;
  if (count)
    *count = 0;
  while (d && (found == NULL || count) && (e = readdir(d)) != NULL) {
    char path[PATH_MAX];
    if (e->d_name[0] == '.')
      continue;
    snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
    char *text = read_whole(path);
    if (text && strstr(text, needle)) {
      if (count)
        (*count)++;
      if (found == NULL) {
        found = text;
        text = NULL;
        if (path_out)
          snprintf(path_out, PATH_MAX, "%s", path);
      }
    }
    free(text);
  }
  if (d)
    closedir(d);
  return found;
}

static char *wait_message(const char *dir, const char *to, int timeout_ms, char *path_out) {
  int64_t until = harness_now_ms() + timeout_ms;
  char *m;
  while ((m = find_message(dir, to, path_out, NULL)) == NULL && harness_now_ms() < until)
    harness_sleep_ms(100);
  if (m == NULL)
    harness_fail("no email to %s in %s within %d ms; server log: %s", to, dir, timeout_ms, harness_server_log());
  return m;
}

/* The token of the link in a message (base64url characters after "token="). */
static void token_of(const char *message, char *out, size_t size) {
  const char *p = strstr(message, "?token=");
  if (p == NULL)
    harness_fail("no link in the message: %s", message);
  p += 7;
  size_t n = strspn(p, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_");
  if (n < 40 || n >= size)
    harness_fail("a token of %zu characters in: %s", n, message);
  memcpy(out, p, n);
  out[n] = '\0';
}

/* ---------------------------------------------------------------- servers and requests */

/* A server running jobs every 100 ms, delivering by SMTP to scheme://127.0.0.1:port (port 0: into files in
 * mail_dir), trusting the CA certificates in ca_file (NULL: the system's). */
static void start_mail_server_with(const char *scheme, int port, const char *ca_file, const char *mail_dir) {
  char smtp[64] = "FORUMNET_SMTP_URL=", dir[256], ca[200] = "FORUMNET_SMTP_CA_FILE=";
  if (port)
    snprintf(smtp, sizeof smtp, "FORUMNET_SMTP_URL=%s://127.0.0.1:%d", scheme, port);
  if (ca_file)
    snprintf(ca, sizeof ca, "FORUMNET_SMTP_CA_FILE=%s", ca_file);
  snprintf(dir, sizeof dir, "FORUMNET_MAIL_DIR=%s", mail_dir ? mail_dir : g_tmp);
  const char *const env[] = {"FORUMNET_JOBS=1",
                             "FORUMNET_JOBS_INTERVAL_MS=100",
                             smtp,
                             ca,
                             dir,
                             "FORUMNET_MAIL_FROM=" MAIL_FROM,
                             "FORUMNET_PASSWORD_RESET_URL=" RESET_URL,
                             NULL};
  harness_server_start(env);
}

static void start_mail_server(int port, const char *mail_dir) { start_mail_server_with("smtp", port, NULL, mail_dir); }

static long request_reset(const char *email) {
  http_response *r = http_json("POST", "/v1/auth/password-reset", NULL, json_pack("{s:s}", "email", email));
  long status = r->status;
  if (status == 202 && r->body_len != 0)
    harness_fail("a 202 with a body: %s", r->body);
  http_response_free(r);
  return status;
}

/* Asks for a reset of email and reads the link's token from the message the SMTP server received. */
static void reset_link(const char *email, char *token, size_t size) {
  assert_int_equal(request_reset(email), 202);
  char *msg = wait_message(sink.dir, email, 15000, NULL);
  token_of(msg, token, size);
  free(msg);
}

static http_response *confirm(const char *token, const char *password) {
  return http_json("POST", "/v1/auth/password-reset/confirm", NULL,
                   json_pack("{s:s, s:s}", "token", token, "new_password", password));
}

static void assert_login(const char *email, const char *password, long status) {
  http_response *r = harness_login_request(email, password);
  assert_status(r, status);
  http_response_free(r);
}

/* ---------------------------------------------------------------- tests */

static void test_reset_by_smtp_ends_every_session(void **state) {
  (void)state;
  sink_start(&sink, harness_free_port(), "smtp1");
  start_mail_server(sink.port, NULL);
  harness_account m;
  harness_new_member(g_admin.token, "practitioner", g_site, &m);
  assert_int_equal(request_reset(m.email), 202);
  char *msg = wait_message(sink.dir, m.email, 15000, NULL);
  /* RFC 5322 headers; the link and nothing personal but the address */
  const char *const headers[] = {"From: " MAIL_FROM,
                                 "Subject: Reset your forumnet password",
                                 "Date: ",
                                 "Message-ID: <",
                                 "MIME-Version: 1.0",
                                 "Content-Type: text/plain; charset=utf-8",
                                 "https://app.example.org/reset?token="};
  for (size_t i = 0; i < sizeof headers / sizeof headers[0]; i++)
    if (strstr(msg, headers[i]) == NULL)
      harness_fail("the message lacks %s: %s", headers[i], msg);
  if (strstr(msg, m.display_name) || strstr(msg, m.id))
    harness_fail("the message carries the member's name or id: %s", msg);
  char token[128];
  token_of(msg, token, sizeof token);
  free(msg);
  /* delivered: the outbox row (holding the link) goes when the runner records the delivery, a moment after the
   * SMTP conversation the sink saw */
  char gone[320];
  snprintf(gone, sizeof gone, "SELECT count(*) FROM mail_outbox WHERE to_address = '%s'", m.email);
  if (!harness_psql_wait_value(gone, 0, 5000))
    harness_fail("the delivered message's outbox row (holding the link) is still there after 5 s");

  http_response *r = confirm(token, NEW_PASSWORD);
  assert_status(r, 204);
  http_response_free(r);
  r = http_get("/v1/me", m.token); /* the access token issued before: ended */
  assert_status(r, 401);
  http_response_free(r);
  r = harness_refresh_request(m.refresh);
  assert_status(r, 401);
  http_response_free(r);
  assert_login(m.email, m.password, 401);
  assert_login(m.email, NEW_PASSWORD, 200);
  r = confirm(token, "yet another password here"); /* single use */
  assert_problem_type(r, 400, "invalid-request");
  http_response_free(r);
  assert_int_equal(harness_audit_count("member.password_reset", m.id, NULL), 1);
  char *log = harness_server_log_text();
  if (strstr(log, token))
    harness_fail("the server logged the token");
  free(log);
  harness_server_stop();
  sink_stop(&sink);
}

static void test_expired_or_unknown_link_fails(void **state) {
  (void)state;
  sink_start(&sink, harness_free_port(), "smtp2");
  start_mail_server(sink.port, NULL);
  harness_account m;
  harness_new_member(g_admin.token, "practitioner", g_site, &m);
  char token[128];
  reset_link(m.email, token, sizeof token);
  http_response *r = confirm(token, "short"); /* the password policy first: the link stays valid */
  assert_status(r, 400);
  http_response_free(r);
  assert_int_equal(
      harness_psql_longf("SELECT count(*) FROM password_resets WHERE member_id = '%s' AND used_at IS NULL", m.id), 1);
  char sql[256];
  snprintf(sql, sizeof sql,
           "UPDATE password_resets SET expires_at = now() - interval '1 second' WHERE member_id = '%s'", m.id);
  assert_int_equal(harness_psql_try(sql), 0);
  r = confirm(token, NEW_PASSWORD);
  assert_status(r, 400);
  http_response_free(r);
  r = confirm("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", NEW_PASSWORD);
  assert_status(r, 400);
  http_response_free(r);
  assert_login(m.email, m.password, 200); /* nothing changed */
  harness_server_stop();
  sink_stop(&sink);
}

static void test_unknown_email_sends_nothing(void **state) {
  (void)state;
  sink_start(&sink, harness_free_port(), "smtp3");
  start_mail_server(sink.port, NULL);
  harness_use_unique_source_address();
  harness_account m;
  harness_new_member(g_admin.token, "practitioner", g_site, &m);
  char unknown[HARNESS_EMAIL_MAX];
  harness_unique_email("nobody", unknown);
  /* the same answer and the same timing class: 3 of each, alternately */
  int64_t known_ms = 0, unknown_ms = 0;
  for (int i = 0; i < 3; i++) {
    int64_t t0 = harness_now_ms();
    assert_int_equal(request_reset(unknown), 202);
    int64_t t1 = harness_now_ms();
    assert_int_equal(request_reset(m.email), 202);
    unknown_ms += t1 - t0;
    known_ms += harness_now_ms() - t1;
  }
  if (llabs((long long)(known_ms - unknown_ms)) > 3 * 150)
    harness_fail("3 known resets took %lld ms, 3 unknown %lld ms", (long long)known_ms, (long long)unknown_ms);
  free(wait_message(sink.dir, m.email, 15000, NULL));
  harness_sleep_ms(500);
  assert_int_equal(
      harness_psql_longf("SELECT count(*) FROM mail_outbox WHERE lower(to_address) = lower('%s')", unknown), 0);
  char *none = find_message(sink.dir, unknown, NULL, NULL);
  if (none)
    harness_fail("an email went to an unknown address: %s", none);
  harness_server_stop();
  sink_stop(&sink);
}

static void test_smtp_down_retried_then_delivered(void **state) {
  (void)state;
  int port = harness_free_port(); /* nothing listens there yet */
  start_mail_server(port, NULL);
  harness_account m;
  harness_new_member(g_admin.token, "practitioner", g_site, &m);
  assert_int_equal(request_reset(m.email), 202); /* the API answer does not depend on SMTP */
  char q[512];
  snprintf(q, sizeof q,
           "SELECT coalesce(max(j.attempts), 0) FROM jobs j JOIN mail_outbox o ON j.payload->>'outbox_id' = o.id::text"
           " WHERE j.kind = 'mail.send' AND o.to_address = '%s' AND j.last_error LIKE 'smtp:%%'",
           m.email);
  if (!harness_psql_wait_count(q, 2, 20000))
    harness_fail("the job was not retried with last_error set; log: %s", harness_server_log());
  sink_start(&sink, port, "smtp4");
  char token[128], *msg = wait_message(sink.dir, m.email, 30000, NULL);
  token_of(msg, token, sizeof token);
  free(msg);
  http_response *r = confirm(token, NEW_PASSWORD);
  assert_status(r, 204);
  http_response_free(r);
  harness_server_stop();
  sink_stop(&sink);
}

static void test_file_mode_writes_rfc5322_eml(void **state) {
  (void)state;
  char dir[128], path[PATH_MAX], cmd[2 * PATH_MAX];
  snprintf(dir, sizeof dir, "%s/files", g_tmp);
  start_mail_server(0, dir);
  harness_account m;
  harness_new_member(g_admin.token, "practitioner", g_site, &m);
  assert_int_equal(request_reset(m.email), 202);
  char *msg = wait_message(dir, m.email, 15000, path);
  free(msg);
  if (strstr(path, ".eml") == NULL)
    harness_fail("not an .eml file: %s", path);
  snprintf(cmd, sizeof cmd,
           PYTHON " -c \"import email, email.policy, sys; "
                  "m = email.message_from_binary_file(open(sys.argv[1], 'rb'), policy=email.policy.strict); "
                  "assert m['To'] == sys.argv[2] and m['From'] == '" MAIL_FROM "', (m['To'], m['From']); "
                  "assert m['Date'].datetime and m['Message-ID'] and m.get_content_type() == 'text/plain'; "
                  "assert 'https://app.example.org/reset?token=' in m.get_content()\" '%s' '%s'",
           path, m.email);
  if (system(cmd) != 0)
    harness_fail("%s does not parse as the expected RFC 5322 message", path);
  harness_server_stop();
}

static void test_send_invite_sends_a_link_not_a_password(void **state) {
  (void)state;
  sink_start(&sink, harness_free_port(), "smtp5");
  start_mail_server(sink.port, NULL);
  char email[HARNESS_EMAIL_MAX], name[HARNESS_NAME_MAX];
  harness_unique_email("invited", email);
  harness_unique("Invited", name);
  http_response *r = http_json("POST", "/v1/members", g_admin.token,
                               json_pack("{s:s, s:s, s:s, s:s, s:b}", "email", email, "display_name", name, "role",
                                         "practitioner", "home_site_id", g_site, "send_invite", 1));
  assert_status(r, 201);
  if (json_object_get(r->json, "one_time_password"))
    harness_fail("send_invite returned a password: %s", r->body);
  char id[HARNESS_ID_MAX];
  snprintf(id, sizeof id, "%s", hjson_str(r->json, "member.id"));
  http_response_free(r);
  assert_int_equal(harness_psql_longf("SELECT count(*) FROM members WHERE id = '%s' AND password_hash IS NULL", id), 1);
  assert_int_equal(
      harness_psql_longf("SELECT count(*) FROM password_resets WHERE member_id = '%s' AND purpose = 'invite'"
                         " AND expires_at > now() + interval '6 days 23 hours'",
                         id),
      1);
  char token[128], *msg = wait_message(sink.dir, email, 15000, NULL);
  if (strstr(msg, "Subject: Your forumnet account: choose your password") == NULL || strstr(msg, name))
    harness_fail("not the invitation, or it carries the name: %s", msg);
  token_of(msg, token, sizeof token);
  free(msg);
  r = confirm(token, NEW_PASSWORD);
  assert_status(r, 204);
  http_response_free(r);
  assert_login(email, NEW_PASSWORD, 200);
  r = http_json("PATCH", hpath("/v1/members/%s", id), g_admin.token, json_pack("{s:b}", "send_invite", 1));
  assert_status(r, 400); /* creation only */
  http_response_free(r);
  harness_server_stop();
  sink_stop(&sink);
}

/* A leader's invitation to a group emails the invitee (the group's name, not who invited); a join request
 * and a refused (rolled-back) second invitation email nobody. */
static void test_group_invitation_emails_the_invitee(void **state) {
  (void)state;
  sink_start(&sink, harness_free_port(), "smtp6");
  start_mail_server(sink.port, NULL);
  harness_account conv, invitee, requester;
  harness_new_member(g_admin.token, "practitioner", g_site, &conv);
  harness_new_member(g_admin.token, "practitioner", g_site, &invitee);
  harness_new_member(g_admin.token, "practitioner", g_site, &requester);
  char gid[HARNESS_ID_MAX], subject[HARNESS_NAME_MAX + 64], pending[512];
  json_t *group = harness_new_group(conv.token, g_site, 2, 8, gid);
  snprintf(subject, sizeof subject, "Subject: You are invited to join %s", hjson_str(group, "name"));
  json_decref(group);
  harness_group_invite(gid, conv.token, invitee.id, NULL);
  harness_group_request(gid, requester.token);
  http_response *r =
      http_json("POST", hpath("/v1/groups/%s/members", gid), conv.token, json_pack("{s:s}", "member_id", invitee.id));
  assert_status(r, 409); /* invited already: rolled back, so no second email */
  http_response_free(r);
  char *msg = wait_message(sink.dir, invitee.email, 15000, NULL);
  if (strstr(msg, subject) == NULL || strstr(msg, "Sign in to forumnet to accept") == NULL || strstr(msg, conv.email) ||
      strstr(msg, conv.display_name))
    harness_fail("not the invitation to the group, or it names who invited: %s", msg);
  free(msg);
  /* Once no email of the three is pending, everything queued for them has been delivered: count it. The runner
   * deletes a row when the SMTP server has accepted its message (in its maildir), so wait for the count to be 0
   * (an "at least 0" wait would not wait at all). */
  snprintf(pending, sizeof pending, "SELECT count(*) FROM mail_outbox WHERE member_id IN ('%s', '%s', '%s')", conv.id,
           invitee.id, requester.id);
  if (!harness_psql_wait_value(pending, 0, 15000))
    harness_fail("email still pending after 15 s; server log: %s", harness_server_log());
  int invited = 0, requested = 0, leader = 0;
  free(find_message(sink.dir, invitee.email, NULL, &invited));
  free(find_message(sink.dir, requester.email, NULL, &requested));
  free(find_message(sink.dir, conv.email, NULL, &leader));
  if (invited != 1 || requested != 0 || leader != 0)
    harness_fail("emails: %d to the invitee (1 expected), %d to the requester, %d to the convener (0 expected)",
                 invited, requested, leader);
  harness_server_stop();
  sink_stop(&sink);
}

/* A self-signed certificate for 127.0.0.1 (openssl, from ca-certificates' dependencies), once. */
static void make_certificate(void) {
  if (g_cert[0])
    return;
  snprintf(g_cert, sizeof g_cert, "%s/smtp-cert.pem", g_tmp);
  snprintf(g_key, sizeof g_key, "%s/smtp-key.pem", g_tmp);
  char cmd[512];
  snprintf(cmd, sizeof cmd,
           "openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1"
           " -keyout '%s' -out '%s' >/dev/null 2>&1",
           g_key, g_cert);
  if (system(cmd) != 0)
    harness_fail("openssl could not make the test certificate");
}

/* Email over TLS: smtps:// and STARTTLS (which the server requires) deliver when the server's certificate
 * chains to FORUMNET_SMTP_CA_FILE; without it (the system's CAs) the certificate is refused, the job records
 * why and retries, and the API's answer is the same 202. */
static void test_smtps_and_starttls_verify_the_server(void **state) {
  (void)state;
  make_certificate();
  static const struct {
    const char *scheme, *name;
    sink_tls tls;
  } modes[] = {{"smtps", "smtps", SINK_SMTPS}, {"smtp", "starttls", SINK_STARTTLS}};
  for (size_t i = 0; i < sizeof modes / sizeof modes[0]; i++) {
    sink_start_tls(&sink, harness_free_port(), modes[i].name, modes[i].tls);
    start_mail_server_with(modes[i].scheme, sink.port, g_cert, NULL);
    harness_account m;
    harness_new_member(g_admin.token, "practitioner", g_site, &m);
    char token[128];
    reset_link(m.email, token, sizeof token);
    harness_server_stop();
    sink_stop(&sink);
  }
  sink_start_tls(&sink, harness_free_port(), "untrusted", SINK_SMTPS);
  start_mail_server_with("smtps", sink.port, NULL, NULL);
  harness_account m;
  harness_new_member(g_admin.token, "practitioner", g_site, &m);
  assert_int_equal(request_reset(m.email), 202);
  char refused[512];
  snprintf(refused, sizeof refused,
           "SELECT count(*) FROM jobs j JOIN mail_outbox o ON j.payload->>'outbox_id' = o.id::text"
           " WHERE o.member_id = '%s' AND j.attempts >= 1 AND j.last_error ILIKE '%%certificate%%'",
           m.id);
  if (!harness_psql_wait_count(refused, 1, 15000))
    harness_fail("an untrusted certificate was not refused (or not recorded); server log: %s", harness_server_log());
  char *delivered = find_message(sink.dir, m.email, NULL, NULL);
  if (delivered != NULL) {
    free(delivered);
    harness_fail("email was delivered to a server whose certificate is not trusted");
  }
  harness_server_stop();
  sink_stop(&sink);
}

static void test_reset_requests_rate_limited(void **state) {
  (void)state;
  harness_use_unique_source_address();
  char email[HARNESS_EMAIL_MAX];
  harness_unique_email("limited", email);
  for (int i = 0; i < 5; i++) /* FORUMNET_LOGIN_MAX_FAILURES, 5 by default */
    assert_int_equal(request_reset(email), 202);
  http_response *r = http_json("POST", "/v1/auth/password-reset", NULL, json_pack("{s:s}", "email", email));
  assert_status(r, 429);
  if (http_header(r, "Retry-After") == NULL)
    harness_fail("a 429 without Retry-After");
  http_response_free(r);
}

static void test_header_injection_refused(void **state) {
  (void)state;
  const char *const bad[] = {"ann@example.org\r\nBcc: eve@example.org", "ann@example.org\nBcc: eve@example.org"};
  for (size_t i = 0; i < 2; i++) {
    http_response *r = http_json("POST", "/v1/auth/password-reset", NULL, json_pack("{s:s}", "email", bad[i]));
    assert_status(r, 400);
    http_response_free(r);
    r = http_json("POST", "/v1/members", g_admin.token,
                  json_pack("{s:s, s:s, s:s, s:s, s:b}", "email", bad[i], "display_name", "Eve", "role", "practitioner",
                            "home_site_id", g_site, "send_invite", 1));
    assert_status(r, 400);
    http_response_free(r);
  }
}

static void test_erasure_deletes_links_and_pending_email(void **state) {
  (void)state;
  harness_account m; /* the suite's server runs no jobs: the email stays pending */
  harness_new_member(g_admin.token, "practitioner", g_site, &m);
  assert_int_equal(request_reset(m.email), 202);
  assert_int_equal(harness_psql_longf("SELECT count(*) FROM mail_outbox WHERE member_id = '%s'", m.id), 1);
  assert_int_equal(harness_psql_longf("SELECT count(*) FROM password_resets WHERE member_id = '%s'", m.id), 1);
  http_response *r = http_get("/v1/me/export", m.token);
  assert_status(r, 200);
  if (json_array_size(hjson_get(r->json, "password_resets")) != 1 ||
      json_array_size(hjson_get(r->json, "pending_email")) != 1 || strstr(r->body, "token="))
    harness_fail("the export's password_resets/pending_email: %s", r->body);
  http_response_free(r);
  r = http_request("DELETE", "/v1/me", m.token, NULL, NULL, NULL);
  assert_status(r, 204);
  http_response_free(r);
  assert_int_equal(harness_psql_longf("SELECT count(*) FROM mail_outbox WHERE member_id = '%s'", m.id), 0);
  assert_int_equal(harness_psql_longf("SELECT count(*) FROM password_resets WHERE member_id = '%s'", m.id), 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_teardown(test_reset_by_smtp_ends_every_session, stop_test_servers),
      cmocka_unit_test_teardown(test_expired_or_unknown_link_fails, stop_test_servers),
      cmocka_unit_test_teardown(test_unknown_email_sends_nothing, stop_test_servers),
      cmocka_unit_test_teardown(test_smtp_down_retried_then_delivered, stop_test_servers),
      cmocka_unit_test_teardown(test_file_mode_writes_rfc5322_eml, stop_test_servers),
      cmocka_unit_test_teardown(test_send_invite_sends_a_link_not_a_password, stop_test_servers),
      cmocka_unit_test_teardown(test_group_invitation_emails_the_invitee, stop_test_servers),
      cmocka_unit_test_teardown(test_smtps_and_starttls_verify_the_server, stop_test_servers),
      cmocka_unit_test_teardown(test_reset_requests_rate_limited, stop_test_servers),
      cmocka_unit_test(test_header_injection_refused),
      cmocka_unit_test(test_erasure_deletes_links_and_pending_email),
  };
  return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
