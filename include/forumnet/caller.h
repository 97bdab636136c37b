#ifndef FORUMNET_CALLER_H
#define FORUMNET_CALLER_H

/* Who is calling: the types that both the HTTP layer and the data layer (*_db.h) speak of. The data
 * layer includes this header, never http.h. */

/* Network roles, ordered by reach so "up to facilitator" is a comparison. */
typedef enum member_role { ROLE_NONE = 0, ROLE_PRACTITIONER, ROLE_FACILITATOR, ROLE_MANAGER, ROLE_ADMIN } member_role;

member_role role_from_string(const char *s);  /* ROLE_NONE if unknown or NULL */
const char *role_to_string(member_role role); /* borrowed, static */

/* Who is calling, as established by the token. Authorization always re-reads the
 * member's current role and status from the database. */
typedef struct fn_caller {
  int authenticated;
  int is_partner; /* a partner client's token (only on ROUTE_PARTNER routes) */
  char id[64];    /* member id, or partner id */
  char token_type[16];
  long
      token_iat_ms; /* the token's issue time (ms) and expiry (s): a live stream re-checks the one, ends at the other */
  long token_exp;
} fn_caller;

/* Room for a UUID in its canonical text form (36 characters and the NUL). */
#define UUID_TEXT_SIZE 37

#endif
