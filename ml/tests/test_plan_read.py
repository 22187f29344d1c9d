"""An objective in the marketer's words fills the plan form through the budgeting task adapter: the mapping from the
adapter's JSON to the form (caps, exclusions, notes), the page's read / poll / fill cycle, permissions and errors."""

from __future__ import annotations

import re
from html import unescape

import pytest
from django.urls import reverse

from ml.models import AdapterKind, GenerationRequest
from ml.services import adapter_promote, adapter_register
from ml.testing import make_adapter
from optimizer.objective_text import plan_initial

CHANNELS = [
    ("amazon", "Amazon Ads", "sponsored_product"),
    ("amazon", "Amazon Ads", "onsite_display"),
    ("walmart", "Walmart Connect", "sponsored_product"),
    ("criteo", "Criteo", "offsite_display"),
]
PARSED = {
    "budget": 2500000, "period_days": 28, "objective": "incremental_margin", "min_roas": 3.0,
    "roas_basis": "attributed", "retailer_caps": {}, "exclude_retailers": [],
}  # fmt: skip
TEXT = "Allocate $2.5M over 4 weeks to maximize incremental margin with ROAS >= 3"


def visible(html: str) -> str:
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", html)).split())


def test_the_plain_objective_fills_budget_period_objective_and_floor():
    initial, notes = plan_initial(PARSED, CHANNELS, text=TEXT)
    assert initial == {"name": TEXT, "budget": 2500000, "period_days": 28, "objective": "incremental_margin",
                       "min_roas": 3.0, "roas_basis": "attributed"}  # fmt: skip
    assert notes == []


def test_caps_and_exclusions_become_channel_maxima_or_notes():
    parsed = {**PARSED, "period_days": None, "retailer_caps": {"walmart": 400000.0, "amazon": 1e6, "target": 5e4},
              "exclude_retailers": ["criteo", "kroger"]}  # fmt: skip
    initial, notes = plan_initial(parsed, CHANNELS, text=TEXT)
    assert initial["period_days"] == 28
    assert initial["ch2_max"] == 400000 and isinstance(initial["ch2_max"], int)  # Walmart's one channel
    assert initial["ch3_max"] == 0  # Criteo excluded
    assert "ch0_max" not in initial and "ch1_max" not in initial  # Amazon has two placements: a note instead
    assert notes == [
        "The text gives no period: 28 days assumed.",
        "“kroger” is excluded, but this tenant has no history there: nothing to exclude.",
        "A cap of 1,000,000 on Amazon Ads covers its 2 placements: split it across them below.",
        "A cap of 50,000 on “target”, but this tenant has no history there: not applied.",
    ]


@pytest.fixture
def budgeting_adapter(db, settings, tiny_model_dir, tmp_path):
    make_adapter(tiny_model_dir, tmp_path / "adapters" / "task_budgeting", seed=3)
    settings.MODEL_STORAGE_DIR = tmp_path
    settings.BASE_MODEL = str(tiny_model_dir)
    adapter = adapter_register(
        name="task_budgeting", kind=AdapterKind.TASK, tenant=None, base_model=str(tiny_model_dir),
        path="adapters/task_budgeting",
    )  # fmt: skip
    return adapter_promote(adapter=adapter, user=None)


