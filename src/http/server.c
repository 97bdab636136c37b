#include "forumnet/server.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <ulfius.h>
#include <unistd.h>

#include "forumnet/acceptor.h"
#include "forumnet/jobs.h"
#include "forumnet/log.h"
#include "forumnet/mail.h"
#include "forumnet/metrics.h"
#include "forumnet/offload.h"
#include "forumnet/readiness.h"
#include "forumnet/router.h"
#include "forumnet/stream.h"

/* How long shutdown waits for requests in flight before closing connections. */
#define SHUTDOWN_GRACE_SECONDS 10

/* Requests between "URI received" and "response completed", so that shutdown can
 * wait for them. The two wrappers chain to Ulfius' own callbacks, which
 * ulfius_start_framework_with_mhd_options requires. */
static atomic_int requests_in_flight;

/* Ulfius hands handlers its request, never MHD's connection, which a live stream needs in order to take
 * its socket. The URI logger sees both (Ulfius allocates the request there), and it, the handler and the completion
 * callback of one connection all run on that connection's thread (its epoll worker, or its own thread):
 * so each thread keeps the pairs of its requests between the URI and their completion, a short list. */
typedef struct connection_of {
  struct connection_of *next;
  const struct _u_request *request;
  struct MHD_Connection *connection;
} connection_of;
static _Thread_local connection_of *thread_connections;

static struct MHD_Connection *take_connection(const struct _u_request *request) {
  for (connection_of **p = &thread_connections; *p; p = &(*p)->next)
    if ((*p)->request == request) {
      connection_of *found = *p;
      struct MHD_Connection *connection = found->connection;
      *p = found->next;
      free(found);
      return connection;
    }
  return NULL;
}

struct MHD_Connection *server_connection(const struct _u_request *request) {
  return take_connection(request);
}

/* cls: the worker (acceptor_worker); Ulfius' two callbacks use none. */
static void *count_request_start(void *cls, const char *uri, struct MHD_Connection *connection) {
  atomic_fetch_add(&requests_in_flight, 1);
  acceptor_request_started(cls);
  struct connection_info_struct *info = ulfius_uri_logger(NULL, uri);
  connection_of *pair = info ? malloc(sizeof *pair) : NULL;
  if (pair) {
    *pair = (connection_of){thread_connections, info->request, connection};
    thread_connections = pair;
  }
  return info;
}

static void count_request_end(void *cls, struct MHD_Connection *connection, void **con_cls,
                              enum MHD_RequestTerminationCode toe) {
  struct connection_info_struct *info = con_cls ? *con_cls : NULL;
  if (info)
    take_connection(info->request);
  mhd_request_completed(NULL, connection, con_cls, toe);
  acceptor_request_ended(cls);
  atomic_fetch_sub(&requests_in_flight, 1);
}

static void mhd_log(void *cls, const char *fmt, va_list ap) {
  (void)cls;
  if (stream_quiet_log())
    return;
  char msg[512];
  vsnprintf(msg, sizeof msg, fmt, ap);
  size_t n = strlen(msg);
  while (n > 0 && (msg[n - 1] == '\n' || msg[n - 1] == '\r'))
    msg[--n] = '\0';
  log_warn("http: %s", msg);
}

static int resolve_listen(const fn_config *cfg, struct sockaddr_storage *addr, int *ipv6) {
  struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICSERV};
  struct addrinfo *found = NULL;
  char port[8];
  snprintf(port, sizeof port, "%u", cfg->listen_port);
  if (getaddrinfo(cfg->listen_host, port, &hints, &found) != 0 || found == NULL)
    return 0;
  memcpy(addr, found->ai_addr, found->ai_addrlen);
  *ipv6 = found->ai_family == AF_INET6;
  freeaddrinfo(found);
  return 1;
}

static const char *route_label(int i) { return router_route(i)->pattern; }
static const char *route_method(int i) { return router_route(i)->method; }

/* Shared with ops_http.c for /metrics. */
char *server_metrics_text(fn_app *app) { return metrics_render(app->pool, route_label, route_method); }

/* After the stop signal: /readyz answers 503 at once, so that a balancer stops sending requests
 * here, while everything is still served for drain_ms (FORUMNET_DRAIN_MS); a second signal ends
 * the drain early. */
