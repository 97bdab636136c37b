/* The CSV form of manager summaries (API.md section 8): one record per site, the columns of the
 * JSON object flattened ("groups.active"), arrays joined with ';'. */
#include <stdio.h>
#include <string.h>

#include "forumnet/csv.h"
#include "forumnet/strbuf.h"
#include "forumnet/summaries.h"

static const char *const csv_columns[] = {
    "site_id",
    "site_name",
    "from",
    "to",
    "window.from",
    "window.to",
    "groups.forming",
    "groups.active",
    "groups.dormant",
    "groups.closed",
    "active_members",
    "practitioners",
    "practitioners_in_groups",
    "practitioner_share",
    "meetings_held",
    "mean_attendance_rate",
    "consultations.open",
    "consultations.closed",
    "consultations.groups_targeted",
    "consultations.groups_submitted",
    "consultations.response_rate",
    "upcoming_events",
    "event_registrations",
    "top_themes",
    "suppressed",
};
#define CSV_COLUMNS (sizeof csv_columns / sizeof csv_columns[0])

/* The value of a column: "groups.active" is the member "active" of the member "groups". */
static const json_t *column_value(const json_t *item, const char *name) {
  const char *dot = strchr(name, '.');
  if (dot == NULL)
    return json_object_get(item, name);
  char parent[32];
  snprintf(parent, sizeof parent, "%.*s", (int)(dot - name), name);
  return json_object_get(json_object_get(item, parent), dot + 1);
}

/* The cell of one JSON value into cell (emptied first): null is empty; arrays are joined with
 * ';' (themes "caseload:12;supervision:7", suppressed "a;b"). Returns CSV_TEXT for text (strings
 * and joined arrays), 0 for numbers and empty cells. */
static unsigned cell_text(const json_t *v, strbuf *cell) {
  strbuf_clear(cell);
  if (v == NULL || json_is_null(v))
    return 0;
  if (json_is_string(v)) {
    strbuf_append(cell, json_string_value(v), json_string_length(v));
    return CSV_TEXT;
  }
  if (json_is_array(v)) {
    size_t j;
    json_t *e;
    json_array_foreach((json_t *)v, j, e) {
      if (j)
        strbuf_puts(cell, ";");
      if (json_is_object(e)) {
        const char *theme = json_string_value(json_object_get(e, "theme"));
        strbuf_printf(cell, "%s:%lld", theme ? theme : "",
                      (long long)json_integer_value(json_object_get(e, "meetings")));
      } else if (json_is_string(e)) {
        strbuf_puts(cell, json_string_value(e));
      }
    }
    return CSV_TEXT;
  }
  if (json_is_integer(v))
    strbuf_printf(cell, "%lld", (long long)json_integer_value(v));
  else
    strbuf_printf(cell, "%g", json_number_value(v));
  return 0;
}

char *summaries_csv(const json_t *items, size_t *len) {
  strbuf out = STRBUF_INIT, cell = STRBUF_INIT;
  for (size_t c = 0; c < CSV_COLUMNS; c++)
    csv_field(&out, csv_columns[c], strlen(csv_columns[c]), CSV_TEXT | (c + 1 == CSV_COLUMNS ? CSV_LAST : 0));
  size_t i;
  json_t *item;
  json_array_foreach((json_t *)items, i, item) {
    for (size_t c = 0; c < CSV_COLUMNS; c++) {
      unsigned flags = cell_text(column_value(item, csv_columns[c]), &cell);
      if (cell.failed)
        strbuf_fail(&out);
      csv_field(&out, cell.data ? cell.data : "", cell.len, flags | (c + 1 == CSV_COLUMNS ? CSV_LAST : 0));
    }
  }
  strbuf_free(&cell);
  return strbuf_finish(&out, len);
}
