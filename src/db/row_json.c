/* Writing a row of a statement's answer as a JSON object: column names are the keys, PQftype tells how
 * each value is written. List pages use it (pagination.c): PostgreSQL 15's json_build_object looks up the
 * type of every argument of every row, which made it most of a page's cost in the database
 * (tests/bench/README.md, "The list page"); here a page's types are read once from its row description.
 *
 * The output matches json_build_object's for the types a representation uses: strings escaped as
 * PostgreSQL's escape_json does, numbers and booleans bare, json and jsonb values as they are. Types whose
 * text differs from their JSON form (timestamps, intervals, arrays, records...) are refused, so a statement
 * that forgets rfc3339() fails its tests instead of answering a second date format. */
#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "forumnet/db.h"
#include "forumnet/log.h"

/* Type OIDs are fixed for built-in types (PostgreSQL's pg_type_d.h; not installed with libpq). */
enum {
  OID_BOOL = 16,
  OID_INT8 = 20,
  OID_INT2 = 21,
  OID_INT4 = 23,
  OID_TEXT = 25,
  OID_JSON = 114,
  OID_FLOAT4 = 700,
  OID_FLOAT8 = 701,
  OID_BPCHAR = 1042,
  OID_VARCHAR = 1043,
  OID_DATE = 1082,
  OID_NUMERIC = 1700,
  OID_UUID = 2950,
  OID_JSONB = 3802,
  OID_FIRST_USER = 16384 /* FirstNormalObjectId: types made by CREATE TYPE (our enums) */
};

static db_json_kind kind_of(Oid type) {
  switch (type) {
  case OID_BOOL:
    return DB_JSON_BOOL;
  case OID_INT2:
  case OID_INT4:
  case OID_INT8:
  case OID_NUMERIC:
  case OID_FLOAT4:
  case OID_FLOAT8:
    return DB_JSON_NUMBER;
  case OID_JSON:
  case OID_JSONB:
    return DB_JSON_RAW;
  case OID_TEXT:
  case OID_VARCHAR:
  case OID_BPCHAR:
  case OID_UUID:
  case OID_DATE: /* its text is ISO 8601 (DateStyle ISO, the server's default), as in json_build_object */
    return DB_JSON_STRING;
  default:
    /* An enum's text is its label. A domain never shows here: a row description names its base type. */
    return type >= OID_FIRST_USER ? DB_JSON_STRING : DB_JSON_REFUSED;
  }
}

fn_status db_row_json_kinds(const PGresult *res, int from, int to, db_json_kind *kinds) {
  for (int col = from; col < to; col++) {
    kinds[col - from] = kind_of(PQftype(res, col));
    if (kinds[col - from] == DB_JSON_REFUSED) {
      log_error("bug: column %s of type %u has no JSON form here (a timestamp goes through rfc3339())",
                PQfname(res, col), (unsigned)PQftype(res, col));
      return FN_INTERNAL;
    }
  }
  return FN_OK;
}

void db_json_string(strbuf *out, const char *s, size_t len) {
  if (!strbuf_reserve(out, len + 2))
    return;
  out->data[out->len++] = '"';
  size_t plain = 0; /* start of the run of octets copied as they are */
  for (size_t i = 0; i < len; i++) {
    unsigned char c = (unsigned char)s[i];
    const char *esc = NULL;
    char hex[7];
    switch (c) {
    case '"':
      esc = "\\\"";
      break;
    case '\\':
      esc = "\\\\";
      break;
    case '\b':
      esc = "\\b";
      break;
    case '\f':
      esc = "\\f";
      break;
    case '\n':
      esc = "\\n";
      break;
    case '\r':
      esc = "\\r";
      break;
    case '\t':
      esc = "\\t";
      break;
    default:
      if (c < 0x20) {
        snprintf(hex, sizeof hex, "\\u%04x", c);
        esc = hex;
      }
    }
    if (esc != NULL) {
      strbuf_append(out, s + plain, i - plain);
      strbuf_puts(out, esc);
      plain = i + 1;
    }
  }
  strbuf_append(out, s + plain, len - plain);
  strbuf_append(out, "\"", 1);
}

/* PostgreSQL writes NaN and the infinities of numeric and float as JSON strings; so do we. */
static int is_json_number(const char *s) {
  if (*s == '-')
    s++;
  if (!isdigit((unsigned char)*s))
    return 0;
  for (; *s != '\0'; s++) {
    if (!isdigit((unsigned char)*s) && *s != '.' && *s != 'e' && *s != 'E' && *s != '+' && *s != '-')
      return 0;
  }
  return 1;
}

void db_row_json(strbuf *out, const PGresult *res, int row, int from, int to, const db_json_kind *kinds) {
  strbuf_append(out, "{", 1);
  for (int col = from; col < to; col++) {
    if (col > from)
      strbuf_append(out, ",", 1);
    const char *name = PQfname(res, col);
    db_json_string(out, name, strlen(name));
    strbuf_append(out, ":", 1);
    if (PQgetisnull(res, row, col)) {
      strbuf_append(out, "null", 4);
      continue;
    }
    const char *value = PQgetvalue(res, row, col);
    size_t len = (size_t)PQgetlength(res, row, col);
    switch (kinds[col - from]) {
    case DB_JSON_BOOL:
      strbuf_puts(out, value[0] == 't' ? "true" : "false");
      break;
    case DB_JSON_NUMBER:
      if (is_json_number(value))
        strbuf_append(out, value, len);
      else
        db_json_string(out, value, len);
      break;
    case DB_JSON_RAW:
      strbuf_append(out, value, len);
      break;
    default:
      db_json_string(out, value, len);
    }
  }
  strbuf_append(out, "}", 1);
}
