#ifndef FORUMNET_ROUTES_H
#define FORUMNET_ROUTES_H

#include "forumnet/http.h"

/* Each resource's route table, defined in its <name>_http.c. */
extern const fn_route ops_routes[];
extern const fn_route auth_routes[];
extern const fn_route oidc_routes[];
extern const fn_route erasure_routes[];
extern const fn_route me_routes[];
extern const fn_route members_routes[];
extern const fn_route sites_routes[];
extern const fn_route groups_routes[];
extern const fn_route memberships_routes[];
extern const fn_route terms_routes[];
extern const fn_route meetings_routes[];
extern const fn_route consultations_routes[];
extern const fn_route responses_routes[];
extern const fn_route partners_routes[];
extern const fn_route webhooks_routes[];
extern const fn_route events_routes[];
extern const fn_route registrations_routes[];
extern const fn_route calendar_routes[];
extern const fn_route summaries_routes[];
extern const fn_route audit_routes[];
extern const fn_route notifications_routes[];
extern const fn_route stream_tickets_routes[];
extern const fn_route calendar_feeds_routes[];
extern const fn_route discussions_routes[];

/* All of the above, NULL-terminated (http/routes.c). Adding a resource = one line there. */
extern const fn_route *const all_route_tables[];

#endif
