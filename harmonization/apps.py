from django.apps import AppConfig


class HarmonizationConfig(AppConfig):
    name = "harmonization"
