#ifndef FORUMNET_ACCEPTOR_H
#define FORUMNET_ACCEPTOR_H

#include <microhttpd.h>
#include <sys/socket.h>

/* forumnet's own listening socket, and the thread that accepts on it and gives each connection to a worker.
 *
 * Each epoll worker is a libmicrohttpd daemon of its own (one thread, MHD_USE_NO_LISTEN_SOCKET); this thread
 * accepts and hands each connection (MHD_add_connection) to the worker with the fewest requests in flight, then
 * the fewest connections, so a new client never waits behind a worker stuck on a slow query while another is
 * idle. Two reasons for not letting libmicrohttpd listen, with its thread pool:
 *  - the stop. To stop accepting while requests in flight finish, libmicrohttpd offers MHD_quiesce_daemon, and
 *    in 0.9.75 (Debian 12) that call removes the listening socket from each pool worker's epoll set while a
 *    worker that is awake may remove it too; the loser's epoll_ctl fails and libmicrohttpd aborts the process
 *    ("Failed to remove listen FD from epoll set", an open defect upstream; seen here once in ~3 700 stops).
 *    With the socket ours, stopping to accept is ending this thread and closing the socket.
 *  - MHD_add_connection on a thread pool picks the worker by the descriptor's number, busy or not.
 *
 * Like libmicrohttpd's own accept loop, it stops accepting while max_connections connections are open: further
 * clients wait in the kernel's backlog until a place frees, instead of being accepted and dropped. It counts
 * them itself, so every daemon's own limit must be out of reach (each may hold max_connections). */

typedef struct acceptor acceptor;

/* Binds and listens on addr (SO_REUSEADDR and SO_REUSEPORT, as libmicrohttpd's
 * MHD_OPTION_LISTENING_ADDRESS_REUSE did; an IPv6 address listens on IPv6 only), for workers daemons. NULL, with
 * errno, when it cannot. Before the daemons start, so that a port in use is reported first. */
acceptor *acceptor_listen(const struct sockaddr *addr, socklen_t addr_len, unsigned max_connections, unsigned workers);

/* The cls of worker i's callbacks below. */
void *acceptor_worker(acceptor *a, unsigned i);

/* Worker daemons' MHD_OPTION_NOTIFY_CONNECTION, with acceptor_worker() as its cls: counts connections. */
void acceptor_notify_connection(void *worker, struct MHD_Connection *connection, void **socket_context,
                                enum MHD_ConnectionNotificationCode code);

/* A request of worker's began (its URI arrived) or completed. */
void acceptor_request_started(void *worker);
void acceptor_request_ended(void *worker);

/* Starts accepting for daemons[workers] (started with MHD_USE_NO_LISTEN_SOCKET, MHD_USE_ITC and the callbacks
 * above). 0, or -1. */
int acceptor_start(acceptor *a, struct MHD_Daemon *const *daemons);

/* Stops accepting and closes the socket: clients queued in the backlog are reset, new ones refused. The
 * connections already handed over stay the daemons'. NULL, or an acceptor not started, is fine. */
void acceptor_stop(acceptor *a);

/* Stops if need be and frees a; after the daemons stopped, since they notify connections that close. */
void acceptor_free(acceptor *a);

#endif
