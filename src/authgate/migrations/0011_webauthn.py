"""WebAuthn: registered security keys and passkeys, and their single-use challenges."""

import django.db.models.deletion
import django.utils.timezone
import uuid
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('authgate', '0010_activity_events_plural'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name='WebAuthnChallenge',
            fields=[
                ('id', models.UUIDField(default=uuid.uuid4, editable=False, primary_key=True, serialize=False)),
                ('digest', models.CharField(editable=False, max_length=64, unique=True)),
                ('purpose', models.CharField(choices=[('register', 'registration'), ('login', 'passwordless login'), ('factor', 'second factor')], max_length=16)),
                ('rp_id', models.CharField(max_length=253)),
                ('user_handle', models.CharField(blank=True, default='', max_length=128)),
                ('created_at', models.DateTimeField(default=django.utils.timezone.now)),
                ('expires_at', models.DateTimeField(db_index=True)),
                ('user', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.CASCADE, related_name='+', to=settings.AUTH_USER_MODEL)),
            ],
            options={
                'verbose_name': 'WebAuthn challenge',
            },
        ),
        migrations.CreateModel(
            name='WebAuthnCredential',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('name', models.CharField(blank=True, default='', max_length=100)),
                ('credential_id', models.CharField(help_text='base64url of the raw credential id.', max_length=1400, unique=True)),
                ('public_key', models.BinaryField(help_text='COSE public key.')),
                ('sign_count', models.BigIntegerField(default=0)),
                ('user_handle', models.CharField(editable=False, max_length=128)),
                ('transports', models.JSONField(blank=True, default=list)),
                ('discoverable', models.BooleanField(blank=True, help_text='credProps.rk, when the browser told.', null=True)),
                ('backup_eligible', models.BooleanField(default=False, help_text='A synced (multi-device) passkey.')),
                ('backed_up', models.BooleanField(default=False)),
                ('aaguid', models.CharField(blank=True, default='', max_length=36)),
                ('created_at', models.DateTimeField(default=django.utils.timezone.now)),
                ('last_used_at', models.DateTimeField(blank=True, null=True)),
                ('user', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='authgate_webauthn_credentials', to=settings.AUTH_USER_MODEL)),
            ],
            options={
                'verbose_name': 'WebAuthn credential',
            },
        ),
    ]
