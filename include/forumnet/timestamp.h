#ifndef FORUMNET_TIMESTAMP_H
#define FORUMNET_TIMESTAMP_H

/* 1 if s is an RFC 3339 date-time (seconds 00-59, fraction of 1-9 digits, Z or +-HH:MM; T and Z in
 * either case) no earlier than 0001-01-01T00:00:00Z (PostgreSQL has no year 0); then *epoch_us (if not
 * NULL) is the instant in microseconds since 1970-01-01T00:00:00Z. */
int rfc3339_parse(const char *s, long long *epoch_us);

/* The CLOCK_MONOTONIC instant ms milliseconds from now: the deadline of a pthread_cond_timedwait on a
 * condition whose clock is CLOCK_MONOTONIC (a thread that sleeps an interval unless woken to stop). */
struct timespec;
void monotonic_after_ms(unsigned ms, struct timespec *out);

#endif
