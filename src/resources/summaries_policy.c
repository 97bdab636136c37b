/* What a manager summary may show (API.md section 8). What is said in a forum stays in the forum:
 * only counts leave, and a count of people below the threshold (FORUMNET_SUPPRESSION_THRESHOLD) is
 * null, named in "suppressed", and so is any rate computed from it or whose numerator is below the
 * threshold. The figures cover the asked window widened to whole UTC days, at least a week, so that
 * narrowing the window cannot single anyone out either. */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "forumnet/db.h"
#include "forumnet/summaries.h"
#include "forumnet/summaries_db.h"

#define DAY_SECONDS 86400LL
#define FIRST_SECOND (-62135596800LL) /* 0001-01-01T00:00:00Z: PostgreSQL has no year 0 */
#define LAST_SECOND 253402300799LL    /* 9999-12-31T23:59:59Z */

/* ---- the window ---- */

static long long floor_div(long long a, long long b) { return a / b - (a % b != 0 && a < 0); }

void summaries_window_widen(long long from_s, long long to_s, long long *used_from_s, long long *used_to_s) {
  long long from = floor_div(from_s, DAY_SECONDS) * DAY_SECONDS;
  long long to = -floor_div(-to_s, DAY_SECONDS) * DAY_SECONDS;
  if (to - from < SUMMARY_MIN_WINDOW_DAYS * DAY_SECONDS)
    from = to - SUMMARY_MIN_WINDOW_DAYS * DAY_SECONDS;
  if (from < FIRST_SECOND) { /* at the start of time, widen forwards instead */
    from = FIRST_SECOND;
    if (to < from + SUMMARY_MIN_WINDOW_DAYS * DAY_SECONDS)
      to = from + SUMMARY_MIN_WINDOW_DAYS * DAY_SECONDS;
  }
  if (to > LAST_SECOND)
    to = LAST_SECOND;
  *used_from_s = from;
  *used_to_s = to;
}

/* RFC 3339 UTC, whole seconds, four-digit years. */
static void format_utc(long long epoch_s, char out[32]) {
  time_t t = (time_t)epoch_s;
  struct tm tm;
  gmtime_r(&t, &tm);
  char text[96]; /* years 0001..9999 need 20 bytes; the compiler cannot know that */
  snprintf(text, sizeof text, "%04d-%02d-%02dT%02d:%02d:%02dZ", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
           tm.tm_hour, tm.tm_min, tm.tm_sec);
  snprintf(out, 32, "%.31s", text);
}

void summaries_window_make(long long from_us, long long to_us, summary_window *w) {
  /* The window asked for is whole seconds in UTC, and echoed so, like every other timestamp. */
  long long used_from, used_to;
  summaries_window_widen(floor_div(from_us, 1000000), -floor_div(-to_us, 1000000), &used_from, &used_to);
  format_utc(floor_div(from_us, 1000000), w->from);
  format_utc(floor_div(to_us, 1000000), w->to);
  format_utc(used_from, w->used_from);
  format_utc(used_to, w->used_to);
}

/* ---- suppression ---- */

/* A summary object being built: any failed allocation clears ok, and the object is dropped. */
typedef struct summary_out {
  json_t *suppressed;
  unsigned threshold;
  int ok;
} summary_out;

static long long figure(const PGresult *res, int row, enum summary_column col) { return db_value_long(res, row, col); }

static void put(summary_out *out, json_t *parent, const char *key, json_t *value) {
  if (json_object_set_new(parent, key, value) != 0) /* a NULL parent or value included */
    out->ok = 0;
}

/* key is null, and `name` (key, or parent.key for a nested field) is listed as suppressed. */
static void suppress(summary_out *out, json_t *parent, const char *key, const char *name) {
  put(out, parent, key, json_null());
  if (json_array_append_new(out->suppressed, json_string(name)) != 0)
    out->ok = 0;
}

/* Sets key to a people count, or to null (and lists it as suppressed) below the threshold.
 * Returns 1 when shown. */
static int put_people_count(summary_out *out, json_t *obj, const char *key, long long n) {
  if (n >= (long long)out->threshold) {
    put(out, obj, key, json_integer(n));
    return 1;
  }
  suppress(out, obj, key, key);
  return 0;
}

static double rounded3(double x) { return (double)(long long)(x * 1000 + 0.5) / 1000; }

/* A rate numerator / denominator: null without a base (denominator 0); null and suppressed when a
 * count it is computed from is (shown == 0) or when its numerator is below the threshold (API.md
 * section 8), zero included, so that a null never tells "none" from "one or two". */
