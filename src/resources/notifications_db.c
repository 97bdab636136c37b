/* Every SQL statement about notifications: the fan-out of each kind, the feed and marking read.
 *
 * A fan-out is one INSERT ... SELECT over the recipients (30 000 members are one statement), run by the
 * change that causes it inside its own transaction. Recipients are decided in SQL at that moment: active
 * accounts (members.status), who may see the subject (an active membership of the group; for events the
 * events resource's own predicate event_visible(); for consultations consultation_visible()), never the
 * actor, and, when the change names them, only the members it names ($3). Titles are built from names
 * only (group name, meeting time, consultation and event titles), cut to 200 characters. */
#include "forumnet/notifications.h"

#include <stdio.h>

/* $1 the subject, $2 the actor (NULL: none), $3 a JSON array of member ids or NULL. `from` names the
 * recipients as members m, the subject's names for the title, and ends in a WHERE clause. */
#define FANOUT(kind, subject_type, group_id, title, from)                                                              \
  {                                                                                                                    \
    "notifications_fanout_" kind,                                                                                      \
        "INSERT INTO notifications (member_id, kind, subject_type, subject_id, group_id, title)"                       \
        " SELECT m.id, '" kind "', '" subject_type "', $1::uuid, " group_id ", left(" title ", 200)"                   \
        " FROM " from " AND m.status = 'active' AND m.id IS DISTINCT FROM $2::uuid"                                    \
        " AND ($3::json IS NULL OR m.id IN (SELECT x::uuid FROM json_array_elements_text($3::json) x))"                \
  }

/* The group $1's members in membership state `state`. */
#define GROUP_MEMBERS(state)                                                                                           \
  "groups g JOIN group_memberships gm ON gm.group_id = g.id AND gm.state = '" state "'"                                \
  " JOIN members m ON m.id = gm.member_id WHERE g.id = $1::uuid"

/* The active members of the group of meeting $1, with its time (UTC) for the title. */
#define MEETING_MEMBERS                                                                                                \
  "meetings mt JOIN groups g ON g.id = mt.group_id"                                                                    \
  " JOIN group_memberships gm ON gm.group_id = g.id AND gm.state = 'active'"                                           \
  " JOIN members m ON m.id = gm.member_id WHERE mt.id = $1::uuid"
#define MEETING_TIME "to_char(mt.starts_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI') || ' UTC'"

/* The active members of consultation $1's targeted groups who may see it. */
#define CONSULTATION_MEMBERS                                                                                           \
  "consultations c JOIN members m ON m.id IN (SELECT gm.member_id FROM group_memberships gm"                           \
  "   WHERE gm.state = 'active' AND gm.group_id IN (SELECT consultation_targeted_groups($1::uuid)))"                   \
  " WHERE c.id = $1::uuid AND consultation_visible(c.id, c.created_by, c.status, m.id, m.role, m.home_site_id)"

/* Event $1's visibility to member m: the events resource's predicate (sql/004_events.sql). */
#define EVENT_VISIBLE_TO_M                                                                                             \
  "event_visible(e.id, e.status, e.network_wide, e.created_by, e.partner_id, m.id, m.role, m.home_site_id, NULL)"

/* Event $1's registered members (statuses given) who may see it. */
#define EVENT_REGISTERED(statuses)                                                                                     \
  "events e JOIN event_registrations r ON r.event_id = e.id AND r.status IN " statuses                                 \
  " JOIN members m ON m.id = r.member_id WHERE e.id = $1::uuid AND " EVENT_VISIBLE_TO_M

