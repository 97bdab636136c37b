#ifndef FORUMNET_STREAM_H
#define FORUMNET_STREAM_H

#include "forumnet/http.h"
#include "forumnet/stream_tickets_db.h"

struct MHD_Connection;

/* Live streams of notifications (Server-Sent Events, API.md section 10; src/http/stream.c).
 *
 * A stream is a callback response. When it has nothing to write, its reader suspends the connection
 * (MHD_suspend_connection) and returns 0, so an idle stream holds no worker thread and no database
 * connection: it is an entry in a list. The instance's one LISTEN session (listener.h) resumes the streams
 * of a member it hears about, every stream after it reconnects, and (its tick) the streams whose heartbeat
 * or token expiry is due; a resumed reader takes a pooled connection for two short reads (the token still
 * valid? the rows after the last one sent) and gives it back at once. */

/* Starts the LISTEN thread. suspendable: the daemon allows suspending (epoll workers); without it
 * (FORUMNET_HTTP_THREADS=0) stream_reply answers 503. 0 on success. */
int stream_start(fn_app *app, int suspendable);
/* Ends every stream (they finish what they were writing, then the response ends) and waits for them,
 * up to wait_ms; then stops the LISTEN thread. */
void stream_stop(unsigned wait_ms);

/* Replies the stream for grant, sending the rows after seq `after` first: 200 text/event-stream.
 * FN_UNAVAILABLE (nothing replied) when streams cannot be served here. */
fn_status stream_reply(fn_req *req, struct MHD_Connection *connection, const stream_grant *grant, long after);

#endif
