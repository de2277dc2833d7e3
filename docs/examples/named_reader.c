/*
 * named_reader.c - the other program (see named_writer.c): it opens the
 * same names, serves the orders waiting in the queue and updates the
 * stock. Exits 0 when the stock it leaves is what the orders imply.
 */
#include <stdio.h>
#include <stdlib.h>

#include <agora.h>

int main(void)
{
	agora_client *c = agora_client_new();
	agora_dict *stock;
	agora_queue *queue;
	agora_value order;
	int64_t apples = 0, pears = 0, left = 0;
	int rc;

	agora_client_set_sticky(c, true);
	agora_client_connect_env(c);
	agora_dict_open(c, "shop.stock", &stock);
	agora_queue_open(c, "shop.orders", 0, &queue);

	/* Orders until the nil that ends them; 10 s without one is an error
	 * (AGORA_EEMPTY): the writer has not run. */
	while ((rc = agora_queue_get(queue, 10.0, &order)) == 0 &&
	       order.type != AGORA_NIL) {
		/* One atomic step in the server: stock[order] -= 1. */
		agora_dict_incr_int(stock, order, -1, &left);
		printf("reader: sold one %s, %lld left\n", order.via.str.ptr,
		       (long long)left);
		agora_value_free(&order);
	}
	if (rc == AGORA_EEMPTY)
		fprintf(stderr,
			"reader: no order for 10 s: did the writer run?\n");

	agora_dict_get_int(stock, agora_str("apple"), &apples);
	agora_dict_get_int(stock, agora_str("pear"), &pears);
	agora_queue_close(queue);
	agora_dict_close(stock);
	if (agora_client_error(c) < 0)
		fprintf(stderr, "reader: %s\n", agora_errmsg(c));
	agora_client_free(c);
	return apples == 3 && pears == 2 ? 0 : 1;
}