def test_without_an_adapter_the_plan_reader_fills_the_form_at_once(client, personas, catalog):
    client.force_login(personas["marketer"])
    html = client.get(reverse("plan_list")).content.decode()
    assert 'id="plan-read-text"' in html and "disabled" not in html.split('id="plan-read-text"')[1].split(">")[0]
    response = client.post(reverse("plan_read"), {"text": TEXT}, HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    html = response.content.decode()
    assert 'id="plan-form" hx-swap-oob="true"' in html
    assert 'name="budget" value="2,500,000"' in html and 'name="period_days" value="28"' in html
    assert 'name="min_roas" value="3"' in html
    assert "Filled the form below from your text with the plan reader. Check every field" in visible(html)
    assert not GenerationRequest.objects.exists()  # no model was asked


def test_a_plan_kept_to_one_retailer_zeroes_the_tenants_other_channels_without_notes(client, personas, catalog):
    # "only on Walmart": every channel of the tenant's other retailers gets a maximum of 0; retailers the tenant
    # never ran are not named in a note (nothing of theirs is on the form).
    client.force_login(personas["marketer"])
    response = client.post(reverse("plan_read"), {"text": "$300k over 4 weeks, only on Walmart"})
    html = response.content.decode()
    assert response.status_code == 200 and 'id="plan-form" hx-swap-oob="true"' in html
    labels = re.findall(r'<span class="channel-name" id="id_(ch\d+)_min_channel">([^<]*)</span>', html)
    assert len(labels) >= 2 and any("Walmart" in label for _f, label in labels)
    for field, label in labels:
        value = re.search(rf'name="{field}_max"(?: value="([^"]*)")?', html).group(1)
        assert (value == "0") == ("Walmart" not in label), (label, value)
    assert "no history there" not in visible(html)


def test_without_an_adapter_the_plan_reader_asks_and_fills_with_the_answer(client, personas, catalog):
    client.force_login(personas["marketer"])
    text = "Put £500k over eight weeks into retail media for incremental revenue"
    response = client.post(reverse("plan_read"), {"text": text})
    html = response.content.decode()
    assert response.status_code == 200 and "plan-form" not in html
    assert "but this tenant plans in USD. What is the budget in USD?" in visible(html)
    url = reverse("plan_read_text_answer")
    assert f'hx-post="{url}"' in html
    response = client.post(url, {"text": text, "field": "currency", "answer": "640,000"})
    html = response.content.decode()
    assert response.status_code == 200
    assert 'name="budget" value="640,000"' in html and 'name="period_days" value="56"' in html
    assert '<option value="incremental_revenue" selected>' in html
    assert "with the plan reader and your answers" in visible(html)
    assert client.post(url, {"text": "", "field": "currency", "answer": "1"}).status_code == 400
    client.force_login(personas["reviewer"])
    assert client.post(url, {"text": text, "field": "currency", "answer": "640000"}).status_code == 403


def test_only_editors_read_objectives_and_only_their_own(client, personas, catalog, budgeting_adapter):
    client.force_login(personas["reviewer"])
    assert client.post(reverse("plan_read"), {"text": TEXT}).status_code == 403
    client.force_login(personas["marketer"])
    assert client.get(reverse("plan_read")).status_code == 405
    assert client.post(reverse("plan_read"), {"text": "  "}).status_code == 400
    assert client.post(reverse("plan_read"), {"text": "x" * 1001}).status_code == 400
    response = client.post(reverse("plan_read"), {"text": TEXT})
    assert response.status_code == 200
    generation = GenerationRequest.objects.get()
    assert (generation.task, generation.adapters) == ("budgeting", ["task_budgeting"])
    assert generation.prompt == {"text": TEXT}
    assert f'hx-get="{reverse("plan_read_status", args=[generation.pk])}"' in response.content.decode()
    client.force_login(personas["stranger"])
    assert client.get(reverse("plan_read_status", args=[generation.pk])).status_code == 404


def test_the_answer_fills_the_form_with_notes(client, personas, catalog, budgeting_adapter):
    client.force_login(personas["marketer"])
    client.post(reverse("plan_read"), {"text": TEXT + " Cap Walmart at $400k and skip Amazon."})
    generation = GenerationRequest.objects.get()
    url = reverse("plan_read_status", args=[generation.pk])
    html = client.get(url).content.decode()
    assert "is reading it (queued)" in visible(html) and f'hx-get="{url}"' in html  # still polling
    # What the inference worker stores when the adapter answers (ml.inference.run_generation_request).
    parsed = {**PARSED, "retailer_caps": {"walmart": 400000}, "exclude_retailers": ["amazon"]}
    GenerationRequest.objects.filter(pk=generation.pk).update(status="succeeded", parsed=parsed, output="{...}")
    html = client.get(url).content.decode()
    assert f'hx-get="{url}"' not in html  # done polling
    assert 'id="plan-form" hx-swap-oob="true"' in html
    assert 'name="budget" value="2,500,000"' in html and 'name="min_roas" value="3"' in html
    assert 'name="ch0_max" value="0"' in html  # Amazon excluded (the catalog's channel 0)
    assert (
        "Filled the form below from your text with the plan reader, cross-checked by the budgeting model v1"
        in visible(html)
    )


def test_an_adapter_answer_that_is_no_plan_costs_its_vote_not_the_reading(client, personas, catalog, budgeting_adapter):
    client.force_login(personas["marketer"])
    client.post(reverse("plan_read"), {"text": TEXT})
    generation = GenerationRequest.objects.get()
    GenerationRequest.objects.filter(pk=generation.pk).update(status="succeeded", parsed=None, output="Sure! Here")
    html = client.get(reverse("plan_read_status", args=[generation.pk])).content.decode()
    assert "The budgeting adapter gave no usable answer; the plan reader read it alone." in visible(html)
    assert "Sure! Here" not in html  # the model's raw output is not shown
    assert 'name="budget" value="2,500,000"' in html and 'name="period_days" value="28"' in html
    GenerationRequest.objects.filter(pk=generation.pk).update(status="failed", error="worker lost")
    html = client.get(reverse("plan_read_status", args=[generation.pk])).content.decode()
    assert "The budgeting adapter failed on this text; the plan reader read it alone." in visible(html)
    assert 'name="budget" value="2,500,000"' in html


def test_while_the_budgeting_adapter_trains_the_plans_page_shows_its_bar_and_time_left(client, personas, catalog):
    from datetime import timedelta

    from django.utils import timezone

    from ml.models import TrainingJob

    job = TrainingJob.objects.create(
        tenant=None, adapter_name="task_budgeting", adapter_kind=AdapterKind.TASK, method="sft", base_model="b",
        dataset_path="/tmp/x.jsonl", status="running", started_at=timezone.now() - timedelta(seconds=600),
        progress={"step": 20, "total_steps": 40},
    )  # fmt: skip
    client.force_login(personas["marketer"])
    html = client.get(reverse("plan_list")).content.decode()
    banner = html.split('id="plan-read-training"')[1].split("</p>")[0]
    assert '<progress max="100" value="50"' in banner
    assert "20 / 40 steps, about 10 min left" in visible(banner)  # 600 s for 20 steps, 20 to go
    TrainingJob.objects.filter(pk=job.pk).update(status="succeeded")
    assert 'id="plan-read-training"' not in client.get(reverse("plan_list")).content.decode()
