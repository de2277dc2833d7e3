/*
 * named_reader.c - the other program (see named_writer.c): it opens the
 * same names, serves the orders waiting in the queue and updates the
 * stock. Exits 0 when the stock it leaves is what the orders imply.
 */
#include <stdio.h>
#include <stdlib.h>

#include <agora.h>

#define CHECK(c, call) check((c), (call), #call)
static void check(agora_client *c, int rc, const char *what)
{
	if (rc < 0) {
		fprintf(stderr, "%s: %s (%s)\n", what, agora_strerror(rc),
			c ? agora_errmsg(c) : "");
		exit(1);
	}
}

int main(void)
{
	agora_client *c = agora_client_new();
	agora_dict *stock;
	agora_queue *queue;
	agora_value order;
	int64_t apples, pears, left;

	if (!c)
		return 1;
	CHECK(c, agora_client_connect_env(c));
	CHECK(c, agora_dict_open(c, "shop.stock", &stock));
	CHECK(c, agora_queue_open(c, "shop.orders", 0, &queue));

	/* Orders until the nil that ends them; 10 s without one is an error
	 * (AGORA_EEMPTY): the writer has not run. */
	for (;;) {
		CHECK(c, agora_queue_get(queue, 10.0, &order));
		if (order.type == AGORA_NIL)
			break;
		/* One atomic step in the server: stock[order] -= 1. */
		CHECK(c, agora_dict_incr_int(stock, order, -1, &left));
		printf("reader: sold one %s, %lld left\n", order.via.str.ptr,
		       (long long)left);
		agora_value_free(&order);
	}

	CHECK(c, agora_dict_get_int(stock, agora_str("apple"), &apples));
	CHECK(c, agora_dict_get_int(stock, agora_str("pear"), &pears));
	CHECK(c, agora_queue_close(queue));
	CHECK(c, agora_dict_close(stock));
	agora_client_free(c);
	return apples == 3 && pears == 2 ? 0 : 1;
}
