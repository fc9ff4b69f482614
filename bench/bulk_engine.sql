-- One batch erased by pg_erasure in one transaction.
SELECT count(*)
  FROM erasure.anonymize_many('customer',
         ARRAY(SELECT q.customer_id FROM bench.bulk_queue q WHERE q.batch = (SELECT nextval('bench.bulk_seq'))));
