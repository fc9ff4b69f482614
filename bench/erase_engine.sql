-- One erasure by pg_erasure: the next customer of the shuffled queue.
SELECT erasure.anonymize_customer(q.customer_id)
  FROM bench.single_queue q
 WHERE q.seq = (SELECT nextval('bench.single_seq'));
