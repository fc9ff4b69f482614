from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("auth", "0012_alter_user_first_name_max_length"),
        ("admin", "0003_logentry_add_action_flag_choices"),
        ("sessions", "0001_initial"),
    ]

    # Django's own users as a second subject. An erased user is inactive, with no usable
    # password: Django refuses any session of theirs that is left.
    operations = [
        migrations.RunSQL(
            """
            SELECT erasure.register_subject('user', 'auth_user', summary_columns => '{username,email}');
            SELECT erasure.set_policy('auth_user', 'password', 'placeholder', '{"template": "!erased-{uuid}"}');
            SELECT erasure.set_policy('auth_user', 'username', 'placeholder', '{"template": "erased-{key}"}');
            SELECT erasure.set_policy('auth_user', 'first_name', 'blank');
            SELECT erasure.set_policy('auth_user', 'last_name', 'blank');
            SELECT erasure.set_policy('auth_user', 'email', 'blank');
            SELECT erasure.set_policy('auth_user', 'last_login', 'null');
            SELECT erasure.set_policy('auth_user', 'is_active', 'constant', '{"value": false}');
            SELECT erasure.set_policy('auth_user', 'is_staff', 'constant', '{"value": false}');
            SELECT erasure.set_policy('auth_user', 'is_superuser', 'constant', '{"value": false}');
            SELECT erasure.set_policy('auth_user', 'date_joined', 'keep');
            """,
            reverse_sql="SELECT erasure.drop_subject('user', cascade => true);",
        ),
    ]
