/* Unit tests for src/core/body.c: request bodies must be exactly one JSON object
 * without duplicate keys; body_validate() reports every unknown, read-only, missing,
 * mistyped or out-of-range field as {"field", "message"}; and the UUID, email, slug and
 * UTF-8 length helpers shared with query-parameter parsing. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "forumnet/body.h"
#include "forumnet/text.h"
#include "forumnet/timestamp.h"

/* ---- body_parse_object ---- */

static fn_status parse(const char *text, json_t **out, char *detail, size_t detail_len) {
  return body_parse_object(text, text ? strlen(text) : 0, out, detail, detail_len);
}

static void assert_parse_fails(const char *text) {
  json_t *obj = (json_t *)0x1;
  char detail[256] = "";
  fn_status st = parse(text, &obj, detail, sizeof detail);
  if (st != FN_INVALID)
    fail_msg("body \"%s\" was accepted", text ? text : "(null)");
  assert_null(obj);
  assert_true(strlen(detail) > 0);
}

static void test_parse_object(void **state) {
  (void)state;
  json_t *obj = NULL;
  char detail[256] = "";
  assert_int_equal(parse("{\"name\": \"Ana\", \"n\": 3}", &obj, detail, sizeof detail), FN_OK);
  assert_non_null(obj);
  assert_true(json_is_object(obj));
  assert_string_equal(body_string(obj, "name"), "Ana");
  assert_null(body_string(obj, "n"));       /* not a string */
  assert_null(body_string(obj, "missing")); /* absent */
  json_decref(obj);

  assert_int_equal(parse("  {}\n", &obj, detail, sizeof detail), FN_OK);
  assert_int_equal(json_object_size(obj), 0);
  json_decref(obj);
}

/* The length is honoured: bytes past len are not part of the body. */
static void test_parse_uses_length(void **state) {
  (void)state;
  const char text[] = "{\"a\":1}garbage";
  json_t *obj = NULL;
  char detail[256];
  assert_int_equal(body_parse_object(text, 7, &obj, detail, sizeof detail), FN_OK);
  json_decref(obj);
  assert_int_equal(body_parse_object(text, sizeof text - 1, &obj, detail, sizeof detail), FN_INVALID);
  assert_null(obj);
}

static void test_parse_empty_body(void **state) {
  (void)state;
  assert_parse_fails(NULL);
  assert_parse_fails("");
  assert_parse_fails("   ");
  assert_parse_fails("\n");
}

static void test_parse_malformed(void **state) {
  (void)state;
  assert_parse_fails("{");
  assert_parse_fails("{\"a\":}");
  assert_parse_fails("{\"a\":1,}");
  assert_parse_fails("{'a':1}");
  assert_parse_fails("{a:1}");
  assert_parse_fails("{\"a\":1} {\"b\":2}");
  assert_parse_fails("{\"a\":1} x");
  assert_parse_fails("{\"a\":NaN}");
  assert_parse_fails("{\"a\":\"\xff\"}");    /* invalid UTF-8 */
  assert_parse_fails("{\"a\":\"\\u0000\"}"); /* NUL inside a string */
}

static void test_parse_duplicate_keys(void **state) {
  (void)state;
  assert_parse_fails("{\"role\":\"member\",\"role\":\"admin\"}");
  assert_parse_fails("{\"a\":1,\"b\":2,\"a\":1}");
  /* Only duplicates at the top level matter to the API, but nested ones are refused as well. */
  assert_parse_fails("{\"a\":{\"x\":1,\"x\":2}}");
}

