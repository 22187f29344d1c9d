from __future__ import annotations

from django import forms

from harmonization.selectors import mapping_choices


class UploadForm(forms.Form):
    """Shapes only: the tenant's limits on the file (size, header columns) are checked by
    harmonization.services.upload_check, whose error the page puts beside the file."""

    file = forms.FileField(
        label="Export file", help_text="CSV, TSV, JSONL, JSON or Parquet, optionally gzipped, as the retailer sent it."
    )
    mapping = forms.ChoiceField(label="Retailer layout", help_text="The mapping names the retailer the rows belong to.")

    def __init__(self, *args, tenant, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["mapping"].choices = [("", "Choose a layout…"), *mapping_choices(tenant=tenant)]
