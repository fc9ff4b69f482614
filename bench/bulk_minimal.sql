-- One batch erased by the minimal set-based function (no locks, no ledger) in one transaction.
SELECT bench.bench_minimal_erase_set(
         ARRAY(SELECT q.customer_id FROM bench.bulk_queue q WHERE q.batch = (SELECT nextval('bench.bulk_seq'))));
