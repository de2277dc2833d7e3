/*
 * ack_support.h - what the tests of acknowledged delivery share
 * (ack_support.c).
 */
#ifndef AGORA_ACK_SUPPORT_H
#define AGORA_ACK_SUPPORT_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "agora.h"

/* What a taker worker must get: from @queue, within @timeout, the ints
 * @items[0..n) in order, each delivered for the @deliveries time; it acks
 * them when @ack. */
struct expect {
	const char *queue;
	int64_t items[4];
	int n;
	uint64_t deliveries;
	double timeout;
	bool ack;
};

/* Whether wall-clock bounds are checked (not under valgrind, ASan or
 * AGORA_TEST_SLOW). */
bool timing_checked(void);
void sleep_s(double s);
/* @v as an int; fails the test when it is none. */
int64_t as_int(agora_value v);
/* The queue's size; the number of items pending on it (any connection). */
int64_t qsize(agora_queue *q, agora_client *c);
size_t npending(agora_client *c, agora_queue *q);
/* A worker (agh_spawn style) taking what struct expect @arg says. */
int taker(agora_client *c, int idx, void *arg);
/* SIGKILL @pid and reap it. */
void kill_and_reap(pid_t pid);

#endif
