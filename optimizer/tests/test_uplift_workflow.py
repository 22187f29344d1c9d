"""The uplift workflow: an exposure test's file in (strict reader), learners against a constant effect, the segment
the truth says, saved per tenant, through the service, the worker's task, the API, the pages and the command."""

from __future__ import annotations

import json
import re
from html import unescape

import numpy as np
import pandas as pd
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command
from django.urls import reverse

from core.errors import DomainError
from optimizer import tasks
from optimizer.engine.errors import OptimizerInputError
from optimizer.engine.files import exposure_parts, read_exposure_test
from optimizer.engine.uplift import uplift_report
from optimizer.models import UpliftStudy
from optimizer.services.uplift import uplift_study_create, uplift_study_fit
from rmn_site.tests.api_support import API, assert_error, client_for

# The truth of the generated test: exposure adds this much to a loyal shopper's sales, this to a lapsed one's, and
# nothing to a new one's; region and basket size shift sales but not the effect.
TRUE_EFFECT = {"loyal": 4.0, "lapsed": 1.0, "new": 0.0}


def exposure_test(n: int = 3000, seed: int = 3) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    audience = rng.choice(list(TRUE_EFFECT), n)
    region = rng.choice(["north", "south"], n)
    basket = rng.gamma(2.0, 10.0, n).round(2)
    treatment = rng.integers(0, 2, n)
    effect = np.array([TRUE_EFFECT[a] for a in audience])
    outcome = 5 + 0.2 * basket + 1.5 * (region == "north") + treatment * effect + rng.normal(0, 3, n)
    return pd.DataFrame(
        {
            "unit_id": [f"u{i}" for i in range(n)],
            "audience": audience,
            "region": region,
            "basket": basket,
            "treatment": treatment,
            "outcome": outcome.round(3),
        }
    )


def csv_bytes(frame: pd.DataFrame) -> bytes:
    return frame.to_csv(index=False).encode()


def upload(frame: pd.DataFrame | str, name: str = "U.csv") -> SimpleUploadedFile:
    raw = frame.encode() if isinstance(frame, str) else csv_bytes(frame)
    return SimpleUploadedFile(name, raw, content_type="text/csv")


def visible(html: str) -> str:
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", html)).split())


@pytest.fixture(scope="module")
def generated() -> pd.DataFrame:
    return exposure_test()


@pytest.fixture
def sent(monkeypatch):
    queued: list[int] = []
    monkeypatch.setattr(tasks.uplift_fit, "apply_async", lambda args, task_id: queued.append(args[0]))
    return queued


# --- the engine: the segment the truth says ---------------------------------------------------------------------


def test_it_ranks_the_segment_with_the_largest_true_effect_first(generated):
    frame = read_exposure_test(csv_bytes(generated), name="U.csv")
    report = uplift_report(*exposure_parts(frame), randomized=True, seed=0)
    assert report["features"] == ["audience", "region", "basket"]
    audience = [s for s in report["segments"] if s["feature"] == "audience"]
    assert [s["label"] for s in audience] == ["audience = loyal", "audience = lapsed", "audience = new"]
    by_label = {s["label"]: s for s in audience}
    loyal, new = by_label["audience = loyal"], by_label["audience = new"]
    assert loyal["verdict"] == "target" and new["verdict"] != "target"
    assert loyal["vs_average"] == "above" and new["vs_average"] == "below"
    assert loyal["interval"][0] <= TRUE_EFFECT["loyal"] <= loyal["interval"][1]
    assert new["interval"][0] <= TRUE_EFFECT["new"] <= new["interval"][1]
    assert report["segments"][0]["label"] == "audience = loyal"  # the best group of all, not only of its feature
    # Effects differ by audience, so a model ranks shoppers better than one effect for everybody does.
    assert report["targeting"] and report["chosen"] in ("t", "x", "dr")
    chosen = report["metrics"][report["chosen"]]
    assert chosen["beats_baseline"] and chosen["qini_interval"][0] > 0
    assert chosen["auuc"] > chosen["auuc_random"] and report["metrics"]["baseline"]["qini"] == 0
    # The chosen model predicts the truth's order too.
    assert loyal["predicted_effect"] > by_label["audience = lapsed"]["predicted_effect"] > new["predicted_effect"]
    truth_ate = np.mean([TRUE_EFFECT[a] for a in generated["audience"]])
    assert report["ate_interval"][0] - 0.3 <= truth_ate <= report["ate_interval"][1] + 0.3
    assert len(report["curve"]["fraction"]) == len(report["curve"]["random"]) == len(report["curve"][report["chosen"]])


