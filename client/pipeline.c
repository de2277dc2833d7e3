/*
 * pipeline.c - agora_pipeline: many calls in flight on one client, their
 * results handed back in call order.
 *
 * Calls are packed one after another into p->out and leave together: when
 * SEND_BYTES have gathered, on agora_pipeline_flush(), or when a result is
 * wanted whose call has not left yet. Each call has a slot in a ring, in
 * call order. A call's msgid is its client's next msgid and nothing else
 * uses the client while the pipeline has calls outstanding, so the msgids
 * of the slots are consecutive and a response finds its slot by
 * subtraction from the oldest slot's msgid.
 *
 * The server may answer out of order (a parked queue.get is answered after
 * calls sent behind it): a response is decoded into its slot when it
 * arrives, and agora_pipeline_result() hands back the oldest slot once it
 * is done, reading more responses until then.
 *
 * At most WINDOW calls are in flight: past that, sending reads responses
 * before it goes on, so what the server buffers for this connection stays
 * bounded however many calls the caller queues before collecting.
 *
 * Sticky mode (connection.c): a client with a latched error takes no new
 * call (agora_pipeline_call() returns the error and makes no slot), and a
 * result that is a failure latches as a synchronous call's would. Calls
 * already sent are answered and collected as usual.
 */
#include <stdlib.h>
#include <string.h>

#include "internal.h"

#define SEND_BYTES ((size_t)64 << 10)
#define WINDOW 4096
#define RING_MIN 64
/* A request buffer that grew past this is given back once sent. */
#define OUT_KEEP_MAX ((size_t)1 << 20)

struct slot {
	bool done;
	int rc;
	agora_value val; /* when rc == 0 */
	char *errmsg;    /* when rc < 0; NULL when out of memory */
};

struct agora_pipeline {
	agora_client *c;
	ag_buf out;        /* packed calls not sent yet */
	struct slot *ring; /* cap slots, a power of two */
	size_t cap;
	size_t head;         /* the oldest outstanding call */
	size_t count;        /* calls whose results were not handed back */
	size_t unsent;       /* the newest `unsent` of them are in out */
	size_t inflight;     /* sent and not answered yet */
	uint32_t head_msgid; /* the msgid of the oldest call */
	int broken;          /* the error that ended the connection, or 0 */
};

static struct slot *slot_at(agora_pipeline *p, size_t i)
{
	return &p->ring[(p->head + i) & (p->cap - 1)];
}

static void slot_clear(struct slot *s)
{
	agora_value_free(&s->val);
	free(s->errmsg);
	memset(s, 0, sizeof(*s));
}

agora_pipeline *agora_pipeline_new(agora_client *c)
{
	agora_pipeline *p;

	if (c == NULL)
		return NULL;
	p = calloc(1, sizeof(*p));
	if (p == NULL)
		return NULL;
	p->ring = calloc(RING_MIN, sizeof(*p->ring));
	if (p->ring == NULL) {
		free(p);
		return NULL;
	}
	p->cap = RING_MIN;
	p->c = c;
	ag_buf_init(&p->out);
	return p;
}

/* Room for one more slot: 0 or AGORA_ENOMEM. */
static int ring_grow(agora_pipeline *p)
{
	struct slot *ring;
	size_t cap = p->cap * 2;

	if (p->count < p->cap)
		return 0;
	ring = calloc(cap, sizeof(*ring));
	if (ring == NULL)
		return AGORA_ENOMEM;
	for (size_t i = 0; i < p->count; i++)
		ring[i] = *slot_at(p, i);
	free(p->ring);
	p->ring = ring;
	p->cap = cap;
	p->head = 0;
	return 0;
}

/*
 * Read one response into its slot. 0, or the transport or protocol error
 * that broke the client (also kept in p->broken).
 */
static int read_one(agora_pipeline *p)
{
	const msgpack_object *err, *res;
	struct slot *s;
	uint32_t msgid, i;
	int rc;

	rc = ag_client_read_any(p->c, &msgid, &err, &res);
	if (rc < 0)
		return p->broken = rc;
	i = msgid - p->head_msgid;
	if (i >= p->count - p->unsent || slot_at(p, i)->done)
		return p->broken = ag_client_lost(
			   p->c, AGORA_EPROTOCOL,
			   "the server answered a request this pipeline did "
			   "not send or had its answer to");
	s = slot_at(p, i);
	if (err != NULL) {
		s->rc = ag_client_response_error(p->c, err);
		s->errmsg = strdup(agora_errmsg(p->c));
	} else {
		s->rc = ag_value_unpack(res, &s->val);
		if (s->rc < 0)
			s->errmsg = strdup("out of memory decoding an answer");
	}
	s->done = true;
	p->inflight--;
	/* A PROTOCOL error from the server ends the connection. */
	if (ag_client_usable(p->c) == AGORA_EIO)
		p->broken = AGORA_EIO;
	return p->broken;
}

