-- One erasure by the minimal hand-written function: the next customer of the shuffled queue.
SELECT bench.bench_minimal_erase(q.customer_id)
  FROM bench.single_queue q
 WHERE q.seq = (SELECT nextval('bench.single_seq'));
