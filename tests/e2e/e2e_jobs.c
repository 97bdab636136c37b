/*
 * e2e_jobs.c — the job runner inside `forumnet serve` (issue 14, deliverable 2; README "Background
 * jobs"), with several instances on one database:
 *   - an instance started with FORUMNET_JOBS=0 runs no job;
 *   - consultation.closing_soon is created exactly once per recipient with three instances polling every
 *     200 ms: the conveners and representatives of targeted groups that have not submitted, nobody else,
 *     and nothing for a consultation closing in more than 48 hours;
 *   - retention deletes a 181-day-old notification and an expired stream ticket, and keeps a 179-day-old
 *     notification and a valid ticket;
 *   - a job whose run fails (a trigger refuses one of its deletes) is retried with a growing delay,
 *     its last_error recorded, and succeeds once the trigger is gone.
 * Its own database (harness_use_own_database): its instances run every due job of their database.
 */
#include "harness.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static harness_account g_admin;
static harness_consult_world W;

static int group_setup(void **state) {
  (void)state;
  harness_use_own_database("jobs");
  static const char *const jobs_off[] = {"FORUMNET_JOBS=0", NULL};
  harness_suite_start(jobs_off, &g_admin);
  harness_consult_world_build(g_admin.token, &W);
  return 0;
}

/* Three instances polling every 200 ms, the suite's (FORUMNET_JOBS=0) left below them. */
#define INSTANCES 3
static void start_instances(void) {
  static const char *const fast[] = {"FORUMNET_JOBS=1", "FORUMNET_JOBS_INTERVAL_MS=200", NULL};
  for (int i = 0; i < INSTANCES; i++)
    harness_server_start(fast);
}

static void stop_instances(void) {
  for (int i = 0; i < INSTANCES; i++)
    harness_server_stop();
}

static void psql_run(const char *sql) {
  if (harness_psql_try(sql) != 0)
    harness_fail("psql failed: %s", sql);
}

/* A consultation of the manager of site_a to every group there (group1 and group2), open, closing in
 * closes_in seconds. Its title into title (HARNESS_NAME_MAX). */
static void open_consultation(long closes_in, char *id, char *title) {
  json_t *c = harness_new_consultation(W.mgr_a.token, harness_consultation_body(W.site_a, NULL, -60, closes_in), id);
  snprintf(title, HARNESS_NAME_MAX, "%s", hjson_str(c, "title"));
  json_decref(c);
  harness_consultation_set_status(id, W.mgr_a.token, "open");
}

static void test_an_instance_with_jobs_off_runs_nothing(void **state) {
  (void)state;
  char key[HARNESS_NAME_MAX], sql[512];
  harness_unique("e2e-off", key);
  snprintf(sql, sizeof sql, "INSERT INTO jobs (kind, dedupe_key) VALUES ('retention.purge', '%s')", key);
  psql_run(sql);
  harness_sleep_ms(1500);
  if (harness_psql_longf("SELECT count(*) FROM jobs WHERE dedupe_key = '%s' AND run_at <= now() AND attempts = 0",
                         key) != 1)
    harness_fail("an instance with FORUMNET_JOBS=0 ran (or rescheduled) a due job");
  /* the same row is run as soon as an instance with jobs on polls: the check above could fail */
  harness_server_start((const char *const[]){"FORUMNET_JOBS=1", "FORUMNET_JOBS_INTERVAL_MS=200", NULL});
  snprintf(sql, sizeof sql, "SELECT count(*) FROM jobs WHERE dedupe_key = '%s' AND run_at > now()", key);
  bool ran = harness_psql_wait_count(sql, 1, 10000);
  harness_server_stop();
  snprintf(sql, sizeof sql, "DELETE FROM jobs WHERE dedupe_key = '%s'", key);
  psql_run(sql);
  if (!ran)
    harness_fail("an instance with jobs on did not run a due job within 10 s");
}

/* consultation.closing_soon notifications of member about consultation. */
static long closing_soon_count(const char *member, const char *consultation) {
  return harness_psql_longf("SELECT count(*) FROM notifications WHERE kind = 'consultation.closing_soon'"
                            " AND member_id = '%s' AND subject_id = '%s'",
                            member, consultation);
}

