"""
Attempt counters (the failed-login throttle's atomic counts) and login keys (one login
name per account); existing accounts get their keys here, oldest account first. Accounts
whose name clashes with an older one's (case twins) keep logging in with their exact
username; the `authgate.W001` system check lists them and says what to do.
"""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


def add_login_keys(apps, schema_editor):
    from authgate.identity import rebuild

    rebuild(apps.get_model(settings.AUTH_USER_MODEL), apps.get_model("authgate", "LoginKey"))


class Migration(migrations.Migration):

    dependencies = [
        ('authgate', '0006_revocation_notify_triggers'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name='AttemptCounter',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('key', models.CharField(max_length=191, unique=True)),
                ('count', models.PositiveIntegerField(default=0)),
                ('limit', models.PositiveIntegerField()),
                ('window_ends', models.DateTimeField(db_index=True)),
                ('label', models.CharField(blank=True, default='', help_text='Who (account or name).', max_length=200)),
                ('ip', models.GenericIPAddressField(blank=True, null=True)),
            ],
            options={
                'ordering': ['-window_ends'],
            },
        ),
        migrations.CreateModel(
            name='LoginKey',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('key', models.CharField(max_length=191, unique=True)),
                ('user', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='authgate_login_keys', to=settings.AUTH_USER_MODEL)),
            ],
        ),
        migrations.CreateModel(
            name='Lockout',
            fields=[
            ],
            options={
                'verbose_name': 'current lockout',
                'ordering': ['-window_ends'],
                'proxy': True,
                'indexes': [],
                'constraints': [],
            },
            bases=('authgate.attemptcounter',),
        ),
        migrations.RunPython(add_login_keys, migrations.RunPython.noop),
    ]
