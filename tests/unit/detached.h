/*
 * detached.h - a connection of a detached server (no socket, no event
 * loop) whose answers a test reads: requests are fed to it with
 * ag_conn_feed(), its output is captured into a buffer (ag_conn_capture)
 * and cut into frames with a reader. For the unit tests that drive the
 * server's dispatcher directly (test_methods.c, test_txn_undo.c).
 */
#ifndef AG_TESTS_DETACHED_H
#define AG_TESTS_DETACHED_H

#include <check.h>

#include "internal.h"

typedef struct unit_peer {
	ag_conn *conn;
	ag_buf out;   /* what the server sent it */
	ag_reader rd; /* cuts @out into frames */
} unit_peer;

/* A new authenticated connection of @srv, its frames up to @max_frame
 * bytes. The server frees the connection; unit_peer_deinit() the rest. */
static inline void unit_peer_init(unit_peer *p, ag_server *srv,
				  size_t max_frame)
{
	p->conn = ag_conn_new_detached(srv, true);
	ck_assert_ptr_nonnull(p->conn);
	ag_buf_init(&p->out);
	ag_conn_capture(p->conn, &p->out);
	ck_assert_int_eq(ag_reader_init(&p->rd, max_frame), 0);
}

static inline void unit_peer_deinit(unit_peer *p)
{
	ag_buf_deinit(&p->out);
	ag_reader_deinit(&p->rd);
}

#endif
