/*
 * harness_race.c — races: up to 16 requests sent from as many threads, released together by a
 * barrier.
 */
#include "harness.h"
#include "harness_internal.h"

#include <pthread.h>
#include <stdio.h>

typedef struct race_arg {
  harness_race_req *req;
  pthread_barrier_t *barrier;
} race_arg;

static void *race_main(void *p) {
  race_arg *a = p;
  harness_race_req *q = a->req;
  json_t *body = q->body;
  q->body = NULL;
  pthread_barrier_wait(a->barrier);
  http_response *r = http_json(q->method, q->path, q->token, body);
  q->status = r->status;
  snprintf(q->response, sizeof q->response, "%s", r->body ? r->body : r->error);
  http_response_free(r);
  return NULL;
}

void harness_race(harness_race_req *reqs, int n) {
  if (n < 1 || n > 16)
    fail_msg("harness_race: 1..16 requests");
  pthread_barrier_t barrier;
  pthread_barrier_init(&barrier, NULL, (unsigned)n);
  pthread_t threads[16];
  race_arg args[16];
  for (int i = 0; i < n; i++) {
    args[i].req = &reqs[i];
    args[i].barrier = &barrier;
    if (pthread_create(&threads[i], NULL, race_main, &args[i]) != 0)
      fail_msg("harness_race: pthread_create failed");
  }
  for (int i = 0; i < n; i++)
    pthread_join(threads[i], NULL);
  pthread_barrier_destroy(&barrier);
}

typedef struct race_raw_arg {
  harness_race_raw_req *req;
  pthread_barrier_t *barrier;
} race_raw_arg;

static void *race_raw_main(void *p) {
  race_raw_arg *a = p;
  harness_race_raw_req *q = a->req;
  pthread_barrier_wait(a->barrier);
  q->resp = http_request(q->method, q->path, q->token, q->body ? "application/json" : NULL, q->body, q->headers);
  return NULL;
}

void harness_race_raw(harness_race_raw_req *reqs, int n) {
  if (n < 1 || n > 16)
    fail_msg("harness_race_raw: 1..16 requests");
  pthread_barrier_t barrier;
  pthread_barrier_init(&barrier, NULL, (unsigned)n);
  pthread_t threads[16];
  race_raw_arg args[16];
  for (int i = 0; i < n; i++) {
    reqs[i].resp = NULL;
    args[i].req = &reqs[i];
    args[i].barrier = &barrier;
    if (pthread_create(&threads[i], NULL, race_raw_main, &args[i]) != 0)
      fail_msg("harness_race_raw: pthread_create failed");
  }
  for (int i = 0; i < n; i++)
    pthread_join(threads[i], NULL);
  pthread_barrier_destroy(&barrier);
}