# --- the strict reader ------------------------------------------------------------------------------------------

GOOD = "unit_id,audience,basket,treatment,outcome\nu1,loyal,12.5,1,3.2\nu2,new,8,0,1.0\n"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (GOOD.replace("u2,new,8,0,", "u2,new,8,2,"), "U.csv line 3, column treatment: '2' is not 1 (exposed) or 0"),
        (GOOD.replace("1,3.2", "1,lots"), "U.csv line 2, column outcome: 'lots' is not a number"),
        (GOOD.replace("u2,new,8", "u2,,8"), "U.csv line 3, column audience: '' is not a value (it is empty)"),
        (GOOD.replace("u2,", "u1,"), "U.csv line 3, column unit_id: 'u1' is not a new unit_id"),
        (GOOD + "u3,new,8;5,1,2\n", "U.csv line 4, column basket: '8;5' is not a number like the column's other"),
        (GOOD.replace("treatment,", "exposed,"), "U.csv lacks the column treatment"),
        ("unit_id,treatment,outcome\nu1,1,2\n", "U.csv has no feature column"),
        ("unit_id,audience,audience,treatment,outcome\nu1,a,b,1,2\n", "names audience more than once"),
        ("unit_id,audience,treatment,outcome\n", "U.csv has a header but no data lines"),
        ("audience,treatment,outcome\nloyal,1,2,9\n", "U.csv line 2: more values than the header line names"),
        (b"\xff\xfeaudience,treatment,outcome\n", "U.csv is not a readable UTF-8 CSV file"),
    ],
)
def test_the_reader_refuses_a_bad_file_naming_the_line_and_column(text, expected):
    with pytest.raises(OptimizerInputError) as caught:
        read_exposure_test(text if isinstance(text, bytes) else text.encode(), name="U.csv")
    assert expected in caught.value.message


def test_the_reader_types_features_and_refuses_an_id_as_a_category():
    frame = read_exposure_test(GOOD.encode(), name="U.csv")
    assert list(frame.columns) == ["unit_id", "audience", "basket", "treatment", "outcome"]
    assert frame["basket"].dtype == float and frame["audience"].tolist() == ["loyal", "new"]
    assert frame["treatment"].tolist() == [1, 0] and frame["outcome"].tolist() == [3.2, 1.0]
    many = "shopper,treatment,outcome\n" + "".join(f"s{i},{i % 2},1\n" for i in range(60))
    with pytest.raises(OptimizerInputError, match="column shopper: 60 distinct text values"):
        read_exposure_test(many.encode(), name="U.csv")


# --- service and task: stored per tenant, fitted by the worker --------------------------------------------------


def test_a_bad_file_stores_nothing_and_names_the_line(tenants, personas):
    text = csv_bytes(exposure_test(200)).decode().splitlines()
    text[57] = text[57].rsplit(",", 2)[0] + ",yes,1.0"
    with pytest.raises(DomainError, match=r"U.csv line 58, column treatment: 'yes'") as caught:
        uplift_study_create(tenant=tenants["acme"], upload="\n".join(text).encode(), file_name="U.csv")
    assert caught.value.field == "file" and not UpliftStudy.objects.exists()
    few = exposure_test(200).assign(treatment=[1] * 190 + [0] * 10)
    with pytest.raises(DomainError, match="10 control"):
        uplift_study_create(tenant=tenants["acme"], upload=csv_bytes(few), file_name="U.csv")
    with pytest.raises(DomainError, match="unknown 'z'"):
        uplift_study_create(tenant=tenants["acme"], upload=csv_bytes(few), learners=["t", "z"])
    assert not UpliftStudy.objects.exists()


