-- One refused erasure by the hand-written PL/pgSQL baseline: the next blocked customer.
SELECT bench.refused('bench.bench_baseline_erase', q.customer_id)
  FROM bench.blocked_queue q
 WHERE q.seq = (SELECT nextval('bench.blocked_seq'));