static void drain(const sigset_t *stop_signals, int sig, unsigned drain_ms) {
  readiness_drain();
  if (drain_ms == 0)
    return;
  log_info("received signal %d: /readyz answers 503, serving for %u ms more", sig, drain_ms);
  for (unsigned waited_ms = 0, slice_ms; waited_ms < drain_ms; waited_ms += slice_ms) {
    slice_ms = drain_ms - waited_ms < 100 ? drain_ms - waited_ms : 100;
    if (sigtimedwait(stop_signals, NULL, &(struct timespec){.tv_sec = 0, .tv_nsec = slice_ms * 1000000L}) > 0)
      return; /* asked again: stop now */
  }
}

/* The HTTP side: forumnet's listening socket and its workers, each a libmicrohttpd daemon (acceptor.h). */
typedef struct http_workers {
  acceptor *acceptor;
  unsigned count, started;
  struct _u_instance *instances;
} http_workers;

static void http_stop(http_workers *h) {
  acceptor_stop(h->acceptor);
  for (unsigned i = 0; i < h->started; i++)
    ulfius_stop_framework(&h->instances[i]);
  acceptor_free(h->acceptor); /* after the daemons: they notify it of the connections they close */
  for (unsigned i = 0; h->instances && i < h->count; i++)
    ulfius_clean_instance(&h->instances[i]);
  free(h->instances);
  *h = (http_workers){0};
}

/* Listens, starts the workers and then the accepting thread. 0, or -1 (logged; everything undone). */
static int http_start(http_workers *h, fn_app *app, const struct sockaddr_storage *addr, int ipv6) {
  const fn_config *cfg = &app->cfg;
  /* Handlers block on libpq. By default there are as many epoll workers as pooled database connections, so a
   * worker never waits for the pool and idle or slow clients cost no thread; measured faster and with far
   * shorter tails than a thread per connection (README "Performance"), which FORUMNET_HTTP_THREADS=0 still
   * selects (one daemon then, which starts a thread per connection). The connection cap and inactivity timeout
   * bound what clients can hold either way. */
  *h = (http_workers){.count = cfg->http_threads ? cfg->http_threads : 1};
  unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ITC | MHD_USE_ERROR_LOG | MHD_USE_NO_LISTEN_SOCKET;
  if (cfg->http_threads == 0)
    flags |= MHD_USE_THREAD_PER_CONNECTION | MHD_USE_POLL;
  else
    flags |= MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME; /* slow routes (offload.h); a stream's hand-over (stream.h) */
  h->acceptor =
      acceptor_listen((const struct sockaddr *)addr, ipv6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in),
                      cfg->max_connections, h->count);
  if (h->acceptor == NULL) {
    log_error("cannot listen on %s:%u: %s", cfg->listen_host, cfg->listen_port, strerror(errno));
    return -1;
  }
  h->instances = calloc(h->count, sizeof *h->instances);
  struct MHD_Daemon **daemons = calloc(h->count, sizeof *daemons);
  for (unsigned i = 0; h->instances && daemons && i < h->count; i++) {
    struct _u_instance *instance = &h->instances[i];
    if (ulfius_init_instance(instance, cfg->listen_port, NULL, NULL) != U_OK)
      break;
    /* One byte over the limit is kept so a chunked oversize body can be detected (413). */
    instance->max_post_body_size = cfg->max_body_bytes + 1;
    instance->allowed_post_processor = U_POST_PROCESS_NONE;
    ulfius_set_default_endpoint(instance, dispatch_request, app);
    void *worker = acceptor_worker(h->acceptor, i);
    struct MHD_OptionItem options[] = {
        {MHD_OPTION_EXTERNAL_LOGGER, (intptr_t)mhd_log, NULL}, /* first, so MHD logs nothing elsewhere */
        {MHD_OPTION_NOTIFY_COMPLETED, (intptr_t)count_request_end, worker},
        {MHD_OPTION_URI_LOG_CALLBACK, (intptr_t)count_request_start, worker},
        {MHD_OPTION_NOTIFY_CONNECTION, (intptr_t)acceptor_notify_connection, worker},
        /* The acceptor keeps to FORUMNET_MAX_CONNECTIONS over all workers; any one of them may hold them all. */
        {MHD_OPTION_CONNECTION_LIMIT, cfg->max_connections, NULL},
        {MHD_OPTION_CONNECTION_TIMEOUT, cfg->connection_timeout, NULL},
        /* MHD parses the request line, headers and query into this per-connection pool; its 32 KiB
         * default could not hold a few hundred query parameters and then dropped the connection
         * without an answer. 128 KiB answers up to ~1000; the pool's size is paid on every request
         * (512 KiB measured 0.33 of pgbench on single-row reads, 128 KiB 0.39, as 32 KiB did). */
        {MHD_OPTION_CONNECTION_MEMORY_LIMIT, 128 * 1024, NULL},
        {MHD_OPTION_END, 0, NULL},
    };
    if (ulfius_start_framework_with_mhd_options(instance, flags, options) != U_OK) {
      ulfius_clean_instance(instance);
      *instance = (struct _u_instance){0};
      break;
    }
    daemons[h->started++] = instance->mhd_daemon;
  }
  int ok = h->started == h->count && acceptor_start(h->acceptor, daemons) == 0;
  free(daemons);
  if (!ok) {
    log_error("cannot start the HTTP workers (%u of %u started)", h->started, h->count);
    http_stop(h);
    return -1;
  }
  return 0;
}