def test_the_worker_fits_a_queued_study_once(tenants, personas, sent, django_capture_on_commit_callbacks):
    frame = exposure_test(600, seed=1)
    with django_capture_on_commit_callbacks(execute=True):
        study = uplift_study_create(
            tenant=tenants["acme"], upload=upload(frame), learners=["t"], randomized=True, user=personas["marketer"]
        )
    assert sent == [study.pk] and study.status == "pending" and study.rows == 600
    assert study.features == ["audience", "region", "basket"]  # unit_id names a line; it is no feature
    fitted = uplift_study_fit(study.pk)
    assert fitted.status == "succeeded" and fitted.error == ""
    assert set(fitted.result["metrics"]) == {"baseline", "t"} and fitted.result["rows"] == 600
    finished_at = fitted.finished_at
    assert uplift_study_fit(study.pk).finished_at == finished_at  # a redelivered message does not fit it again


# --- API -----------------------------------------------------------------------------------------------------------


def test_the_api_takes_a_file_and_serves_the_fitted_study_to_its_tenant_only(
    tenants, personas, sent, django_capture_on_commit_callbacks
):
    marketer = client_for(personas["marketer"])
    with django_capture_on_commit_callbacks(execute=True):
        response = marketer.post(
            f"{API}/uplift-studies/",
            {"file": upload(exposure_test(400, seed=2)), "learners": "t,dr", "randomized": "true", "name": "Spring"},
            format="multipart",
        )
    assert response.status_code == 202, response.content
    body = response.json()
    assert body["status"] == "pending" and body["name"] == "Spring" and body["rows"] == 400
    assert body["options"] == {"learners": ["t", "dr"], "randomized": True, "seed": 0} and "data" not in body
    assert sent == [body["id"]]
    uplift_study_fit(body["id"])
    detail = client_for(personas["reviewer"]).get(f"{API}/uplift-studies/{body['id']}/").json()
    assert detail["status"] == "succeeded" and detail["result"]["chosen"] in ("baseline", "t", "dr")
    assert {s["feature"] for s in detail["result"]["segments"]} == {"audience", "region", "basket"}

    stranger = client_for(personas["stranger"])
    assert stranger.get(f"{API}/uplift-studies/").json()["results"] == []
    assert_error(stranger.get(f"{API}/uplift-studies/{body['id']}/"), 404)
    ids = [row["id"] for row in client_for(personas["owner"]).get(f"{API}/uplift-studies/").json()["results"]]
    assert ids == [body["id"]]


def test_the_api_refuses_a_bad_file_with_its_line_and_a_reviewer_upload(tenants, personas, sent):
    bad = GOOD.replace("1,3.2", "1,lots")
    response = client_for(personas["marketer"]).post(
        f"{API}/uplift-studies/", {"file": upload(bad)}, format="multipart"
    )
    assert_error(response, 400, mentions=("U.csv line 2, column outcome", "'lots'"), field="file")
    response = client_for(personas["marketer"]).post(
        f"{API}/uplift-studies/", {"file": upload(GOOD), "learners": "t,q"}, format="multipart"
    )
    assert_error(response, 400, mentions=("'q'",), field="learners")
    refused = client_for(personas["reviewer"]).post(
        f"{API}/uplift-studies/", {"file": upload(exposure_test(200))}, format="multipart"
    )
    assert_error(refused, 403)
    assert not UpliftStudy.objects.exists() and sent == []


def test_the_schema_documents_the_uplift_and_forecast_endpoints(personas):
    schema = client_for(personas["owner"]).get(f"{API}/schema/", HTTP_ACCEPT="application/json").json()
    assert "multipart/form-data" in schema["paths"]["/api/v1/uplift-studies/"]["post"]["requestBody"]["content"]
    assert "202" in schema["paths"]["/api/v1/uplift-studies/"]["post"]["responses"]
    params = {p["name"] for p in schema["paths"]["/api/v1/sku-forecasts/"]["get"]["parameters"]}
    assert "horizon_days" in params