static void test_closing_soon_reaches_each_recipient_once_with_three_instances(void **state) {
  (void)state;
  char cid[HARNESS_ID_MAX], title[HARNESS_NAME_MAX], later[HARNESS_ID_MAX], later_title[HARNESS_NAME_MAX];
  open_consultation(47L * 3600, cid, title);
  open_consultation(49L * 3600, later, later_title);
  char sql[512];
  snprintf(sql, sizeof sql,
           "INSERT INTO consultation_responses (consultation_id, group_id, status, submitted_at)"
           " VALUES ('%s', '%s', 'submitted', now())",
           cid, W.group2);
  psql_run(sql); /* group2 has answered: its convener is not reminded */

  start_instances();
  /* the scan may have been scheduled by a slower instance of another test */
  psql_run("UPDATE jobs SET run_at = now() WHERE kind = 'consultation.closing_soon_scan'");
  snprintf(sql, sizeof sql,
           "SELECT count(*) FROM notifications WHERE kind = 'consultation.closing_soon' AND subject_id = '%s'", cid);
  bool arrived = harness_psql_wait_count(sql, 2, 10000);
  harness_sleep_ms(1500); /* about 20 more polls across the instances */
  stop_instances();
  if (!arrived)
    harness_fail("consultation.closing_soon did not reach the convener and representative within 10 s");

  struct {
    const harness_account *who;
    const char *as;
    long expected;
  } recipients[] = {
      {&W.conv1, "group1's convener", 1},
      {&W.rep1, "group1's representative", 1},
      {&W.mem1, "a member of group1", 0},
      {&W.mem1b, "a member of group1", 0},
      {&W.fac_b, "a member of group1", 0},
      {&W.conv2, "the convener of group2, which submitted", 0},
      {&W.mem2, "a member of group2", 0},
      {&W.mgr_a, "the owner (a manager)", 0},
      {&W.lone_a, "a practitioner of the site in no group", 0},
  };
  for (size_t i = 0; i < sizeof recipients / sizeof recipients[0]; i++) {
    long n = closing_soon_count(recipients[i].who->id, cid);
    if (n != recipients[i].expected)
      harness_fail("%s got %ld consultation.closing_soon, expected %ld", recipients[i].as, n, recipients[i].expected);
  }
  if (harness_psql_longf(
          "SELECT count(*) FROM notifications WHERE kind = 'consultation.closing_soon' AND subject_id = '%s'", later) !=
      0)
    harness_fail("a consultation closing in 49 hours already notified");
  snprintf(sql, sizeof sql,
           "SELECT count(*) FROM notifications WHERE subject_id = '%s' AND subject_type = 'consultation'"
           " AND group_id = '%s' AND title = 'Closing soon: %s'",
           cid, W.group1, title);
  if (harness_psql_long(sql) != 2)
    harness_fail("the notifications do not name the consultation, its group and the title 'Closing soon: %s'", title);
  if (harness_psql_longf(
          "SELECT count(*) FROM jobs WHERE kind IN ('consultation.closing_soon_scan', 'retention.purge')") != 2)
    harness_fail("the recurring jobs are not exactly one row each");
}

static void test_retention_and_a_failing_job_retried_with_backoff(void **state) {
  (void)state;
  char sql[1024], tag[HARNESS_NAME_MAX];
  harness_unique("e2e-retention", tag);
  snprintf(sql, sizeof sql,
           "INSERT INTO notifications (member_id, kind, subject_type, subject_id, group_id, title, created_at)"
           " SELECT '%s', 'terms.published', 'group', '%s', '%s', '%s ' || d, now() - d * interval '1 day'"
           " FROM unnest(ARRAY[181, 179]) AS d;"
           "INSERT INTO stream_tickets (digest, member_id, token_expires_at, token_issued_ms, expires_at)"
           " SELECT decode(md5('%s' || e), 'hex'), '%s', now() + interval '1 hour',"
           " (extract(epoch FROM now()) * 1000)::bigint, now() + e * interval '1 minute'"
           " FROM unnest(ARRAY[-1, 60]) AS e",
           W.mem1.id, W.group1, W.group1, tag, tag, W.mem1.id);
  psql_run(sql);

  start_instances();
  psql_run("UPDATE jobs SET run_at = now() WHERE kind = 'retention.purge'");
  snprintf(sql, sizeof sql, "SELECT count(*) FROM notifications WHERE title = '%s 181'", tag);
  /* the tickets below are purged in the same job transaction as this notification */
  if (!harness_psql_wait_value(sql, 0, 10000))
    harness_fail("a 181-day-old notification is still there after 10 s");
  if (harness_psql_longf("SELECT count(*) FROM notifications WHERE title = '%s 179'", tag) != 1)
    harness_fail("retention deleted a 179-day-old notification");
  if (harness_psql_longf("SELECT count(*) FROM stream_tickets WHERE member_id = '%s' AND expires_at < now()",
                         W.mem1.id) != 0)
    harness_fail("an expired stream ticket was kept");
  if (harness_psql_longf("SELECT count(*) FROM stream_tickets WHERE member_id = '%s' AND expires_at > now()",
                         W.mem1.id) != 1)
    harness_fail("a valid stream ticket was deleted");

  /* Deleting mem1's expired ticket raises (a trigger on this suite's member only, so that no other suite's
   * deletes fail): every run of the purge fails until the trigger is dropped. Not a lock timeout: behind the
   * PgBouncer pass the timeouts are the role's, not FORUMNET_STATEMENT_TIMEOUT_MS. */
  snprintf(sql, sizeof sql,
           "INSERT INTO stream_tickets (digest, member_id, token_expires_at, token_issued_ms, expires_at)"
           " VALUES (decode(md5('%s-failing'), 'hex'), '%s', now() + interval '1 hour',"
           " (extract(epoch FROM now()) * 1000)::bigint, now() - interval '1 minute');"
           "CREATE OR REPLACE FUNCTION e2e_jobs_refuse_delete() RETURNS trigger LANGUAGE plpgsql AS"
           " $$BEGIN RAISE EXCEPTION 'e2e_jobs refuses this delete'; END$$;"
           "DROP TRIGGER IF EXISTS e2e_jobs_refuse_delete ON stream_tickets;"
           "CREATE TRIGGER e2e_jobs_refuse_delete BEFORE DELETE ON stream_tickets FOR EACH ROW"
           " WHEN (OLD.member_id = '%s') EXECUTE FUNCTION e2e_jobs_refuse_delete()",
           tag, W.mem1.id, W.mem1.id);
  psql_run(sql);
  psql_run("UPDATE jobs SET run_at = now() WHERE kind = 'retention.purge'");
  const char *retried = "SELECT count(*) FROM jobs WHERE kind = 'retention.purge' AND attempts >= 2";
  bool failed_twice = harness_psql_wait_count(retried, 1, 5000);
  long backoff_ok =
      failed_twice
          ? harness_psql_long("SELECT count(*) FROM jobs WHERE kind = 'retention.purge' AND attempts = 2"
                              " AND run_at - clock_timestamp() > interval '1.2 s' AND last_error LIKE '%SQLSTATE%'")
          : 0;
  psql_run("DROP TRIGGER e2e_jobs_refuse_delete ON stream_tickets; DROP FUNCTION e2e_jobs_refuse_delete()");
  bool recovered = harness_psql_wait_count("SELECT count(*) FROM jobs WHERE kind = 'retention.purge'"
                                           " AND attempts = 0 AND last_error IS NULL",
                                           1, 10000);
  stop_instances();
  if (!failed_twice)
    harness_fail("a job whose run fails was not retried within 5 s");
  if (backoff_ok != 1)
    harness_fail("after a second failure the job is not due ~2 s later with its last_error recorded (SQLSTATE)");
  if (!recovered)
    harness_fail("the failing job did not succeed (attempts and last_error reset) once the lock was gone");
}

