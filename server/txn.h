/*
 * txn.h - the running transaction, shared by txn.c (the server method txn)
 * and txn_objs.c (what the families and the dispatcher ask of it).
 */
#ifndef AG_SERVER_TXN_H
#define AG_SERVER_TXN_H

#include "internal.h"

struct ag_txn_obj {
	ag_object *obj; /* holds a reference */
	void *saved;    /* fam->txn_save()'s copy; NULL: not written */
	bool has_saved;
	bool wake; /* wake after the commit (ag_txn_defer) */
	uint64_t version;
};

struct ag_txn {
	ag_req *req; /* the txn request */
	struct ag_txn_obj *objs;
	uint32_t nobjs, capobjs;
	uint32_t nsaved;   /* save order: objs with has_saved, in order */
	uint32_t *order;   /* indices into objs, in the order saved */
	bool conditions;   /* running the conditions' read calls */
	bool admitted;     /* the journal admitted its writes */
	uint64_t revision; /* the server's, at the start */
	uint64_t last_fence;
	bool journal; /* records are being gathered from jmark */
	size_t jmark;
	uint64_t jrecords;
	ag_object *touched; /* the journal's touched list at the start */
	uint32_t *wakes;    /* objs to wake, in the order first deferred */
	uint32_t nwakes;
	struct ag_hold *passed; /* the connection's passed holds at start */
	uint32_t npassed;
	msgpack_zone zone;  /* decoded params, results */
	msgpack_zone rzone; /* one inner request's params */
	ag_buf reqbuf;      /* a condition's result */
	ag_buf results;     /* the packed results so far */
	uint32_t nresults;
	/* A call that failed: its error, where. */
	int fail_rc;
	const char *fail_branch;
	uint32_t fail_index;
	char fail_msg[640];
};

#endif