static void put_rate(summary_out *out, json_t *obj, const char *key, const char *name, int shown, long long numerator,
                     long long denominator) {
  if (shown && denominator <= 0)
    put(out, obj, key, json_null());
  else if (!shown || numerator < (long long)out->threshold)
    suppress(out, obj, key, name);
  else
    put(out, obj, key, json_real(rounded3((double)numerator / (double)denominator)));
}

json_t *summaries_object(PGresult *res, int row, const summary_window *w, unsigned threshold) {
  summary_out out = {json_array(), threshold, 1};
  json_t *o = json_pack("{s:s, s:s, s:s, s:s, s:{s:s, s:s}}", "site_id", PQgetvalue(res, row, SUMMARY_SITE_ID),
                        "site_name", PQgetvalue(res, row, SUMMARY_SITE_NAME), "from", w->from, "to", w->to, "window",
                        "from", w->used_from, "to", w->used_to);
  if (o == NULL || out.suppressed == NULL) {
    json_decref(o);
    json_decref(out.suppressed);
    return NULL;
  }
  put(&out, o, "groups",
      json_pack("{s:I, s:I, s:I, s:I}", "forming", figure(res, row, SUMMARY_GROUPS_FORMING), "active",
                figure(res, row, SUMMARY_GROUPS_ACTIVE), "dormant", figure(res, row, SUMMARY_GROUPS_DORMANT), "closed",
                figure(res, row, SUMMARY_GROUPS_CLOSED)));
  put_people_count(&out, o, "active_members", figure(res, row, SUMMARY_ACTIVE_MEMBERS));
  long long practitioners = figure(res, row, SUMMARY_PRACTITIONERS);
  long long in_groups = figure(res, row, SUMMARY_PRACTITIONERS_IN_GROUPS);
  int shown = put_people_count(&out, o, "practitioners", practitioners);
  /* Complementary suppression: with both counts shown, their difference (practitioners in no
   * group) must not be a small number either. */
  long long outside = practitioners - in_groups;
  if (shown && outside > 0 && outside < (long long)threshold) {
    suppress(&out, o, "practitioners_in_groups", "practitioners_in_groups");
    shown = 0; /* and the share with it */
  } else {
    shown &= put_people_count(&out, o, "practitioners_in_groups", in_groups);
  }
  put_rate(&out, o, "practitioner_share", "practitioner_share", shown, in_groups, practitioners);

  put(&out, o, "meetings_held", json_integer(figure(res, row, SUMMARY_MEETINGS_HELD)));
  /* A mean of per-meeting rates: computed from attendance records (people), shown only when both
   * the records and the members present in them reach the threshold (zero included). */
  long long recorded = figure(res, row, SUMMARY_ATTENDANCE_RECORDED);
  long long present = figure(res, row, SUMMARY_ATTENDANCE_PRESENT);
  if (recorded < (long long)threshold || present < (long long)threshold ||
      PQgetisnull(res, row, SUMMARY_MEAN_ATTENDANCE_RATE))
    suppress(&out, o, "mean_attendance_rate", "mean_attendance_rate");
  else
    put(&out, o, "mean_attendance_rate", json_real(atof(PQgetvalue(res, row, SUMMARY_MEAN_ATTENDANCE_RATE))));

  long long targeted = figure(res, row, SUMMARY_GROUPS_TARGETED);
  long long submitted = figure(res, row, SUMMARY_GROUPS_SUBMITTED);
  json_t *consultations = json_pack("{s:I, s:I, s:I}", "open", figure(res, row, SUMMARY_CONSULTATIONS_OPEN), "closed",
                                    figure(res, row, SUMMARY_CONSULTATIONS_CLOSED), "groups_targeted", targeted);
  /* The response rate's numerator is the groups that submitted: below the threshold the rate is
   * suppressed, and that count with it (or the rate could be worked out from it). */
  if (targeted > 0 && submitted < (long long)threshold)
    suppress(&out, consultations, "groups_submitted", "consultations.groups_submitted");
  else
    put(&out, consultations, "groups_submitted", json_integer(submitted));
  put_rate(&out, consultations, "response_rate", "consultations.response_rate", 1, submitted, targeted);
  put(&out, o, "consultations", consultations);
  put(&out, o, "upcoming_events", json_integer(figure(res, row, SUMMARY_UPCOMING_EVENTS)));
  put_people_count(&out, o, "event_registrations", figure(res, row, SUMMARY_EVENT_REGISTRATIONS));
  put(&out, o, "top_themes", json_loads(PQgetvalue(res, row, SUMMARY_TOP_THEMES), 0, NULL));
  put(&out, o, "suppressed", out.suppressed);
  if (!out.ok) {
    json_decref(o);
    return NULL;
  }
  return o;
}