static void test_parse_non_object(void **state) {
  (void)state;
  const char *bad[] = {"[]", "[{\"a\":1}]", "\"text\"", "42", "true", "null"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
    assert_parse_fails(bad[i]);
  /* Arrays parse as JSON, so the detail says what was expected instead. */
  char detail[256] = "";
  json_t *obj = NULL;
  assert_int_equal(parse("[]", &obj, detail, sizeof detail), FN_INVALID);
  assert_non_null(strstr(detail, "object"));
}

/* Syntax errors point at the position so a client can find the mistake. */
static void test_parse_detail_names_position(void **state) {
  (void)state;
  char detail[256] = "";
  json_t *obj = NULL;
  assert_int_equal(parse("{\n  \"a\": 1,\n  \"b\": }", &obj, detail, sizeof detail), FN_INVALID);
  assert_non_null(strstr(detail, "line 3"));
  assert_non_null(strstr(detail, "column"));
}

/* ---- body_validate ---- */

static const char *const role_choices[] = {"member", "moderator", "admin", NULL};

static const field_spec member_specs[] = {
    {"id", FIELD_READ_ONLY, 0, 0, 0, NULL},
    {"email", FIELD_EMAIL, FIELD_REQUIRED, 0, 0, NULL},
    {"display_name", FIELD_STRING, FIELD_REQUIRED, 1, 5, NULL},
    {"bio", FIELD_STRING, FIELD_NULLABLE, 0, 10, NULL},
    {"age", FIELD_INTEGER, 0, 18, 120, NULL},
    {"public", FIELD_BOOLEAN, 0, 0, 0, NULL},
    {"site_id", FIELD_UUID, 0, 0, 0, NULL},
    {"group_id", FIELD_UUID, FIELD_NULLABLE, 0, 0, NULL},
    {"role", FIELD_ENUM, 0, 0, 0, role_choices},
    {"slug", FIELD_SLUG, 0, 3, 8, NULL},
    {NULL, 0, 0, 0, 0, NULL},
};

static const char *const VALID_BASE = "{\"email\":\"ana@example.org\",\"display_name\":\"Ana\"}";

/* Validates VALID_BASE with key set to the JSON value `value` (or removed when value is NULL).
 * Returns the error message for `field` when there is exactly one error for it, "" when
 * valid. Fails the test if the errors name any other field. */
static char message_buf[512];
static const char *validate_with(const char *key, const char *value, const char *field) {
  json_t *obj = json_loads(VALID_BASE, 0, NULL);
  assert_non_null(obj);
  if (value != NULL) {
    json_error_t e;
    json_t *v = json_loads(value, JSON_DECODE_ANY, &e);
    if (v == NULL)
      fail_msg("bad test value %s: %s", value, e.text);
    json_object_set_new(obj, key, v);
  } else {
    json_object_del(obj, key);
  }
  json_t *errors = (json_t *)0x1;
  fn_status st = body_validate(obj, member_specs, &errors);
  json_decref(obj);
  if (st == FN_OK) {
    assert_null(errors);
    return "";
  }
  assert_int_equal(st, FN_INVALID);
  assert_non_null(errors);
  assert_true(json_is_array(errors));
  if (json_array_size(errors) != 1) {
    char *dump = json_dumps(errors, 0);
    snprintf(message_buf, sizeof message_buf, "%s", dump ? dump : "?");
    free(dump);
    json_decref(errors);
    fail_msg("expected one error for %s, got %s", field, message_buf);
  }
  json_t *e0 = json_array_get(errors, 0);
  assert_string_equal(json_string_value(json_object_get(e0, "field")), field);
  const char *msg = json_string_value(json_object_get(e0, "message"));
  assert_non_null(msg);
  assert_true(strlen(msg) > 0);
  snprintf(message_buf, sizeof message_buf, "%s", msg);
  json_decref(errors);
  return message_buf;
}

#define ASSERT_VALID(key, value) assert_string_equal(validate_with(key, value, key), "")
#define ASSERT_REJECTED(key, value) assert_string_not_equal(validate_with(key, value, key), "")

static void test_validate_valid_body(void **state) {
  (void)state;
  json_t *obj = json_loads("{\"email\":\"ana@example.org\",\"display_name\":\"Ana\",\"bio\":null,\"age\":30,"
                           "\"public\":true,\"site_id\":\"3f2b8c1e-9a4d-4e6f-8b7a-1c2d3e4f5a6b\","
                           "\"group_id\":null,\"role\":\"moderator\",\"slug\":\"cbt-uk\"}",
                           0, NULL);
  assert_non_null(obj);
  json_t *errors = (json_t *)0x1;
  assert_int_equal(body_validate(obj, member_specs, &errors), FN_OK);
  assert_null(errors);
  json_decref(obj);
  assert_string_equal(validate_with("x", NULL, "x"), ""); /* the base body alone is valid */
}

static void test_validate_unknown_field(void **state) {
  (void)state;
  const char *msg = validate_with("is_admin", "true", "is_admin");
  assert_non_null(strstr(msg, "not a known field"));
  /* Names differing only in case are unknown too. */
  assert_string_not_equal(validate_with("Email", "\"x@y.zz\"", "Email"), "");
}

static void test_validate_read_only(void **state) {
  (void)state;
  const char *msg = validate_with("id", "\"3f2b8c1e-9a4d-4e6f-8b7a-1c2d3e4f5a6b\"", "id");
  assert_non_null(strstr(msg, "read-only"));
  ASSERT_REJECTED("id", "null");
  ASSERT_REJECTED("id", "1");
}

static void test_validate_required_missing(void **state) {
  (void)state;
  const char *msg = validate_with("email", NULL, "email");
  assert_non_null(strstr(msg, "required"));
  ASSERT_REJECTED("display_name", NULL);
  /* Required and not nullable: null is no substitute. */
  ASSERT_REJECTED("email", "null");
}

static void test_validate_collects_all_errors(void **state) {
  (void)state;
  json_t *obj = json_loads("{\"bogus\":1,\"age\":\"old\",\"id\":\"x\"}", 0, NULL);
  json_t *errors = NULL;
  assert_int_equal(body_validate(obj, member_specs, &errors), FN_INVALID);
  assert_int_equal(json_array_size(errors), 5); /* bogus, age, id, email, display_name */
  const char *want[] = {"bogus", "age", "id", "email", "display_name"};
  for (size_t w = 0; w < 5; w++) {
    int found = 0;
    size_t i;
    json_t *e;
    json_array_foreach(errors, i, e) {
      if (strcmp(json_string_value(json_object_get(e, "field")), want[w]) == 0)
        found = 1;
    }
    if (!found)
      fail_msg("no error for %s", want[w]);
  }
  json_decref(errors);
  json_decref(obj);
}

static void test_validate_wrong_types(void **state) {
  (void)state;
  assert_non_null(strstr(validate_with("display_name", "42", "display_name"), "string"));
  ASSERT_REJECTED("display_name", "[\"Ana\"]");
  ASSERT_REJECTED("display_name", "{\"v\":\"Ana\"}");
  ASSERT_REJECTED("display_name", "true");
  assert_non_null(strstr(validate_with("age", "\"30\"", "age"), "integer"));
  ASSERT_REJECTED("age", "30.0");
  ASSERT_REJECTED("age", "30.5");
  ASSERT_REJECTED("age", "true");
  assert_non_null(strstr(validate_with("public", "1", "public"), "boolean"));
  ASSERT_REJECTED("public", "\"true\"");
  ASSERT_VALID("public", "false");
  ASSERT_REJECTED("site_id", "12345");
  ASSERT_REJECTED("email", "[\"ana@example.org\"]");
  ASSERT_REJECTED("role", "1");
  ASSERT_REJECTED("slug", "7");
}

static void test_validate_string_length_in_characters(void **state) {
  (void)state;
  /* display_name: 1 to 5 characters. */
  ASSERT_VALID("display_name", "\"a\"");
  ASSERT_VALID("display_name", "\"abcde\"");
  ASSERT_REJECTED("display_name", "\"abcdef\"");
  ASSERT_REJECTED("display_name", "\"\"");
  /* Five characters in more than five bytes: é (2 bytes), 日本 (3 bytes each), 🙂 (4 bytes). */
  ASSERT_VALID("display_name", "\"héllo\"");
  ASSERT_VALID("display_name", "\"日本語です\"");
  ASSERT_VALID("display_name", "\"🙂🙂🙂🙂🙂\"");
  ASSERT_VALID("display_name", "\"\\u00e9\\u00e9\\u00e9\\u00e9\\u00e9\"");
  ASSERT_REJECTED("display_name", "\"🙂🙂🙂🙂🙂🙂\"");
  const char *msg = validate_with("display_name", "\"abcdef\"", "display_name");
  assert_non_null(strstr(msg, "1 to 5"));
}

static void test_validate_blank_strings(void **state) {
  (void)state;
  const char *msg = validate_with("display_name", "\"   \"", "display_name");
  assert_non_null(strstr(msg, "blank"));
  ASSERT_REJECTED("display_name", "\"\\t\\n\"");
  ASSERT_VALID("display_name", "\" a \"");
  /* bio has min 0: empty and blank strings are allowed. */
  ASSERT_VALID("bio", "\"\"");
  ASSERT_VALID("bio", "\"  \"");
  ASSERT_REJECTED("bio", "\"12345678901\"");
}

static void test_validate_enum(void **state) {
  (void)state;
  ASSERT_VALID("role", "\"member\"");
  ASSERT_VALID("role", "\"admin\"");
  const char *msg = validate_with("role", "\"owner\"", "role");
  assert_non_null(strstr(msg, "member"));
  assert_non_null(strstr(msg, "moderator"));
  assert_non_null(strstr(msg, "admin"));
  ASSERT_REJECTED("role", "\"Admin\"");
  ASSERT_REJECTED("role", "\"admin \"");
  ASSERT_REJECTED("role", "\"\"");
  ASSERT_REJECTED("role", "null");
}

/* An enum whose choices do not fit the message buffer still produces a terminated message. */
static void test_validate_enum_long_choices(void **state) {
  (void)state;
  static char choice_text[40][32];
  static const char *choices[41];
  for (int i = 0; i < 40; i++) {
    snprintf(choice_text[i], sizeof choice_text[i], "a-rather-long-choice-name-%02d", i);
    choices[i] = choice_text[i];
  }
  choices[40] = NULL;
  const field_spec specs[] = {{"kind", FIELD_ENUM, 0, 0, 0, choices}, {NULL, 0, 0, 0, 0, NULL}};
  json_t *obj = json_pack("{s:s}", "kind", "nope");
  json_t *errors = NULL;
  assert_int_equal(body_validate(obj, specs, &errors), FN_INVALID);
  const char *msg = json_string_value(json_object_get(json_array_get(errors, 0), "message"));
  assert_non_null(msg);
  assert_true(strlen(msg) < 256);
  json_decref(errors);
  json_decref(obj);
  obj = json_pack("{s:s}", "kind", "a-rather-long-choice-name-39");
  assert_int_equal(body_validate(obj, specs, &errors), FN_OK);
  json_decref(obj);
}

static void test_validate_nullable(void **state) {
  (void)state;
  ASSERT_VALID("bio", "null");
  ASSERT_VALID("group_id", "null");
  const char *msg = validate_with("site_id", "null", "site_id");
  assert_non_null(strstr(msg, "null"));
  ASSERT_REJECTED("age", "null");
  ASSERT_REJECTED("public", "null");
  ASSERT_REJECTED("slug", "null");
  ASSERT_REJECTED("display_name", "null");
  /* Nullable does not relax the type of a non-null value. */
  ASSERT_REJECTED("group_id", "\"not-a-uuid\"");
  ASSERT_VALID("group_id", "\"3f2b8c1e-9a4d-4e6f-8b7a-1c2d3e4f5a6b\"");
}

static void test_validate_integer_bounds(void **state) {
  (void)state;
  ASSERT_VALID("age", "18");
  ASSERT_VALID("age", "120");
  ASSERT_REJECTED("age", "17");
  ASSERT_REJECTED("age", "121");
  ASSERT_REJECTED("age", "-18");
  ASSERT_REJECTED("age", "0");
  ASSERT_REJECTED("age", "9223372036854775807");
  ASSERT_REJECTED("age", "-9223372036854775808");
  const char *msg = validate_with("age", "200", "age");
  assert_non_null(strstr(msg, "18 to 120"));
}

static void test_validate_typed_strings(void **state) {
  (void)state;
  ASSERT_VALID("site_id", "\"3f2b8c1e-9a4d-4e6f-8b7a-1c2d3e4f5a6b\"");
  ASSERT_REJECTED("site_id", "\"3f2b8c1e9a4d4e6f8b7a1c2d3e4f5a6b\"");
  ASSERT_VALID("email", "\"a.b+tag@sub.example.org\"");
  ASSERT_REJECTED("email", "\"not an email\"");
  ASSERT_VALID("slug", "\"abc\"");
  ASSERT_VALID("slug", "\"abcdefgh\"");
  ASSERT_REJECTED("slug", "\"ab\"");        /* below min 3 */
  ASSERT_REJECTED("slug", "\"abcdefghi\""); /* above max 8 */
  ASSERT_REJECTED("slug", "\"Abc\"");
}

/* An empty spec list accepts only the empty object. */
static void test_validate_empty_specs(void **state) {
  (void)state;
  const field_spec none[] = {{NULL, 0, 0, 0, 0, NULL}};
  json_t *obj = json_object();
  json_t *errors = NULL;
  assert_int_equal(body_validate(obj, none, &errors), FN_OK);
  assert_null(errors);
  json_object_set_new(obj, "x", json_true());
  assert_int_equal(body_validate(obj, none, &errors), FN_INVALID);
  assert_int_equal(json_array_size(errors), 1);
  json_decref(errors);
  json_decref(obj);
}

static void test_errors_add(void **state) {
  (void)state;
  json_t *errors = NULL;
  field_errors_add(&errors, "limit", "must be from 1 to 200");
  field_errors_add(&errors, "cursor", "is not valid");
  assert_int_equal(json_array_size(errors), 2);
  assert_string_equal(json_string_value(json_object_get(json_array_get(errors, 1), "field")), "cursor");
  assert_string_equal(json_string_value(json_object_get(json_array_get(errors, 0), "message")),
                      "must be from 1 to 200");
  json_decref(errors);
}

/* The errors list never grows with the request (openapi.yaml: Problem.errors maxItems, FieldError
 * maxLength): at most FIELD_ERRORS_MAX entries, field names and messages cut to their bounds in
 * characters, and always valid UTF-8. */
static void test_errors_add_is_bounded(void **state) {
  (void)state;
  json_t *errors = NULL;
  for (int i = 0; i < FIELD_ERRORS_MAX + 50; i++)
    field_errors_add(&errors, "field", "is wrong");
  assert_int_equal(json_array_size(errors), FIELD_ERRORS_MAX);
  json_decref(errors);

  /* 300 two-byte characters: cut to FIELD_ERROR_NAME_MAX characters (not bytes). */
  char field[601], message[1001];
  for (int i = 0; i < 300; i++)
    memcpy(field + 2 * i, "\xc3\xa9", 2);
  field[600] = '\0';
  memset(message, 'm', 1000);
  message[1000] = '\0';
  errors = NULL;
  field_errors_add(&errors, field, message);
  assert_int_equal(json_array_size(errors), 1);
  const char *f = json_string_value(json_object_get(json_array_get(errors, 0), "field"));
  const char *m = json_string_value(json_object_get(json_array_get(errors, 0), "message"));
  assert_int_equal(utf8_length(f), FIELD_ERROR_NAME_MAX);
  assert_int_equal(strlen(f), 2 * FIELD_ERROR_NAME_MAX);
  assert_int_equal(utf8_length(m), FIELD_ERROR_MESSAGE_MAX);
  json_decref(errors);
}

static void test_utf8_cut(void **state) {
  (void)state;
  char *s = utf8_cut("abc", 5);
  assert_string_equal(s, "abc");
  free(s);
  s = utf8_cut("abcdef", 3);
  assert_string_equal(s, "abc");
  free(s);
  s = utf8_cut("a\xc3\xa9\xe2\x82\xacz", 3); /* a, e-acute, euro sign, z: 3 characters, 6 bytes */
  assert_string_equal(s, "a\xc3\xa9\xe2\x82\xac");
  free(s);
  s = utf8_cut("ab\xe2\x82", 10); /* a character cut in half at the end: dropped */
  assert_string_equal(s, "ab");
  free(s);
  s = utf8_cut("", 0);
  assert_string_equal(s, "");
  free(s);
}

/* ---- validators ---- */

static void test_is_uuid(void **state) {
  (void)state;
  assert_true(text_is_uuid("3f2b8c1e-9a4d-4e6f-8b7a-1c2d3e4f5a6b"));
  assert_true(text_is_uuid("00000000-0000-0000-0000-000000000000"));
  assert_true(text_is_uuid("3F2B8C1E-9A4D-4E6F-8B7A-1C2D3E4F5A6B")); /* PostgreSQL accepts upper case */
  assert_false(text_is_uuid(NULL));
  assert_false(text_is_uuid(""));
  assert_false(text_is_uuid("3f2b8c1e-9a4d-4e6f-8b7a-1c2d3e4f5a6"));   /* 35 */
  assert_false(text_is_uuid("3f2b8c1e-9a4d-4e6f-8b7a-1c2d3e4f5a6b0")); /* 37 */
  assert_false(text_is_uuid("3f2b8c1e9a4d-4e6f-8b7a-1c2d3e4f5a6b0"));  /* hyphen moved */
  assert_false(text_is_uuid("3f2b8c1e-9a4d-4e6f-8b7a1-c2d3e4f5a6b"));
  assert_false(text_is_uuid("3f2b8c1g-9a4d-4e6f-8b7a-1c2d3e4f5a6b")); /* g */
  assert_false(text_is_uuid("3f2b8c1e-9a4d-4e6f-8b7a-1c2d3e4f5a6 "));
  assert_false(text_is_uuid("{f2b8c1e-9a4d-4e6f-8b7a-1c2d3e4f5a6}"));
  assert_false(text_is_uuid("3f2b8c1e-9a4d-4e6f-8b7a-1c2d3e4f5a6\n"));
  assert_false(text_is_uuid("------------------------------------"));
  assert_false(text_is_uuid("3f2b8c1e 9a4d 4e6f 8b7a 1c2d3e4f5a6b"));
}

static void test_is_email(void **state) {
  (void)state;
  assert_true(text_is_email("a@b.co"));
  assert_true(text_is_email("first.last+tag@mail.example.org"));
  assert_false(text_is_email(NULL));
  assert_false(text_is_email(""));
  assert_false(text_is_email("plainaddress"));
  assert_false(text_is_email("@example.org"));
  assert_false(text_is_email("a@"));
  assert_false(text_is_email("a@@example.org"));
  assert_false(text_is_email("a@b@example.org"));
  assert_false(text_is_email("a@localhost"));
  assert_false(text_is_email("a@.org"));
  assert_false(text_is_email("a@example."));
  assert_false(text_is_email("a b@example.org"));
  assert_false(text_is_email("a@exa mple.org"));
  assert_false(text_is_email("a\t@example.org"));
  assert_false(text_is_email("a@example.org\n"));
  assert_false(text_is_email("a@example.org\x7f"));

  /* 254 characters is the longest address; 255 is refused. */
  char addr[300];
  memset(addr, 'a', sizeof addr);
  const char *domain = "@example.org";
  size_t dl = strlen(domain);
  memcpy(addr + 254 - dl, domain, dl + 1);
  assert_int_equal(strlen(addr), 254);
  assert_true(text_is_email(addr));
  memset(addr, 'a', sizeof addr);
  memcpy(addr + 255 - dl, domain, dl + 1);
  assert_int_equal(strlen(addr), 255);
  assert_false(text_is_email(addr));
}

static void test_is_slug(void **state) {
  (void)state;
  assert_true(text_is_slug("cbt", 1, 64));
  assert_true(text_is_slug("cbt-uk-2024", 1, 64));
  assert_true(text_is_slug("a", 1, 1));
  assert_true(text_is_slug("0-9", 1, 64));
  assert_false(text_is_slug(NULL, 1, 64));
  assert_false(text_is_slug("", 0, 64)); /* never empty, whatever min says */
  assert_false(text_is_slug("-cbt", 1, 64));
  assert_false(text_is_slug("cbt-", 1, 64));
  assert_false(text_is_slug("-", 1, 64));
  assert_false(text_is_slug("cbt--uk", 1, 64));
  assert_false(text_is_slug("CBT", 1, 64));
  assert_false(text_is_slug("cbt_uk", 1, 64));
  assert_false(text_is_slug("cbt uk", 1, 64));
  assert_false(text_is_slug("cbt.uk", 1, 64));
  assert_false(text_is_slug("caf\xc3\xa9", 1, 64));
  assert_false(text_is_slug("cbt/uk", 1, 64));
  /* Bounds are inclusive lengths. */
  assert_true(text_is_slug("abc", 3, 3));
  assert_false(text_is_slug("ab", 3, 5));
  assert_false(text_is_slug("abcdef", 3, 5));
}

static void test_utf8_length(void **state) {
  (void)state;
  assert_int_equal(utf8_length(""), 0);
  assert_int_equal(utf8_length("abc"), 3);
  assert_int_equal(utf8_length("h\xc3\xa9llo"), 5);             /* é */
  assert_int_equal(utf8_length("\xe6\x97\xa5\xe6\x9c\xac"), 2); /* 日本 */
  assert_int_equal(utf8_length("\xf0\x9f\x99\x82!"), 2);        /* 🙂! */
  assert_int_equal(utf8_length("e\xcc\x81"), 2);                /* e + combining acute: two code points */
}

/* The header promises -1 for input that is not UTF-8 (it is also used for passwords read
 * from standard input, which Jansson has not checked). */
static void test_utf8_length_invalid(void **state) {
  (void)state;
  assert_int_equal(utf8_length("\xff"), -1);
  assert_int_equal(utf8_length("abc\x80"), -1);          /* lone continuation byte */
  assert_int_equal(utf8_length("\xc3"), -1);             /* truncated sequence */
  assert_int_equal(utf8_length("\xe6\x97"), -1);         /* truncated sequence */
  assert_int_equal(utf8_length("\xc0\xaf"), -1);         /* overlong "/" */
  assert_int_equal(utf8_length("\xed\xa0\x80"), -1);     /* UTF-16 surrogate */
  assert_int_equal(utf8_length("\xf4\x90\x80\x80"), -1); /* above U+10FFFF */
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_parse_object),
      cmocka_unit_test(test_parse_uses_length),
      cmocka_unit_test(test_parse_empty_body),
      cmocka_unit_test(test_parse_malformed),
      cmocka_unit_test(test_parse_duplicate_keys),
      cmocka_unit_test(test_parse_non_object),
      cmocka_unit_test(test_parse_detail_names_position),
      cmocka_unit_test(test_validate_valid_body),
      cmocka_unit_test(test_validate_unknown_field),
      cmocka_unit_test(test_validate_read_only),
      cmocka_unit_test(test_validate_required_missing),
      cmocka_unit_test(test_validate_collects_all_errors),
      cmocka_unit_test(test_validate_wrong_types),
      cmocka_unit_test(test_validate_string_length_in_characters),
      cmocka_unit_test(test_validate_blank_strings),
      cmocka_unit_test(test_validate_enum),
      cmocka_unit_test(test_validate_enum_long_choices),
      cmocka_unit_test(test_validate_nullable),
      cmocka_unit_test(test_validate_integer_bounds),
      cmocka_unit_test(test_validate_typed_strings),
      cmocka_unit_test(test_validate_empty_specs),
      cmocka_unit_test(test_errors_add),
      cmocka_unit_test(test_errors_add_is_bounded),
      cmocka_unit_test(test_utf8_cut),
      cmocka_unit_test(test_is_uuid),
      cmocka_unit_test(test_is_email),
      cmocka_unit_test(test_is_slug),
      cmocka_unit_test(test_utf8_length),
      cmocka_unit_test(test_utf8_length_invalid),
  };
  return cmocka_run_group_tests_name("body", tests, NULL, NULL);
}
