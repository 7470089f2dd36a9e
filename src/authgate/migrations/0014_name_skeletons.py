"""
Name skeletons (usernames that look alike, Unicode TR39): existing accounts get the rows
of their username's skeletons here, oldest account first. An account whose name looks like
an older one's gets none and keeps logging in; only new names are refused.
"""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


def add_name_skeletons(apps, schema_editor):
    from authgate.identity import rebuild_skeletons

    rebuild_skeletons(apps.get_model(settings.AUTH_USER_MODEL), apps.get_model("authgate", "NameSkeleton"))


class Migration(migrations.Migration):
    dependencies = [
        ("authgate", "0013_pending_email"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name="NameSkeleton",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("skeleton", models.CharField(max_length=191, unique=True)),
                (
                    "user",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="authgate_skeletons",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
            ],
        ),
        migrations.RunPython(add_name_skeletons, migrations.RunPython.noop),
    ]
