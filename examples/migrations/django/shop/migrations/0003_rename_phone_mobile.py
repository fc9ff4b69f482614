from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("shop", "0002_customer_phone")]

    # No SQL: the DDL watch renames the column's policy with it, both ways.
    operations = [migrations.RenameField("Customer", "phone", "mobile")]
