from __future__ import annotations

from django import forms

from harmonization.selectors import mapping_choices

MAX_UPLOAD_BYTES = 2 * 1024**3


class UploadForm(forms.Form):
    file = forms.FileField(
        label="Export file", help_text="CSV, TSV, JSONL, JSON or Parquet, optionally gzipped, as the retailer sent it."
    )
    mapping = forms.ChoiceField(label="Retailer layout", help_text="The mapping names the retailer the rows belong to.")

    def __init__(self, *args, tenant, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["mapping"].choices = [("", "Choose a layout…"), *mapping_choices(tenant=tenant)]

    def clean_file(self):
        upload = self.cleaned_data["file"]
        if upload.size > MAX_UPLOAD_BYTES:
            raise forms.ValidationError(f"{upload.name} is larger than 2 GiB; use the harmonize command instead.")
        return upload
