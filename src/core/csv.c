/* CSV fields: RFC 4180 quoting and the guard against spreadsheet formulas (csv.h). */
#include "forumnet/csv.h"

#include <string.h>

void csv_field(strbuf *out, const char *s, size_t n, unsigned flags) {
  int formula = (flags & CSV_TEXT) && n > 0 && strchr("=+-@\t\r", s[0]) != NULL;
  int quote = 0;
  for (size_t i = 0; i < n && !quote; i++)
    quote = s[i] == ',' || s[i] == '"' || s[i] == '\r' || s[i] == '\n';
  if (quote)
    strbuf_append(out, "\"", 1);
  if (formula)
    strbuf_append(out, "'", 1);
  while (n > 0) { /* each run up to and including a quote, then the quote again */
    const char *q = quote ? memchr(s, '"', n) : NULL;
    size_t run = q ? (size_t)(q - s) + 1 : n;
    strbuf_append(out, s, run);
    if (q)
      strbuf_append(out, "\"", 1);
    s += run;
    n -= run;
  }
  if (quote)
    strbuf_append(out, "\"", 1);
  strbuf_append(out, (flags & CSV_LAST) ? "\r\n" : ",", (flags & CSV_LAST) ? 2 : 1);
}