/*
 * Send the calls gathered in p->out, then read responses while more than
 * WINDOW calls are in flight. Returns 0, or the error that broke the
 * client; may block on both.
 */
int agora_pipeline_flush(agora_pipeline *p)
{
	int rc;

	if (p == NULL)
		return AGORA_EINVAL;
	if (p->broken)
		return p->broken;
	if (p->unsent > 0) {
		rc = ag_client_send(p->c, p->out.data, p->out.len);
		if (rc < 0)
			return p->broken = rc;
		p->inflight += p->unsent;
		p->unsent = 0;
		p->out.len = 0;
		if (p->out.cap > OUT_KEEP_MAX) {
			ag_buf_deinit(&p->out);
			ag_buf_init(&p->out);
		}
	}
	while (p->inflight > WINDOW) {
		rc = read_one(p);
		if (rc < 0)
			return rc;
	}
	return 0;
}

int agora_pipeline_call(agora_pipeline *p, const char *method,
			agora_value params)
{
	struct slot *s;
	uint32_t msgid;
	int rc;

	if (p == NULL)
		return AGORA_EINVAL;
	if (ag_client_latched(p->c) < 0)
		return ag_client_latched(p->c);
	if (method == NULL || params.type != AGORA_ARRAY ||
	    (params.via.array.len > 0 && params.via.array.items == NULL))
		return ag_client_fail(p->c, AGORA_EINVAL,
				      "agora_pipeline_call needs a method and "
				      "an array of params");
	rc = ag_client_usable(p->c);
	if (rc < 0)
		return ag_client_note(p->c, rc);
	if (p->broken)
		return ag_client_fail(p->c, p->broken,
				      "this pipeline lost its connection");
	if (ring_grow(p) < 0)
		return ag_client_fail(p->c, AGORA_ENOMEM, "out of memory");
	rc = ag_client_pack(p->c, &p->out, method, params.via.array.items,
			    params.via.array.len, &msgid);
	if (rc < 0)
		return rc;
	if (p->count == 0)
		p->head_msgid = msgid;
	s = slot_at(p, p->count);
	memset(s, 0, sizeof(*s));
	p->count++;
	p->unsent++;
	if (p->out.len >= SEND_BYTES)
		return agora_pipeline_flush(p);
	return 0;
}

int agora_pipeline_result(agora_pipeline *p, agora_value *ret)
{
	struct slot *s;
	int rc;

	if (p == NULL)
		return AGORA_EINVAL;
	if (p->count == 0)
		return ag_client_fail(p->c, AGORA_EINVAL,
				      "agora_pipeline_result: no call is "
				      "outstanding");
	s = slot_at(p, 0);
	if (!s->done && p->unsent > 0 && !p->broken)
		agora_pipeline_flush(p);
	while (!s->done && !p->broken)
		read_one(p);
	if (s->done) {
		rc = s->rc;
		if (rc == 0 && ret != NULL) {
			*ret = s->val;
			memset(&s->val, 0, sizeof(s->val));
		} else if (rc < 0) {
			ag_client_fail(p->c, rc, "%s",
				       s->errmsg != NULL ? s->errmsg
							 : "out of memory");
		}
	} else {
		/* The connection ended before this call was answered; the
		 * client's message says why. */
		rc = p->broken;
	}
	slot_clear(s);
	p->head = (p->head + 1) & (p->cap - 1);
	p->count--;
	if (p->unsent > p->count)
		p->unsent = p->count;
	p->head_msgid++;
	(void)ag_client_note(p->c, rc);
	return rc;
}

size_t agora_pipeline_pending(const agora_pipeline *p)
{
	return p != NULL ? p->count : 0;
}

void agora_pipeline_free(agora_pipeline *p)
{
	if (p == NULL)
		return;
	/* Collect what the server still owes, so that the client's next
	 * synchronous call reads its own answer. */
	if (p->count > 0 && !p->broken && agora_pipeline_flush(p) == 0)
		while (p->inflight > 0 && read_one(p) == 0)
			;
	for (size_t i = 0; i < p->count; i++)
		slot_clear(slot_at(p, i));
	free(p->ring);
	ag_buf_deinit(&p->out);
	free(p);
}