int server_run(fn_app *app) {
  struct sockaddr_storage addr;
  int ipv6 = 0;
  if (!resolve_listen(&app->cfg, &addr, &ipv6)) {
    log_error("cannot resolve FORUMNET_LISTEN host %s", app->cfg.listen_host);
    return 1;
  }
  if (router_init() != 0 || metrics_init(router_route_count()) != 0) {
    log_error("out of memory setting up the routes");
    return 1;
  }
  /* Signals are taken synchronously by this thread; MHD's threads inherit the mask. */
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop_signals, NULL);
  signal(SIGPIPE, SIG_IGN);

  if (readiness_start(app->pool) != 0) {
    log_error("cannot start the readiness check");
    return 1;
  }
  mail_configure(&app->cfg);
  if (app->cfg.smtp_url[0] != '\0') /* never the URL: it may hold credentials */
    log_info("email: sent by SMTP (FORUMNET_SMTP_URL)");
  else
    log_info("email: written as .eml files into %s", app->cfg.mail_dir);
  if (jobs_start(app->pool, &app->cfg) != 0) {
    log_error("cannot start the job runner");
    readiness_stop();
    return 1;
  }
  if (stream_start(app, app->cfg.http_threads > 0) != 0) {
    log_error("cannot start the live streams' listener");
    jobs_stop();
    readiness_stop();
    return 1;
  }
  /* A thread per connection never holds up other connections (and cannot suspend): no slow threads then. */
  if (offload_start(app->cfg.http_threads > 0 ? app->cfg.slow_threads : 0) != 0) {
    log_error("cannot start the slow routes' threads");
    stream_stop(0);
    jobs_stop();
    readiness_stop();
    return 1;
  }
  http_workers http;
  if (http_start(&http, app, &addr, ipv6) != 0) {
    offload_stop();
    stream_stop(0);
    jobs_stop();
    readiness_stop();
    return 1;
  }
  log_info("forumnet listening on http://%s:%u", app->cfg.listen_host, app->cfg.listen_port);

  int sig = 0;
  sigwait(&stop_signals, &sig);
  drain(&stop_signals, sig, app->cfg.drain_ms);
  jobs_stop(); /* after the job running now, if any: its transaction commits or rolls back whole */
  log_info("received signal %d: finishing requests in flight", sig);
  acceptor_stop(http.acceptor); /* new connections are refused from here on; those accepted are served */
  /* Live streams would otherwise last until their tokens expire: end them (clients reconnect elsewhere). */
  stream_stop(SHUTDOWN_GRACE_SECONDS * 1000 / 2);
  for (int waited_ms = 0; atomic_load(&requests_in_flight) > 0 && waited_ms < SHUTDOWN_GRACE_SECONDS * 1000;
       waited_ms += 20)
    nanosleep(&(struct timespec){.tv_sec = 0, .tv_nsec = 20 * 1000000L}, NULL);
  offload_stop(); /* its threads resume connections: before the daemons go */
  http_stop(&http);
  readiness_stop();
  log_info("forumnet stopped");
  return 0;
}
