"""Saving a mapping refuses what every ingest would fail on (docs/mapping_guide.md): nothing is stored."""

from __future__ import annotations

import pytest

from core.errors import DomainError
from harmonization.models import Mapping
from harmonization.services import mapping_save
from harmonization.tests.engine.test_spec import broken


@pytest.mark.parametrize(
    ("old", "new", "key"),
    [
        ("  format: csv\n", "  format: csv\n  encoding: zlib_codec\n", "source.encoding"),
        ("  window_days: 14", "  window_days: 1000000000000000000000000000000", "attribution.window_days"),
    ],
)
def test_saving_refuses_an_encoding_or_window_that_would_fail_every_ingest(old, new, key, tenants, retailers):
    with pytest.raises(DomainError) as caught:
        mapping_save(yaml_text=broken(old, new), tenant=tenants["acme"], name="walmart-items")
    assert caught.value.field == "yaml_text" and key in caught.value.message
    assert not Mapping.objects.exists()
