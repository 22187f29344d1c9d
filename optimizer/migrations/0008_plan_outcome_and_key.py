import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("governance", "0003_adjudicator_role"),
        ("optimizer", "0007_uplift_study"),
    ]

    operations = [
        migrations.AddField(
            model_name="allocationplan",
            name="created_by_key",
            field=models.ForeignKey(
                blank=True,
                help_text="The API key that created it (created_by is then empty).",
                null=True,
                on_delete=django.db.models.deletion.SET_NULL,
                related_name="+",
                to="governance.apikey",
            ),
        ),
        migrations.AddField(
            model_name="allocationplan",
            name="outcome",
            field=models.CharField(
                blank=True,
                choices=[
                    ("ready", "Ready"),
                    ("ready_with_warnings", "Ready, with warnings"),
                    ("cannot_meet", "Does not meet the request"),
                    ("failed", "Failed"),
                ],
                help_text="What the finished plan amounts to.",
                max_length=20,
            ),
        ),
    ]
