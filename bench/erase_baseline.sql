-- One erasure by the hand-written PL/pgSQL baseline: the next customer of the shuffled queue.
SELECT bench.bench_baseline_erase(q.customer_id)
  FROM bench.single_queue q
 WHERE q.seq = (SELECT nextval('bench.single_seq'));
