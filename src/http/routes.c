#include "forumnet/routes.h"

#include <stddef.h>

const fn_route *const all_route_tables[] = {
    ops_routes,
    auth_routes,
    oidc_routes,
    erasure_routes, /* before me_routes and members_routes: DELETE first in their Allow, as ever */
    me_routes,
    members_routes,
    sites_routes,
    groups_routes,
    memberships_routes,
    terms_routes,
    meetings_routes,
    consultations_routes,
    responses_routes,
    partners_routes,
    calendar_routes,
    events_routes,
    registrations_routes,
    summaries_routes,
    audit_routes,
    notifications_routes,
    stream_tickets_routes,
    calendar_feeds_routes,
    discussions_routes,
    webhooks_routes,
    NULL,
};
