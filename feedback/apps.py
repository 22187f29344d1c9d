from django.apps import AppConfig
from django.db import transaction


def _adapter_saved(sender, instance, created=False, update_fields=None, **kwargs):
    # A promotion or a rollback (ml.services saves status with promoted_at), or a version created active, writes each
    # composing tenant's latest brief again with it. Any other save of an active version (an admin re-save, a full
    # save) is not a new version in service and must not spend generations.
    promoted = created or (update_fields is not None and "promoted_at" in update_fields)
    if instance.status == "active" and promoted:
        from feedback.services.creatives import creative_briefs_on_promotion

        transaction.on_commit(lambda: creative_briefs_on_promotion(adapter=instance))


class FeedbackConfig(AppConfig):
    name = "feedback"

    def ready(self):
        from django.db.models.signals import post_save

        from core.pages import slot_fill
        from feedback.views.plans import plan_review_panel
        from ml.models import Adapter

        post_save.connect(_adapter_saved, sender=Adapter, dispatch_uid="feedback.creatives_on_promotion")
        # Marketers' decisions on a plan version, on optimizer's plan page (which cannot import feedback).
        slot_fill("optimizer.plan_review", plan_review_panel)
