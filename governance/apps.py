from django.apps import AppConfig


class GovernanceConfig(AppConfig):
    name = "governance"
    verbose_name = "Governance: tenants, access and audit"

    def ready(self):
        from governance.pii.logging import install_record_factory

        # settings.LOGGING filters the site's handlers; this covers those that libraries add to their own loggers
        install_record_factory()
