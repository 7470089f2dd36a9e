from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("authgate", "0012_security_notifications")]

    operations = [
        migrations.AddField(
            model_name="emailaddress",
            name="pending_email",
            field=models.EmailField(blank=True, default="", max_length=254),
        ),
        migrations.AddField(
            model_name="emailaddress",
            name="pending_since",
            field=models.DateTimeField(blank=True, null=True),
        ),
    ]
