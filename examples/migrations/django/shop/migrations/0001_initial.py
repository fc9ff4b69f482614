from django.db import migrations, models


class Migration(migrations.Migration):
    initial = True
    dependencies = []

    operations = [
        migrations.CreateModel("Customer", [
            ("id", models.BigAutoField(primary_key=True)),
            ("name", models.CharField(max_length=200)),
            ("email", models.EmailField(unique=True)),
            ("birth_date", models.DateField(null=True)),
            ("state", models.CharField(max_length=2)),
        ]),
        migrations.CreateModel("Order", [
            ("id", models.BigAutoField(primary_key=True)),
            ("customer", models.ForeignKey("shop.Customer", on_delete=models.PROTECT)),
            ("shipping_name", models.CharField(max_length=200)),
            ("placed_at", models.DateTimeField()),
        ]),
        migrations.CreateModel("Invoice", [
            ("id", models.BigAutoField(primary_key=True)),
            ("customer", models.ForeignKey("shop.Customer", on_delete=models.PROTECT)),
            ("number", models.CharField(max_length=20, unique=True)),
            ("total", models.DecimalField(max_digits=10, decimal_places=2)),
            ("paid", models.BooleanField(default=False)),
        ]),
        # Django adds the foreign keys when the migration ends, after this: name via.
        migrations.RunSQL(
            """
            SELECT erasure.register_subject('customer', 'shop_customer');
            SELECT erasure.register_table('customer', 'shop_order', via => '{customer_id}');
            SELECT erasure.register_table('customer', 'shop_invoice', 'retain', via => '{customer_id}',
                                          reason => 'bookkeeping law: invoices are kept unchanged');
            SELECT erasure.set_policy('shop_customer', 'name', 'constant', '{"value": "Xxxx"}');
            SELECT erasure.set_policy('shop_customer', 'email', 'placeholder',
                                      '{"template": "erased-{key}@invalid.example"}');
            SELECT erasure.set_policy('shop_customer', 'birth_date', 'year_only');
            SELECT erasure.set_policy('shop_customer', 'state', 'keep');
            SELECT erasure.set_policy('shop_order', 'id', 'keep');
            SELECT erasure.set_policy('shop_order', 'shipping_name', 'constant', '{"value": "Unknown customer"}');
            SELECT erasure.set_policy('shop_order', 'placed_at', 'keep');
            SELECT erasure.register_blocker('customer', 'unpaid_invoice',
              $$SELECT number FROM public.shop_invoice WHERE customer_id = $1 AND NOT paid$$,
              'an invoice is not paid');
            """,
            reverse_sql="""
            SELECT erasure.drop_blocker('customer', 'unpaid_invoice');
            SELECT erasure.drop_table('customer', 'shop_invoice', cascade => true);
            SELECT erasure.drop_table('customer', 'shop_order', cascade => true);
            SELECT erasure.drop_subject('customer', cascade => true);
            """,
        ),
    ]
