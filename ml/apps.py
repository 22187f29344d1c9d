from django.apps import AppConfig


class MlConfig(AppConfig):
    name = "ml"

    def ready(self):
        from harmonization.suggest import suggesters
        from ml.inference import harmonization_ensemble, harmonization_suggester

        # The harmonization task adapter behind the mapping suggesters' seam (ml/suggester.py).
        suggesters.setdefault("lora", harmonization_suggester)
        suggesters.setdefault("rules+lora", harmonization_ensemble)
