from django.db import migrations


def backfill(apps, schema_editor):
    """Outcomes of the plans finished before they were stored (from their results, as optimizer.engine.notices
    reads a result without notices), and the API key of plans an API key created (from the audit log)."""
    from optimizer.engine.notices import Notice, legacy_notices, objective_period_days, outcome, period_notice

    Plan = apps.get_model("optimizer", "AllocationPlan")
    AuditLog = apps.get_model("governance", "AuditLog")
    for plan in Plan.objects.filter(status__in=("succeeded", "failed")).iterator():
        if plan.status == "failed":
            plan.outcome = "failed"
        else:
            result = plan.result or {}
            stored = result.get("notices")
            notices = [Notice.from_dict(n) for n in stored] if stored is not None else legacy_notices(result)
            period = period_notice(objective_days=objective_period_days(plan.name), plan_days=plan.period_days)
            plan.outcome = outcome([*notices, *([period] if period else [])])
        plan.save(update_fields=["outcome"])
    created = AuditLog.objects.filter(
        action__in=("allocation_plan.create", "allocation_plan.version"),
        object_type="optimizer.AllocationPlan",
        actor_api_key__isnull=False,
    )
    for object_id, key_id in created.values_list("object_id", "actor_api_key_id"):
        if object_id.isdigit():
            Plan.objects.filter(pk=int(object_id), created_by__isnull=True).update(created_by_key_id=key_id)


class Migration(migrations.Migration):
    # Apart from 0008: on PostgreSQL the new foreign key's deferred index cannot be created in the transaction that
    # also updated the rows ("pending trigger events").
    dependencies = [("optimizer", "0008_plan_outcome_and_key")]

    operations = [migrations.RunPython(backfill, migrations.RunPython.noop)]
