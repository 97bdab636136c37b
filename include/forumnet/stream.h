#ifndef FORUMNET_STREAM_H
#define FORUMNET_STREAM_H

#include "forumnet/http.h"
#include "forumnet/stream_tickets_db.h"

struct MHD_Connection;

/* Live streams of notifications (Server-Sent Events, API.md section 10; src/http/stream.c).
 *
 * A stream request is answered like any other (Ulfius' dispatcher: authentication, the ticket, problem+json),
 * with a callback response. Right after libmicrohttpd has sent its headers, the stream's content reader takes
 * the socket from libmicrohttpd and gives it to the streams' loop, one thread with one epoll set, and
 * libmicrohttpd closes and frees its side (the connection and its 128 KiB memory pool). So an idle stream holds
 * a socket and a small struct: no libmicrohttpd connection, no thread, no database connection (10 000 of them
 * cost a few MiB; as suspended libmicrohttpd connections they cost ~68 KiB each, and every resume walked the
 * worker's whole suspended list). The instance's one LISTEN session (listener.h) wakes the streams of a member
 * it hears about, and every stream after it reconnects; the loop's tick sends heartbeats and ends streams
 * whose token expired; a woken stream takes a pooled connection for two short reads (the token still valid?
 * the rows after the last one sent) and gives it back at once. At most FORUMNET_MAX_CONNECTIONS streams are
 * held; beyond that a stream request gets 503. */

/* Starts the streams' loop and the LISTEN thread. suspendable: the daemon allows suspending (epoll workers); without it
 * (FORUMNET_HTTP_THREADS=0) stream_reply answers 503. 0 on success. */
int stream_start(fn_app *app, int suspendable);
/* 1 (once) when this thread just handed a stream over, so the log line libmicrohttpd writes as it closes its
 * side ("application error generating response") is not a fault to report. */
int stream_quiet_log(void);
/* Ends every stream (each gets what it was sent so far, then the response's end) and waits for them, up to
 * wait_ms; then stops the loop (which ends any left) and the LISTEN thread. */
void stream_stop(unsigned wait_ms);

/* Replies the stream for grant, sending the rows after seq `after` first: 200 text/event-stream.
 * FN_UNAVAILABLE (nothing replied) when streams cannot be served here. */
fn_status stream_reply(fn_req *req, struct MHD_Connection *connection, const stream_grant *grant, long after);

#endif
