/* Slow routes off the epoll workers (include/forumnet/offload.h). */
#include "forumnet/offload.h"

#include <microhttpd.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdlib.h>
#include <ulfius.h>

#include "forumnet/log.h"
#include "forumnet/router.h"

typedef struct slow_request {
  struct slow_request *next;
  void *cls; /* Ulfius' instance */
  struct MHD_Connection *connection;
  const char *url, *method, *version; /* libmicrohttpd's, valid until the request completes */
  void **con_cls;                     /* Ulfius' per-request state */
} slow_request;

/* Connections whose slow request Ulfius could not answer (out of memory): closed when libmicrohttpd calls again. */
typedef struct unanswered {
  struct unanswered *next;
  struct MHD_Connection *connection;
} unanswered;

static MHD_AccessHandlerCallback ulfius_handler;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t queued = PTHREAD_COND_INITIALIZER;
static slow_request *queue_head, *queue_tail;
static unanswered *unanswered_list;
static pthread_t *threads;
static unsigned thread_count;
static int stopping;

/* Removes connection from the unanswered list; 1 if it was there. */
static int take_unanswered(struct MHD_Connection *connection) {
  int found = 0;
  pthread_mutex_lock(&lock);
  for (unanswered **p = &unanswered_list; *p; p = &(*p)->next)
    if ((*p)->connection == connection) {
      unanswered *u = *p;
      *p = u->next;
      free(u);
      found = 1;
      break;
    }
  pthread_mutex_unlock(&lock);
  return found;
}

static void serve(slow_request *r) {
  size_t no_body = 0;
  if (ulfius_handler(r->cls, r->connection, r->url, r->method, r->version, NULL, &no_body, r->con_cls) != MHD_YES) {
    /* On the worker libmicrohttpd would close the connection; here it calls the handler again once resumed,
     * which closes it then. Without memory for the mark, closing waits for the connection timeout. */
    unanswered *u = malloc(sizeof *u);
    if (u) {
      pthread_mutex_lock(&lock);
      *u = (unanswered){unanswered_list, r->connection};
      unanswered_list = u;
      pthread_mutex_unlock(&lock);
    }
    log_warn("http: a slow request got no response; closing its connection");
  }
  MHD_resume_connection(r->connection);
  free(r);
}

static void *slow_thread(void *arg) {
  (void)arg;
  pthread_mutex_lock(&lock);
  for (;;) {
    while (queue_head == NULL && !stopping)
      pthread_cond_wait(&queued, &lock);
    slow_request *r = queue_head;
    if (r == NULL) /* stopping, and nothing left */
      break;
    queue_head = r->next;
    if (queue_head == NULL)
      queue_tail = NULL;
    pthread_mutex_unlock(&lock);
    serve(r);
    pthread_mutex_lock(&lock);
  }
  pthread_mutex_unlock(&lock);
  return NULL;
}

/* libmicrohttpd's access handler: Ulfius' own, but a slow route's final call is handed to a slow thread. */
static enum MHD_Result offload_access_handler(void *cls, struct MHD_Connection *connection, const char *url,
                                              const char *method, const char *version, const char *upload_data,
                                              size_t *upload_data_size, void **con_cls) {
  const struct connection_info_struct *info = *con_cls;
  /* A call without data after Ulfius' first one is the final call: the one that runs the route's handler. */
  int final_call = *upload_data_size == 0 && info != NULL && !info->callback_first_iteration;
  const fn_route *route = final_call && thread_count > 0 ? router_find(method, url) : NULL;
  if (route && (route->flags & ROUTE_SLOW)) {
    /* Only a slow route's connection can have been left unanswered: no lock for the other requests. */
    if (take_unanswered(connection))
      return MHD_NO; /* closes the connection */
    slow_request *r = malloc(sizeof *r);
    if (r) {
      *r = (slow_request){NULL, cls, connection, url, method, version, con_cls};
      MHD_suspend_connection(connection); /* before a slow thread can see it */
      pthread_mutex_lock(&lock);
      if (queue_tail)
        queue_tail->next = r;
      else
        queue_head = r;
      queue_tail = r;
      pthread_cond_signal(&queued);
      pthread_mutex_unlock(&lock);
      return MHD_YES; /* no response yet: libmicrohttpd waits for the resume */
    }
  }
  return ulfius_handler(cls, connection, url, method, version, upload_data, upload_data_size, con_cls);
}

/* See offload.h: libulfius' call of MHD_start_daemon lands here. */
struct MHD_Daemon *MHD_start_daemon(unsigned int flags, uint16_t port, MHD_AcceptPolicyCallback apc, void *apc_cls,
                                    MHD_AccessHandlerCallback dh, void *dh_cls, ...) {
  va_list options;
  va_start(options, dh_cls);
  ulfius_handler = dh;
  struct MHD_Daemon *daemon = MHD_start_daemon_va(flags, port, apc, apc_cls, offload_access_handler, dh_cls, options);
  va_end(options);
  return daemon;
}

int offload_start(unsigned count) {
  stopping = 0;
  thread_count = 0;
  if (count == 0)
    return 0;
  threads = calloc(count, sizeof *threads);
  if (threads == NULL)
    return -1;
  for (unsigned i = 0; i < count; i++) {
    if (pthread_create(&threads[thread_count], NULL, slow_thread, NULL) != 0)
      break;
    thread_count++;
  }
  if (thread_count == 0) {
    free(threads);
    threads = NULL;
    return -1;
  }
  log_info("slow routes: %u thread(s) of their own (FORUMNET_SLOW_THREADS)", thread_count);
  return 0;
}

void offload_stop(void) {
  pthread_mutex_lock(&lock);
  stopping = 1;
  pthread_cond_broadcast(&queued);
  pthread_mutex_unlock(&lock);
  for (unsigned i = 0; i < thread_count; i++)
    pthread_join(threads[i], NULL);
  free(threads);
  threads = NULL;
  thread_count = 0;
  while (unanswered_list) {
    unanswered *u = unanswered_list;
    unanswered_list = u->next;
    free(u);
  }
}
