-- One batch erased by the set-based baseline in one transaction.
SELECT count(*)
  FROM bench.bench_baseline_erase_set(
         ARRAY(SELECT q.customer_id FROM bench.bulk_queue q WHERE q.batch = (SELECT nextval('bench.bulk_seq'))));