# --- pages ----------------------------------------------------------------------------------------------------------


def test_a_marketer_uploads_on_the_page_and_reads_who_to_target(client, tenants, personas, sent, generated):
    client.force_login(personas["marketer"])
    page = client.get(reverse("uplift_list"))
    assert page.status_code == 200 and 'enctype="multipart/form-data"' in page.content.decode()
    response = client.post(
        reverse("uplift_list"),
        {"file": upload(generated), "learners": ["t", "x", "dr"], "randomized": "on", "seed": "0"},
    )
    study = UpliftStudy.objects.get()
    assert response.status_code == 302 and response.url == reverse("uplift_detail", args=[study.pk])
    waiting = client.get(response.url).content.decode()
    assert 'hx-trigger="every' in waiting and "Waiting for a worker" in waiting
    uplift_study_fit(study.pk)
    html = client.get(response.url).content.decode()
    best = visible(re.search(r'<ul id="uplift-best">(.*?)</ul>', html, flags=re.S).group(1))
    weakest = visible(re.search(r'<ul id="uplift-weakest">(.*?)</ul>', html, flags=re.S).group(1))
    assert best.startswith("audience = loyal") and "audience = new" not in best
    assert "audience = new" in weakest and "audience = loyal" not in weakest
    assert "<svg" in html and "polyline" in html and "cdn" not in html.lower()
    assert 'data-learner="baseline"' in html and "Same effect for everybody" in html


def test_the_page_puts_a_bad_files_line_beside_the_field(client, personas, sent):
    client.force_login(personas["marketer"])
    response = client.post(reverse("uplift_list"), {"file": upload(GOOD.replace("u2,new,8,0,", "u2,new,8,2,"))})
    assert response.status_code == 400
    assert "U.csv line 3, column treatment: &#x27;2&#x27; is not 1 (exposed) or 0" in response.content.decode()
    assert not UpliftStudy.objects.exists()


def test_reviewers_read_but_do_not_upload_and_strangers_see_nothing(client, tenants, personas, sent):
    study = uplift_study_create(tenant=tenants["acme"], upload=csv_bytes(exposure_test(200)), name="Acme secret test")
    client.force_login(personas["reviewer"])
    listing = client.get(reverse("uplift_list")).content.decode()
    assert "Acme secret test" in listing and "enctype" not in listing
    assert client.get(reverse("uplift_detail", args=[study.pk])).status_code == 200
    assert client.post(reverse("uplift_list"), {"file": upload(exposure_test(200))}).status_code == 403
    client.force_login(personas["stranger"])
    assert "Acme secret test" not in client.get(reverse("uplift_list")).content.decode()
    assert client.get(reverse("uplift_detail", args=[study.pk])).status_code == 404
    assert UpliftStudy.objects.count() == 1


# --- command ---------------------------------------------------------------------------------------------------------


def test_the_command_fits_a_file_writes_json_and_saves_for_a_tenant(tmp_path, tenants, capsys):
    path = tmp_path / "U.csv"
    path.write_bytes(csv_bytes(exposure_test(400, seed=4)))
    out = tmp_path / "uplift.json"
    call_command(
        "uplift", "--file", str(path), "--json", str(out), "--learners", "t", "--randomized", "--tenant", "acme"
    )
    report = json.loads(out.read_text())
    study = UpliftStudy.objects.get(tenant=tenants["acme"])
    assert study.status == "succeeded" and study.result == report and study.task_id == ""
    printed = capsys.readouterr().out
    assert f"Saved uplift study #{study.pk} for acme." in printed and "Average effect of exposure" in printed
    path.write_text(GOOD.replace("1,3.2", "1,lots"))
    with pytest.raises(CommandError, match=r"U\.csv line 2, column outcome"):
        call_command("uplift", "--file", str(path))
    with pytest.raises(CommandError, match="No tenant 'nope'"):
        call_command("uplift", "--file", str(path), "--tenant", "nope")
