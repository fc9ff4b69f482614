from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("accounts", "0001_erasure_user")]

    # The sessions table and its registration in one migration: an erasure deletes the user's
    # sessions in its own transaction.
    operations = [
        migrations.CreateModel("UserSession", [
            ("session_key", models.CharField(max_length=40, primary_key=True, serialize=False)),
            ("session_data", models.TextField()),
            ("expire_date", models.DateTimeField(db_index=True)),
            ("user", models.ForeignKey("auth.User", null=True, on_delete=models.CASCADE)),
        ]),
        migrations.RunSQL(
            "SELECT erasure.register_table('user', 'accounts_usersession', 'delete', via => '{user_id}');",
            reverse_sql="SELECT erasure.drop_table('user', 'accounts_usersession');",
        ),
    ]