/* In the order of notification_kind. */
static const db_stmt fanout[] = {
    FANOUT("membership.invited", "group", "g.id", "'You are invited to join ' || g.name", GROUP_MEMBERS("invited")),
    FANOUT("membership.requested", "group", "g.id", "'New request to join ' || g.name",
           GROUP_MEMBERS("active") " AND gm.role IN ('convener', 'facilitator')"),
    FANOUT("membership.approved", "group", "g.id", "'You are now a member of ' || g.name", GROUP_MEMBERS("active")),
    FANOUT("terms.published", "group", "g.id", "'New terms of reference to accept in ' || g.name",
           GROUP_MEMBERS("active")),
    FANOUT("meeting.scheduled", "meeting", "g.id", "'Meeting of ' || g.name || ' on ' || " MEETING_TIME,
           MEETING_MEMBERS),
    FANOUT("meeting.changed", "meeting", "g.id", "'Meeting of ' || g.name || ' changed: now ' || " MEETING_TIME,
           MEETING_MEMBERS),
    FANOUT("consultation.opened", "consultation", "NULL::uuid", "'Consultation open: ' || c.title",
           CONSULTATION_MEMBERS),
    FANOUT("consultation.outcome_published", "consultation", "NULL::uuid", "'Outcome published: ' || c.title",
           CONSULTATION_MEMBERS),
    FANOUT("event.published", "event", "NULL::uuid", "'New event: ' || e.title",
           "events e CROSS JOIN members m WHERE e.id = $1::uuid AND " EVENT_VISIBLE_TO_M),
    FANOUT("event.cancelled", "event", "NULL::uuid", "'Cancelled: ' || e.title",
           EVENT_REGISTERED("('going', 'waitlisted', 'interested')")),
    FANOUT("event.changed", "event", "NULL::uuid", "'Event changed: ' || e.title",
           EVENT_REGISTERED("('going', 'waitlisted', 'interested')")),
    FANOUT("registration.promoted", "event", "NULL::uuid", "'You have a place at ' || e.title",
           EVENT_REGISTERED("('going')")),
};

fn_status notifications_db_fanout(db_conn *db, notification_kind kind, const char *subject_id, const char *actor_id,
                                  const char *only) {
  if ((size_t)kind >= sizeof fanout / sizeof fanout[0])
    return FN_INTERNAL;
  return db_exec_command(db, &fanout[kind], DB_ARGS(subject_id, actor_id, only));
}

/* Served by the partial index notifications_member_unread (member_id, seq) WHERE read_at IS NULL. */
static const db_stmt unread_count = {"notifications_unread_count",
                                     "SELECT count(*) FROM notifications WHERE member_id = $1 AND read_at IS NULL"};

fn_status notifications_db_unread_count(db_conn *db, const char *member_id, long *count) {
  return db_query_long(db, &unread_count, DB_ARGS(member_id), count);
}

/* The cursor is the page helpers' cursor_key() with seq as the uuid (lpad(to_hex(seq), 32, '0'), as terms
 * do with versions); only that part is read back, as the bigint in its last 16 hex digits. Without a
 * cursor ($2 '-infinity') the page starts above every seq. One range condition on seq, so the
 * (member_id, seq) indexes serve every page. */
#define LIST_SQL(where)                                                                                                \
  "SELECT cursor_key(n.created_at, lpad(to_hex(n.seq), 32, '0')::uuid), " NOTIFICATION_COLUMNS_SQL                     \
  " FROM notifications n WHERE n.member_id = $1" where " AND n.seq < CASE WHEN $2::timestamptz = '-infinity'"          \
  "   THEN 9223372036854775807 ELSE ('x' || right(replace($3::uuid::text, '-', ''), 16))::bit(64)::bigint END"         \
  " ORDER BY n.seq DESC LIMIT $4"

static const db_stmt list_all = {"notifications_list", LIST_SQL("")};
static const db_stmt list_unread = {"notifications_list_unread", LIST_SQL(" AND n.read_at IS NULL")};

fn_status notifications_db_list(db_conn *db, const char *member_id, int unread_only, const page_request *page,
                                PGresult **result) {
  return db_query_page(db, unread_only ? &list_unread : &list_all, member_id, page, result);
}

static const db_stmt mark_read = {
    "notifications_mark_read",
    "UPDATE notifications SET read_at = clock_timestamp() WHERE member_id = $1 AND read_at IS NULL"
    " AND ($2::json IS NULL OR id IN (SELECT x::uuid FROM json_array_elements_text($2::json) x))"};

fn_status notifications_db_mark_read(db_conn *db, const char *member_id, const char *ids) {
  return db_exec_command(db, &mark_read, DB_ARGS(member_id, ids));
}
