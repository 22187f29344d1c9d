"""hide_server_paths: paths under a storage root become relative to it, other absolute paths keep their last part,
and text that is not a file path (API addresses, URLs, ratios, dates, model ids) is left alone."""

from __future__ import annotations

import pytest

from core.api.paths import hide_server_paths


@pytest.fixture
def roots(settings, tmp_path):
    settings.MODEL_STORAGE_DIR = tmp_path / "srv" / "models"
    settings.MEDIA_ROOT = tmp_path / "srv" / "media"
    return settings


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("Base model folder {models}/base/SmolLM2 does not exist.", "Base model folder base/SmolLM2 does not exist."),
        ("{models}/adapters/acme/brand-job3 already exists", "adapters/acme/brand-job3 already exists"),
        ("datasets live under {models}.", "datasets live under MODEL_STORAGE_DIR."),
        ("No such file: '{media}/ingest/2026/x.csv'", "No such file: 'ingest/2026/x.csv'"),
        ("/etc/rmn/mappings/amazon.yaml:12: source.encoding: bad", "amazon.yaml:12: source.encoding: bad"),
        ("No endpoint at /api/v1/nope/.", "No endpoint at /api/v1/nope/."),
        ("next: http://testserver/api/v1/skus/?page=2", "next: http://testserver/api/v1/skus/?page=2"),
        ("clicks/impressions 50/50 2026/01/31 cost / 100", "clicks/impressions 50/50 2026/01/31 cost / 100"),
        ("HuggingFaceTB/SmolLM2-135M-Instruct", "HuggingFaceTB/SmolLM2-135M-Instruct"),
    ],
)
def test_it_hides_server_paths_and_nothing_else(text, shown, roots):
    text = text.format(models=roots.MODEL_STORAGE_DIR, media=roots.MEDIA_ROOT)
    assert hide_server_paths(text) == shown
