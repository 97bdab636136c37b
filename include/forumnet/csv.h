#ifndef FORUMNET_CSV_H
#define FORUMNET_CSV_H

#include <stddef.h>

#include "forumnet/strbuf.h"

/* CSV output (RFC 4180: fields quoted when they must be, quotes doubled, CRLF record ends) that a
 * spreadsheet opens without running anything in it. */

enum csv_field_flags {
  CSV_TEXT = 1u << 0, /* a text cell: guarded against formula injection (numbers never are) */
  CSV_LAST = 1u << 1, /* the record's last field: ended by CRLF instead of ',' */
};

/* Appends one field of s (n octets) and its separator. A CSV_TEXT field that a spreadsheet would
 * read as a formula (first character '=', '+', '-', '@', tab or CR) gets a '\'' in front; then the
 * field is quoted when it holds a comma, quote, CR or LF, its quotes doubled. */
void csv_field(strbuf *out, const char *s, size_t n, unsigned flags);

#endif