/* A deadline extended after the reminder is reminded of again, 48 hours before the new deadline, not before. */
static void test_an_extended_deadline_is_reminded_again(void **state) {
  (void)state;
  char cid[HARNESS_ID_MAX], title[HARNESS_NAME_MAX], sql[512], later[40];
  open_consultation(47L * 3600, cid, title);
  harness_server_start((const char *const[]){"FORUMNET_JOBS=1", "FORUMNET_JOBS_INTERVAL_MS=200", NULL});
  psql_run("UPDATE jobs SET run_at = now() WHERE kind = 'consultation.closing_soon_scan'");
  snprintf(sql, sizeof sql,
           "SELECT count(*) FROM notifications WHERE kind = 'consultation.closing_soon' AND subject_id = '%s'"
           " AND member_id = '%s'",
           cid, W.conv1.id);
  bool first = harness_psql_wait_count(sql, 1, 10000);
  /* the owner extends the deadline by four days */
  http_response *r = http_json("PATCH", hpath("/v1/consultations/%s", cid), W.mgr_a.token,
                               json_pack("{s:s}", "closes_at", harness_rfc3339_from_now(100L * 3600, later)));
  long patched = r->status;
  http_response_free(r);
  harness_sleep_ms(1000); /* five polls: 100 hours away, nobody is reminded yet */
  long before = harness_psql_longf("%s", sql);
  /* two days pass: the new deadline is 47 hours away */
  snprintf(sql, sizeof sql, "UPDATE consultations SET closes_at = now() + interval '47 hours' WHERE id = '%s'", cid);
  psql_run(sql);
  snprintf(sql, sizeof sql,
           "SELECT count(*) FROM notifications WHERE kind = 'consultation.closing_soon' AND subject_id = '%s'"
           " AND member_id = '%s'",
           cid, W.conv1.id);
  bool second = harness_psql_wait_count(sql, 2, 10000);
  harness_server_stop();
  if (!first)
    harness_fail("the first reminder did not come within 10 s");
  if (patched != 200)
    harness_fail("extending the deadline answered %ld", patched);
  if (before != 1)
    harness_fail("after the extension the convener has %ld reminders before the new window, expected 1", before);
  if (!second)
    harness_fail("no second reminder 47 hours before the extended deadline");
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_teardown(test_an_instance_with_jobs_off_runs_nothing, harness_stop_nested_servers),
      cmocka_unit_test_teardown(test_closing_soon_reaches_each_recipient_once_with_three_instances,
                                harness_stop_nested_servers),
      cmocka_unit_test_teardown(test_retention_and_a_failing_job_retried_with_backoff, harness_stop_nested_servers),
      cmocka_unit_test_teardown(test_an_extended_deadline_is_reminded_again, harness_stop_nested_servers),
  };
  return cmocka_run_group_tests_name("e2e_jobs", tests, group_setup, harness_suite_teardown);
}
