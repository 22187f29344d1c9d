from django import forms
from django.contrib import admin

from harmonization.models import FXRate, IngestBatch, Mapping


@admin.register(FXRate)
class FXRateAdmin(admin.ModelAdmin):
    list_display = ["date", "currency", "quote_currency", "rate", "source"]
    list_filter = ["currency", "quote_currency", "source"]
    search_fields = ["currency", "quote_currency", "source"]
    date_hierarchy = "date"


class MappingAdminForm(forms.ModelForm):
    class Meta:
        model = Mapping
        fields = ["name", "tenant", "retailer", "yaml_text"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["yaml_text"].strip = False  # stored exactly as written, so error line numbers stay right

    def clean_yaml_text(self):
        from harmonization.engine import MappingError, load_mapping

        text = self.cleaned_data["yaml_text"]
        try:
            load_mapping(text, origin=self.cleaned_data.get("name") or "mapping")
        except MappingError as exc:
            raise forms.ValidationError(str(exc)) from None
        return text


@admin.register(Mapping)
class MappingAdmin(admin.ModelAdmin):
    form = MappingAdminForm
    list_display = ["name", "retailer", "tenant", "updated_at"]
    list_filter = ["retailer", "tenant"]
    search_fields = ["name", "yaml_text"]
    readonly_fields = ["created_by", "created_at", "updated_at"]


@admin.register(IngestBatch)
class IngestBatchAdmin(admin.ModelAdmin):
    list_display = [
        "id",
        "tenant",
        "retailer",
        "source",
        "status",
        "rows_read",
        "rows_loaded",
        "rows_quarantined",
        "created_at",
    ]
    list_filter = ["status", "tenant", "retailer"]
    search_fields = ["source", "mapping_name"]
    date_hierarchy = "created_at"

    def get_readonly_fields(self, request, obj=None):
        # A batch is a record of what happened; the facts point at it. Nothing on it is edited by hand.
        return [f.name for f in self.model._meta.fields]

    def has_add_permission(self, request):
        return False
