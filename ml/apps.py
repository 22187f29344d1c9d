from django.apps import AppConfig


class MlConfig(AppConfig):
    name = "ml"

    def ready(self):
        from core.pages import slot_fill
        from governance.privacy import runtime_text_guard
        from harmonization.suggest import suggesters
        from ml.engine.runtime import set_text_guard
        from ml.inference import harmonization_ensemble, harmonization_suggester
        from ml.views import plan_form_reader

        # The harmonization task adapter behind the mapping suggesters' seam (ml/suggester.py).
        suggesters.setdefault("lora", harmonization_suggester)
        suggesters.setdefault("rules+lora", harmonization_ensemble)
        # The budgeting task adapter fills the plan form from the marketer's words (ml.views.plan_read).
        slot_fill("optimizer.plan_form", plan_form_reader)
        # No path reaches the model with personal data, nor gets it back from the model (docs/governance.md).
        set_text_guard(runtime_text_guard)
