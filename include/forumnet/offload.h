#ifndef FORUMNET_OFFLOAD_H
#define FORUMNET_OFFLOAD_H

/* Slow routes off the epoll workers (issue 18).
 *
 * In the default model an epoll worker serves many connections, one request at a time: while it runs a summary
 * (tens of milliseconds), an Argon2id hash or a request to an identity provider, its other connections wait,
 * however fast their own requests are. Routes flagged ROUTE_SLOW run on threads of their own instead: at the
 * request's final libmicrohttpd call (its body read) the worker suspends the connection and queues the request;
 * a slow thread runs Ulfius' dispatcher for it (forumnet's dispatch_request: the same code, replies and rules),
 * which queues the response on the suspended connection, and resumes it; the worker sends it. libmicrohttpd
 * allows exactly this: a suspended connection's response may be queued from any thread.
 *
 * Ulfius 2.7 keeps its access handler private and starts libmicrohttpd itself, so offload.c defines
 * MHD_start_daemon: the dynamic linker resolves libulfius' call to the executable's definition first, which
 * records Ulfius' handler and starts the daemon (MHD_start_daemon_va) with offload's handler in front of it.
 * Requests of other routes go straight to Ulfius' handler, as before. */

/* Starts threads slow threads (FORUMNET_SLOW_THREADS; 0: slow routes stay on the workers, as they must with a
 * thread per connection, which cannot suspend). Before the HTTP daemon starts. 0, or -1 if no thread started. */
int offload_start(unsigned threads);

/* After the last request in flight: serves what is queued, then ends the threads. */
void offload_stop(void);

#endif
