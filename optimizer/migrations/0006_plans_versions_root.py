"""Plan versions: every plan created before versions is the first version of its own lineage (root = itself)."""

from django.db import migrations
from django.db.models import F


def root_is_self(apps, schema_editor):
    AllocationPlan = apps.get_model("optimizer", "AllocationPlan")
    AllocationPlan.objects.filter(root__isnull=True).update(root_id=F("id"))


class Migration(migrations.Migration):
    dependencies = [("optimizer", "0005_plan_versions_and_review")]

    operations = [migrations.RunPython(root_is_self, migrations.RunPython.noop)]
