-- One refused erasure by pg_erasure: the next blocked customer, whose blockers refuse it.
SELECT bench.refused('erasure.anonymize_customer', q.customer_id)
  FROM bench.blocked_queue q
 WHERE q.seq = (SELECT nextval('bench.blocked_seq'));
