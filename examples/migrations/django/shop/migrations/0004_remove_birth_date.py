from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("shop", "0003_rename_phone_mobile")]

    # Forward, the DDL watch drops the policy with the column; backward, the column comes back
    # first (operations run in reverse order), then its policy.
    operations = [
        migrations.RunSQL(
            migrations.RunSQL.noop,
            reverse_sql="SELECT erasure.set_policy('shop_customer', 'birth_date', 'year_only');",
        ),
        migrations.RemoveField("Customer", "birth_date"),
    ]
