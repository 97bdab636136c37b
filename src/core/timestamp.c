/* RFC 3339 date-times (API.md section 1), parsed without the C library's locale or time zone. */
#include "forumnet/timestamp.h"

#include <ctype.h>
#include <string.h>
#include <time.h>

void monotonic_after_ms(unsigned ms, struct timespec *out) {
  clock_gettime(CLOCK_MONOTONIC, out);
  out->tv_sec += ms / 1000;
  out->tv_nsec += (long)(ms % 1000) * 1000000L;
  if (out->tv_nsec >= 1000000000L) {
    out->tv_sec++;
    out->tv_nsec -= 1000000000L;
  }
}

/* Reads exactly n digits at *p into *out and advances *p. */
static int read_digits(const char **p, int n, int *out) {
  int v = 0;
  for (int i = 0; i < n; i++) {
    if (!isdigit((unsigned char)(*p)[i]))
      return 0;
    v = v * 10 + ((*p)[i] - '0');
  }
  *p += n;
  *out = v;
  return 1;
}

/* Days from 1970-01-01 to y-m-d in the proleptic Gregorian calendar (H. Hinnant's days_from_civil). */
static long long days_from_civil(int y, int m, int d) {
  y -= m <= 2;
  long long era = (y >= 0 ? y : y - 399) / 400;
  long long yoe = y - era * 400;
  long long doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  long long doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + doe - 719468;
}

int rfc3339_parse(const char *s, long long *epoch_us) {
  static const int month_days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  int year, month, day, hour, minute, second, off_h = 0, off_m = 0, sign = 0;
  long long frac_us = 0;
  if (s == NULL)
    return 0;
  const char *p = s;
  if (!read_digits(&p, 4, &year) || *p++ != '-' || !read_digits(&p, 2, &month) || *p++ != '-' ||
      !read_digits(&p, 2, &day) || (*p != 'T' && *p != 't'))
    return 0;
  p++;
  if (!read_digits(&p, 2, &hour) || *p++ != ':' || !read_digits(&p, 2, &minute) || *p++ != ':' ||
      !read_digits(&p, 2, &second))
    return 0;
  int leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
  if (month < 1 || month > 12 || day < 1 || day > month_days[month - 1] + (month == 2 && leap) || hour > 23 ||
      minute > 59 || second > 59)
    return 0;
  if (*p == '.') {
    /* Up to nanoseconds, rounded to the microseconds PostgreSQL keeps. */
    int digits = 0;
    long long scaled = 0;
    for (p++; isdigit((unsigned char)*p); p++, digits++)
      if (digits < 7)
        scaled = scaled * 10 + (*p - '0');
    if (digits < 1 || digits > 9)
      return 0;
    for (int i = digits; i < 7; i++)
      scaled *= 10;
    frac_us = (scaled + 5) / 10;
  }
  if (*p == 'Z' || *p == 'z') {
    p++;
  } else if (*p == '+' || *p == '-') {
    sign = *p++ == '+' ? 1 : -1;
    if (!read_digits(&p, 2, &off_h) || *p++ != ':' || !read_digits(&p, 2, &off_m) || off_h > 23 || off_m > 59)
      return 0;
  } else {
    return 0;
  }
  if (*p != '\0')
    return 0;
  long long secs = days_from_civil(year, month, day) * 86400 + hour * 3600 + minute * 60 + second -
                   sign * (off_h * 3600 + off_m * 60);
  /* PostgreSQL has no year 0: "0000-01-01T00:00:00Z" as a timestamptz parameter is an error (a 500
   * for a cursor or a ?from=), so instants before 0001-01-01T00:00:00Z are refused here. */
  if (secs < days_from_civil(1, 1, 1) * 86400)
    return 0;
  if (epoch_us != NULL)
    *epoch_us = secs * 1000000 + frac_us;
  return 1;
}
