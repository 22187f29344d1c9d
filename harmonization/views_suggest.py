"""Mapping suggestion page: upload an export nobody has mapped, review the suggested fields and YAML, save it."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render

from campaigns.models import Retailer
from core.errors import DomainError
from core.forms import form_error
from governance.access import Capability, tenant_page
from governance.privacy import pii_scrub_text
from governance.selectors import tenant_limits
from harmonization.engine.spec import MAX_MAPPING_CHARS
from harmonization.services import mapping_save
from harmonization.suggest import (
    SampleError,
    Suggestion,
    get_suggester,
    read_sample,
    sample_from_bytes,
    suggestion_to_yaml,
)
from harmonization.suggest.reading import head_size
from harmonization.suggest.rules import REVIEW_BELOW
from harmonization.suggest.yaml_writer import slug

MAX_PARQUET_IN_MEMORY = 256 * 1024**2  # Parquet keeps its schema at the end: the whole file is needed


class SuggestForm(forms.Form):
    file = forms.FileField(label="Export file", help_text="CSV, TSV, JSONL, JSON or Parquet, optionally gzipped.")
    retailer = forms.ModelChoiceField(
        queryset=Retailer.objects.order_by("name"), to_field_name="code", label="Retailer", empty_label="Choose…"
    )
    name = forms.SlugField(label="Mapping name", required=False, help_text="Default: from the file name.")


class SaveMappingForm(forms.Form):
    name = forms.SlugField(label="Mapping name", max_length=100)
    yaml_text = forms.CharField(
        label="Mapping (text)", strip=False, max_length=MAX_MAPPING_CHARS, widget=forms.Textarea(attrs={"rows": 36})
    )


def _sample_from_upload(upload, *, max_columns: int | None = None, limit_note: str = ""):
    head = upload.read(4)
    upload.seek(0)
    if head == b"PAR1":
        if hasattr(upload, "temporary_file_path"):
            return read_sample(upload.temporary_file_path(), name=upload.name)
        if upload.size > MAX_PARQUET_IN_MEMORY:
            raise SampleError(f"{upload.name}: Parquet files this large: use `manage.py suggest_mapping` instead")
        return sample_from_bytes(upload.read(), upload.name, truncated=False)
    data = upload.read(head_size(head))
    return sample_from_bytes(data, upload.name, truncated=upload.size > len(data), max_columns=max_columns,
                             limit_note=limit_note)  # fmt: skip


def _field_rows(suggestion: Suggestion) -> list[dict]:
    rows = []
    for f, fs in suggestion.fields.items():
        if fs.source is None and fs.expr is None and fs.constant is None and not fs.alternatives:
            continue
        rows.append(
            {
                "field": f,
                "source": fs.source,
                "expr": fs.expr,
                "constant": fs.constant,
                "unit": fs.unit,
                "confidence": fs.confidence,
                "percent": round(fs.confidence * 100),
                "review": fs.confidence < REVIEW_BELOW,
                "reasons": fs.reasons,
                "alternatives": fs.alternatives,
            }
        )
    return rows


@tenant_page(Capability.EDIT_DATA)
def mapping_suggest(request: HttpRequest, *, access) -> HttpResponse:
    form = SuggestForm()
    save_form = None
    suggestion = None
    status = 200
    if request.method == "POST" and request.POST.get("action") == "save":
        save_form = SaveMappingForm(request.POST)
        if save_form.is_valid():
            try:
                mapping = mapping_save(
                    yaml_text=save_form.cleaned_data["yaml_text"],
                    tenant=access.tenant,
                    name=save_form.cleaned_data["name"],
                    user=request.user,
                )
            except DomainError as exc:
                form_error(save_form, exc)
            else:
                messages.success(request, f"Saved mapping {mapping.name} for {mapping.retailer.name}.")
                return redirect("mapping_suggest")
        status = 400
    elif request.method == "POST":
        form = SuggestForm(request.POST, request.FILES)
        if form.is_valid():
            upload = form.cleaned_data["file"]
            # the file's name goes into the suggested mapping (a comment, its default name), which may be saved
            upload.name = pii_scrub_text(text=upload.name, source="harmonization.suggest", tenant=access.tenant,
                                         user=request.user)  # fmt: skip
            limits = tenant_limits(access.tenant)  # a header wider than the tenant may import is refused at once
            try:
                sample = _sample_from_upload(upload, max_columns=limits.import_columns,
                                             limit_note=limits.why("import_columns"))  # fmt: skip
            except SampleError as exc:
                form.add_error("file", str(exc))
            else:
                suggestion = get_suggester().suggest(sample)
                name = form.cleaned_data["name"] or slug(upload.name.split(".")[0])
                text = suggestion_to_yaml(suggestion, retailer=form.cleaned_data["retailer"].code, name=name)
                save_form = SaveMappingForm(initial={"name": slug(name), "yaml_text": text})
        if form.errors:
            status = 400
    context = {
        "form": form,
        "save_form": save_form,
        "suggestion": suggestion,
        "rows": _field_rows(suggestion) if suggestion else [],
        "review_below": REVIEW_BELOW,
    }
    return render(request, "harmonization/suggest.html", context, status=status)
