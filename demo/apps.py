from django.apps import AppConfig


class DemoConfig(AppConfig):
    name = "demo"
    verbose_name = "Demo world"

    def ready(self):
        from core.pages import slot_fill
        from demo.views import import_page_samples

        slot_fill("harmonization.import_page", import_page_samples)
