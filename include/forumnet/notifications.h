#ifndef FORUMNET_NOTIFICATIONS_H
#define FORUMNET_NOTIFICATIONS_H

/* Members' notifications (API.md section 10): the fan-out that a change runs inside its own transaction,
 * and the feed's statements. See README "Notifications". */

#include "forumnet/db.h"
#include "forumnet/page.h"

struct fn_req;

/* The Notification representation of notifications row `n` (the feed, the stream and the export). */
// clang-format off
#define NOTIFICATION_FIELDS_SQL(F, SEP)                                                                                \
  F("id", "n.id") SEP                                                                                                  \
  F("kind", "n.kind") SEP                                                                                              \
  F("created_at", "rfc3339(n.created_at)") SEP                                                                         \
  F("read_at", "rfc3339(n.read_at)") SEP                                                                               \
  F("subject", "json_build_object('type', n.subject_type, 'id', n.subject_id)") SEP                                    \
  F("group_id", "n.group_id") SEP                                                                                      \
  F("title", "n.title")
// clang-format on
#define NOTIFICATION_JSON_SQL DB_JSON_OBJECT(NOTIFICATION_FIELDS_SQL)
#define NOTIFICATION_COLUMNS_SQL DB_COLUMNS(NOTIFICATION_FIELDS_SQL)

/* The kinds a change fans out here (consultation.closing_soon is the job runner's, thread.* issue 15's). */
typedef enum notification_kind {
  NOTIFY_MEMBERSHIP_INVITED,    /* subject: the group; recipients: the invitee */
  NOTIFY_MEMBERSHIP_REQUESTED,  /* the group: its active conveners and facilitators */
  NOTIFY_MEMBERSHIP_APPROVED,   /* the group: the requester */
  NOTIFY_TERMS_PUBLISHED,       /* the group: its active members */
  NOTIFY_MEETING_SCHEDULED,     /* the meeting: its group's active members */
  NOTIFY_MEETING_CHANGED,       /* the meeting: its group's active members */
  NOTIFY_CONSULTATION_OPENED,   /* the consultation: active members of its targeted groups */
  NOTIFY_CONSULTATION_OUTCOME,  /* the consultation: active members of its targeted groups */
  NOTIFY_EVENT_PUBLISHED,       /* the event: everyone event_visible() lets see it */
  NOTIFY_EVENT_CANCELLED,       /* the event: its registered members (not declined) */
  NOTIFY_EVENT_CHANGED,         /* the event: its registered members (not declined) */
  NOTIFY_REGISTRATION_PROMOTED, /* the event: the members promoted from its waitlist */
} notification_kind;

/* One set-based INSERT ... SELECT of kind's notifications about subject_id, on db inside the change's
 * open transaction (a rolled-back change notifies nobody). Recipients are active accounts who may see the
 * subject now, never actor_id (may be NULL: no actor, or a partner). only, when not NULL, is a JSON array
 * of member ids that narrows the recipients further (the invitee, the requester, the promoted). */
fn_status notifications_db_fanout(db_conn *db, notification_kind kind, const char *subject_id, const char *actor_id,
                                  const char *only);

/* notifications_db_fanout on the request's connection, the caller as the actor; only_member (may be NULL)
 * narrows the recipients to that one member. */
fn_status req_notify(struct fn_req *req, notification_kind kind, const char *subject_id, const char *only_member);

/* The member's unread notifications, counted on the partial index notifications_member_unread. */
fn_status notifications_db_unread_count(db_conn *db, const char *member_id, long *count);

/* One page of the member's feed, newest first (keyset on seq): rows of (Notification JSON, cursor_key). */
fn_status notifications_db_list(db_conn *db, const char *member_id, int unread_only, const page_request *page,
                                PGresult **result);

/* Marks read the member's notifications whose ids are in the JSON array ids (others' and unknown ids are
 * passed over), or, with ids NULL, all of them. */
fn_status notifications_db_mark_read(db_conn *db, const char *member_id, const char *ids);

#endif
