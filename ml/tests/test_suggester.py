"""The harmonization adapter as a mapping suggester: its column answers become one-to-one field choices, the rules
fill what a column answer cannot say, the ensemble weighs both, and the registered ``lora`` suggester serves the
active adapter through the runtime (tiny Llama) or says clearly that there is none."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import CommandError, call_command

from harmonization.suggest import RuleBasedSuggester, get_suggester, read_sample
from ml import inference
from ml.engine.prompts import task_messages
from ml.engine.suggester import ADAPTER_CONFIDENCE, AdapterMappingSuggester, EnsembleSuggester
from ml.models import AdapterKind
from ml.services import adapter_promote, adapter_register
from ml.testing import make_adapter

WALMART = Path(settings.BASE_DIR) / "harmonization" / "samples" / "walmart_sponsored_search_item.csv"

# What a trained adapter might answer per column (a stand-in for the model, so the assertions know the truth):
# adGroupId is a second vote for campaign_id, ntbRevenue14days and ntbUnits14days wrong fields, itemName an answer
# that is not JSON.
ANSWERS = {
    "date": "date",
    "campaignId": "campaign_id",
    "adGroupId": "campaign_id",
    "itemId": "retailer_item_id",
    "numAdsShown": "impressions",
    "numAdsClicks": "clicks",
    "adSpend": "spend",
    "ntbRevenue14days": "attributed_sales",
    "ntbUnits14days": "attributed_units",
}


class TableAnswers:
    def __init__(self, answers: dict[str, str | None]):
        self.answers = answers
        self.prompts: list[list[dict]] = []

    def __call__(self, prompts):
        self.prompts.extend(prompts)
        out = []
        for messages in prompts:
            column = messages[-1]["content"].split("\n")[1].removeprefix("column: ")
            out.append("no idea" if column == "itemName" else json.dumps({"field": self.answers.get(column)}))
        return out


@pytest.fixture(scope="module")
def sample():
    return read_sample(WALMART)


def test_each_column_is_asked_with_the_training_prompt(sample):
    table = TableAnswers(ANSWERS)
    AdapterMappingSuggester(table, retailer="walmart").suggest(sample)
    assert len(table.prompts) == len(sample.headers)
    first = sample.column("numAdsShown")[:3]
    assert table.prompts[sample.headers.index("numAdsShown")] == task_messages(
        "harmonization", {"retailer": "walmart", "column": "numAdsShown", "samples": first}
    )


def test_adapter_choices_are_one_to_one_and_the_rules_fill_the_rest(sample):
    rules = RuleBasedSuggester().suggest(sample)
    got = AdapterMappingSuggester(TableAnswers(ANSWERS)).suggest(sample)
    assert got.suggester == "lora"
    assert set(got.fields) == set(rules.fields)
    assert got.chosen() == {
        "date": "date", "campaign_id": "campaignId", "retailer_item_id": "itemId", "impressions": "numAdsShown",
        "clicks": "numAdsClicks", "spend": "adSpend", "attributed_units": "ntbUnits14days",
    }  # fmt: skip
    assert got.fields["campaign_id"].alternatives == [("adGroupId", ADAPTER_CONFIDENCE)]
    assert got.fields["spend"].confidence == ADAPTER_CONFIDENCE
    assert "harmonization adapter maps 'adSpend' to spend" in got.fields["spend"].reasons[0]
    # No column fills placement_type in this export: the rules' constant stays, as do the file's format guesses.
    assert rules.fields["placement_type"].constant == "sponsored_product"
    assert got.fields["placement_type"].source is None
    assert got.fields["placement_type"].constant == "sponsored_product"
    assert got.source == rules.source
    # Walmart's attributed sales are direct + related sales: the rules' expression stays, the adapter's column is an
    # alternative.
    assert got.fields["attributed_sales"].source is None
    assert got.fields["attributed_sales"].expr == rules.fields["attributed_sales"].expr
    assert ("ntbRevenue14days", ADAPTER_CONFIDENCE) in got.fields["attributed_sales"].alternatives
    # campaign_name: the adapter named no column, so none is chosen, whatever the rules picked.
    assert rules.fields["campaign_name"].source == "campaignName"
    assert got.fields["campaign_name"].source is None


def test_wrong_answer_count_is_an_error(sample):
    with pytest.raises(ValueError, match="returned 1 answers for 19 columns"):
        AdapterMappingSuggester(lambda prompts: ['{"field": null}']).suggest(sample)


def test_ensemble_keeps_the_rules_where_they_are_sure_and_takes_the_adapter_where_they_agree(sample):
    rules = RuleBasedSuggester().suggest(sample)
    both = EnsembleSuggester([RuleBasedSuggester(), AdapterMappingSuggester(TableAnswers(ANSWERS))]).suggest(sample)
    assert both.suggester == "rules+lora"
    assert rules.fields["spend"].source == "adSpend"
    # Agreement: the mean of the two confidences, above the adapter's alone.
    assert both.fields["spend"].source == "adSpend"
    assert both.fields["spend"].confidence == pytest.approx((rules.fields["spend"].confidence + ADAPTER_CONFIDENCE) / 2)
    # The adapter's wrong attributed_units vote (ntbUnits14days) loses to a more confident rule choice.
    assert rules.fields["attributed_units"].confidence > ADAPTER_CONFIDENCE
    assert both.fields["attributed_units"].source == "attributedUnits14days"
    assert both.fields["attributed_sales"].expr == rules.fields["attributed_sales"].expr
    # A field only the rules fill keeps the rules' column when they are sure of it.
    assert both.fields["campaign_name"].source == "campaignName"


@pytest.mark.django_db
def test_lora_suggester_without_an_active_adapter_is_a_clear_error(tmp_path):
    with pytest.raises(ValueError, match="needs an active task_harmonization adapter"):
        get_suggester("lora")
    with pytest.raises(CommandError, match="needs an active task_harmonization adapter"):
        call_command("suggest_mapping", "--input", str(WALMART), "--suggester", "rules+lora")


@pytest.mark.django_db
def test_lora_suggester_serves_the_active_adapter_through_the_runtime(settings, tiny_model_dir, tmp_path, sample):
    make_adapter(tiny_model_dir, tmp_path / "adapters" / "task_harmonization", seed=5)
    settings.MODEL_STORAGE_DIR = tmp_path
    settings.BASE_MODEL = str(tiny_model_dir)
    inference.reset_runtime()
    try:
        adapter = adapter_register(
            name="task_harmonization", kind=AdapterKind.TASK, tenant=None, base_model=str(tiny_model_dir),
            path="adapters/task_harmonization",
        )  # fmt: skip
        adapter_promote(adapter=adapter, user=None)
        suggester = get_suggester("lora")
        got = suggester.suggest(sample)
        # The tiny random adapter answers no valid JSON: every field falls back to "no column", and what was
        # generated came from the runtime holding this adapter version.
        assert got.suggester == "lora"
        assert got.chosen() == {}
        assert "task_harmonization@shared@v1" in inference.get_runtime().stats()["adapters"]
        # With the adapter silent, the ensemble keeps only the rules' own choices (a lone vote counts half).
        both = get_suggester("rules+lora").suggest(sample)
        assert both.suggester == "rules+lora"
        assert both.chosen().items() <= RuleBasedSuggester().suggest(sample).chosen().items()
        assert both.chosen()["spend"] == "adSpend"
    finally:
        inference.reset_runtime()
