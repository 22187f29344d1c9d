"""The suggest page on files that only look like exports: each is an error on the file field (a 400 page), never a
500, and reading one long line stops after a bounded number of bytes."""

from __future__ import annotations

import gzip
import os

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import override_settings
from django.urls import reverse

from harmonization.suggest import reading
from harmonization.suggest.reading import SampleError, read_sample, sample_from_bytes
from harmonization.views_suggest import _sample_from_upload

with_suggest_url = override_settings(ROOT_URLCONF="harmonization.tests.urls_suggest")

UNREADABLE = [
    ("fake.parquet", b"PAR1" + b"x" * 1000, "not a readable Parquet file"),
    ("tiny.parquet", b"PAR1", "not a readable Parquet file"),
    ("fake.parquet.gz", gzip.compress(b"PAR1" + b"x" * 100), "not a readable Parquet file"),
    ("broken.csv.gz", b"\x1f\x8b" + b"garbage" * 100, "not a valid gzip file"),
    ("deep.json", b"[" * 100_000 + b"]" * 100_000, "nested too deeply"),
    ("deep.jsonl", b'{"a":' * 5000 + b"1" + b"}" * 5000 + b'\n{"a": 1}\n', "nested too deeply"),
    ("long-field.csv", b'a,b\n"' + b"x" * 200_000 + b'",1\n', "not readable as CSV"),
    ("one-line.csv.gz", gzip.compress(b"a" * (4 * 1024 * 1024)), "no line break in the first 256 KiB"),
]


@with_suggest_url
@pytest.mark.parametrize(("name", "data", "says"), UNREADABLE, ids=[case[0] for case in UNREADABLE])
def test_an_unreadable_file_is_an_error_on_the_file_field(name, data, says, client, personas, retailers):
    client.force_login(personas["marketer"])
    upload = SimpleUploadedFile(name, data)
    response = client.post(reverse("mapping_suggest"), {"action": "suggest", "file": upload, "retailer": "amazon"})
    assert response.status_code == 400
    errors = " ".join(response.context["form"].errors["file"])
    assert name in errors and says in errors


def test_the_command_reader_names_the_file_not_its_folder(tmp_path):
    path = tmp_path / "fake.parquet"
    path.write_bytes(b"PAR1" + b"x" * 100)
    with pytest.raises(SampleError) as caught:
        read_sample(path)
    assert "fake.parquet" in str(caught.value) and str(tmp_path) not in str(caught.value)


class _CountingUpload(SimpleUploadedFile):
    """An upload that counts the bytes the page reads from it."""

    bytes_read = 0

    def read(self, *args, **kwargs):
        data = super().read(*args, **kwargs)
        self.bytes_read += len(data)
        return data


def test_reading_a_one_line_gzip_stops_after_a_bounded_number_of_bytes(monkeypatch):
    # A 1 GiB one-line export, scaled down: a limit of 1 KiB of text and a line of 1 MiB of incompressible text.
    monkeypatch.setattr(reading, "HEAD_BYTES", 1024)
    line = os.urandom(512 * 1024).hex().encode()
    data = gzip.compress(line)
    assert len(data) > 100 * 1024
    upload = _CountingUpload("export.csv.gz", data)
    with pytest.raises(SampleError, match="no line break in the first 1 KiB"):
        _sample_from_upload(upload)
    assert upload.bytes_read <= 4 + 1024 * reading.GZIP_RATIO  # the 4-byte peek, then the bounded head
    # Decompressing even the whole file gives no more than the limit of text to look at.
    with pytest.raises(SampleError, match="no line break in the first 1 KiB"):
        sample_from_bytes(data, "export.csv.gz")
