SELECT erasure.drop_blocker('customer', 'unpaid_invoice');
SELECT erasure.drop_table('customer', 'shop_invoice', cascade => true);
SELECT erasure.drop_table('customer', 'shop_order', cascade => true);
SELECT erasure.drop_subject('customer', cascade => true);

DROP TABLE shop_invoice, shop_order, shop_customer;
