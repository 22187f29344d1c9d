"""Data import pages: upload a retailer export, watch it load, read its quality report."""

from __future__ import annotations

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.utils.cache import patch_vary_headers
from django.views.decorators.http import require_POST

from core.errors import DomainError
from core.forms import form_error
from core.pages import slot_context
from governance.access import Capability, tenant_page
from harmonization.downloads import safe_csv_lines, spreadsheet_safe
from harmonization.forms import UploadForm
from harmonization.models import IngestBatch
from harmonization.selectors import batch_get, batch_list
from harmonization.services import batch_can_rerun, batch_create_from_upload, ingest_batch_rerun, retention_days

POLL_SECONDS = 1
__all__ = ["spreadsheet_safe"]  # the download's cell escaping lives in harmonization.downloads


@tenant_page()
def batch_list_view(request: HttpRequest, *, access) -> HttpResponse:
    can_upload = access.can(Capability.EDIT_DATA)
    form = None
    if request.method == "POST":
        access.require(Capability.EDIT_DATA)
        form = UploadForm(request.POST, request.FILES, tenant=access.tenant)
        if form.is_valid():
            try:
                batch = batch_create_from_upload(
                    tenant=access.tenant,
                    mapping_name=form.cleaned_data["mapping"],
                    upload=form.cleaned_data["file"],
                    user=request.user,
                )
            except DomainError as exc:
                form_error(form, exc)
            else:
                return redirect("import_detail", pk=batch.pk)
    elif can_upload:
        form = UploadForm(tenant=access.tenant)
    page = Paginator(batch_list(tenant=access.tenant), 50).get_page(request.GET.get("page"))
    status = 400 if form is not None and form.errors else 200
    context = {"form": form, "page": page, **slot_context("harmonization.import_page", access=access)}
    return render(request, "harmonization/batch_list.html", context, status=status)


def _batch_or_404(access, pk: int) -> IngestBatch:
    try:
        return batch_get(tenant=access.tenant, pk=pk)
    except IngestBatch.DoesNotExist:
        raise Http404("No such import.") from None


@tenant_page()
def batch_detail(request: HttpRequest, pk: int, *, access) -> HttpResponse:
    batch = _batch_or_404(access, pk)
    context = {
        "batch": batch,
        "report": _report_view(batch.report or {}),
        "is_active": batch.status in (IngestBatch.Status.PENDING, IngestBatch.Status.RUNNING),
        "poll_seconds": POLL_SECONDS,
        "progress_pct": round(batch.progress * 100, 1),
        "currency": access.tenant.reporting_currency,
        "can_rerun": access.can(Capability.EDIT_DATA) and batch_can_rerun(batch),
        "retention_days": retention_days(),
    }
    template = "harmonization/batch_detail.html"
    response = render(request, f"{template}#batch-status" if request.htmx else template, context)
    patch_vary_headers(response, ["HX-Request"])
    return response


@tenant_page(Capability.EDIT_DATA)
@require_POST
def batch_rerun_view(request: HttpRequest, pk: int, *, access) -> HttpResponse:
    batch = _batch_or_404(access, pk)
    try:
        ingest_batch_rerun(batch=batch, user=request.user)
    except DomainError as exc:
        messages.error(request, exc.message)
    return redirect("import_detail", pk=batch.pk)


@tenant_page()
def quarantine_download(request: HttpRequest, pk: int, *, access) -> StreamingHttpResponse:
    """The quarantined rows as CSV, streamed, with formula-looking cells escaped (``spreadsheet_safe``)."""
    batch = _batch_or_404(access, pk)
    if not batch.quarantine_file:
        raise Http404("This import quarantined no rows.")
    try:
        handle = batch.quarantine_file.open("rb")
    except FileNotFoundError:
        raise Http404("The quarantine file is no longer stored.") from None
    response = StreamingHttpResponse(safe_csv_lines(handle), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="import-{batch.pk}-quarantined-rows.csv"'
    return response


def _report_view(report: dict) -> dict:
    """The stored report reshaped for the template (lists of rows instead of nested dicts)."""
    if not report:
        return {}
    reasons = sorted((report.get("quarantine_reasons") or {}).items(), key=lambda kv: (-kv[1], kv[0]))
    enums = [
        {
            "field": field,
            "mapped": info.get("mapped", 0),
            "unknown": info.get("unknown", 0),
            "unknown_values": sorted((info.get("unknown_values") or {}).items(), key=lambda kv: -kv[1])[:10],
        }
        for field, info in sorted((report.get("enum_coverage") or {}).items())
    ]
    reconciliation = [
        {"currency": currency, **values} for currency, values in sorted((report.get("reconciliation") or {}).items())
    ]
    join_rate = report.get("sku_join_rate")
    return {
        **report,
        "reasons": reasons,
        "enums": enums,
        "reconciliation_rows": reconciliation,
        "sku_join_pct": None if join_rate is None else join_rate * 100,
    }
