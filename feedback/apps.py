from django.apps import AppConfig


class FeedbackConfig(AppConfig):
    name = "feedback"

    def ready(self):
        from core.pages import slot_fill
        from feedback.views.plans import plan_review_panel

        # Marketers' decisions on a plan version, on optimizer's plan page (which cannot import feedback).
        slot_fill("optimizer.plan_review", plan_review_panel)
