from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("shop", "0001_initial")]

    operations = [
        migrations.AddField("Customer", "phone", models.CharField(max_length=30, null=True)),
        migrations.RunSQL(
            "SELECT erasure.set_policy('shop_customer', 'phone', 'null');",
            reverse_sql="SELECT erasure.drop_policy('shop_customer', 'phone');",
        ),
    ]
