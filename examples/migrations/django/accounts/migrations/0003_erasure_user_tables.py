from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("accounts", "0002_user_session")]

    # What erasure.check('user') found: tables with a foreign key to auth_user. The admin log
    # also names users it changed by content type and object id, without a foreign key.
    operations = [
        migrations.RunSQL(
            """
            SELECT erasure.register_table('user', 'auth_user_groups', 'delete');
            SELECT erasure.register_table('user', 'auth_user_user_permissions', 'delete');
            SELECT erasure.register_table('user', 'django_admin_log', 'delete', via => '{}',
              filter => $$user_id = $1 OR (object_id = $1::text AND content_type_id =
                (SELECT id FROM public.django_content_type WHERE app_label = 'auth' AND model = 'user'))$$);
            """,
            reverse_sql="""
            SELECT erasure.drop_table('user', 'django_admin_log');
            SELECT erasure.drop_table('user', 'auth_user_user_permissions');
            SELECT erasure.drop_table('user', 'auth_user_groups');
            """,
        ),
    ]
