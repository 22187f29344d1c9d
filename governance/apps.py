from django.apps import AppConfig


class GovernanceConfig(AppConfig):
    name = "governance"
    verbose_name = "Governance: tenants, access and audit"

    def ready(self):
        from governance.pii.logging import install_record_factory
        from governance.privacy import install_form_error_guard

        # settings.LOGGING filters the site's handlers; this covers those that libraries add to their own loggers
        install_record_factory()
        # a form error may quote the refused value (a choice field does): redacted as it is added, on every form
        install_form_error_guard()
