"""python manage.py export_feedback: the files it writes, what it prints, and its errors (which write nothing)."""

from __future__ import annotations

import json
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from feedback.models import FeedbackDataset
from feedback.tests.datasets_support import answer, answer_all, pair, prompt, single
from feedback.tests.review_support import review_fixture  # noqa: F401  (the review fixture)


@pytest.fixture(autouse=True)
def _storage(settings, tmp_path):
    settings.MODEL_STORAGE_DIR = tmp_path / "models"


def run(*args) -> str:
    out = StringIO()
    call_command("export_feedback", *args, stdout=out)
    return out.getvalue()


def read(path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_it_writes_train_and_heldout_files_and_prints_counts_and_drop_reasons(review, tmp_path):
    two = [review["reviewer"], review["reviewer2"]]
    for n in range(10):
        answer_all(pair(review["task"], n, f"Oats {n}", f"Bran {n}"), two, preference="a")
    answer_all(pair(review["task"], 99, "Tie A", "Tie B"), two, preference="tie")
    answer(single(review["task"], 50, "Disputed"), two[0], thumb="up")  # awaiting the second reviewer
    out_file = tmp_path / "prefs.jsonl"
    printed = run("--tenant", "acme", "--task", "creative", "--format", "dpo", "--out", str(out_file), "--seed", "3")
    dataset = FeedbackDataset.objects.get()
    train, heldout = read(out_file), read(tmp_path / "prefs.heldout.jsonl")
    assert len(train) + len(heldout) == 10 and heldout
    assert len(train) == dataset.counts["train"] and len(heldout) == dataset.counts["heldout"]
    assert train[0]["prompt"] in [prompt(n) for n in range(10)] and set(train[0]) >= {"prompt", "chosen", "rejected"}
    assert f"Dataset creative dpo v1 for acme (id {dataset.pk})" in printed
    assert f"train: {len(train)} rows -> {out_file}" in printed
    assert f"held-out: {len(heldout)} rows -> {tmp_path / 'prefs.heldout.jsonl'}" in printed
    assert "dropped: awaiting_reviewers 1, tie_or_both_bad 1" in printed
    assert dataset.options["seed"] == 3


def test_it_takes_the_heldout_path_and_thresholds_as_options(review, tmp_path):
    two = [review["reviewer"], review["reviewer2"]]
    good, poor = single(review["task"], 1, "Good"), single(review["task"], 1, "Fair")
    answer_all(good, two, ratings=dict.fromkeys(("on_brand", "compliant", "persuasive", "clear"), 4))
    answer_all(poor, two, ratings=dict.fromkeys(("on_brand", "compliant", "persuasive", "clear"), 3))
    args = ["--tenant", "acme", "--task", "creative", "--format", "dpo", "--out", str(tmp_path / "t.jsonl")]
    run(*args, "--heldout-out", str(tmp_path / "h.jsonl"), "--heldout-share", "0")
    assert read(tmp_path / "t.jsonl") == [] and (tmp_path / "h.jsonl").read_text() == ""  # a gap of 1 < 2
    run(*args, "--heldout-out", str(tmp_path / "h.jsonl"), "--heldout-share", "0", "--min-rating-gap", "1")
    [row] = read(tmp_path / "t.jsonl")
    assert '"Good"' in row["chosen"][0]["content"] and '"Fair"' in row["rejected"][0]["content"]
    assert FeedbackDataset.objects.filter(version=2, options__min_rating_gap=1.0).exists()


def test_it_drops_pairs_whose_chosen_copy_breaks_the_policy_unless_told_to_keep_them(review, tmp_path, catalog,
                                                                                      retailers):  # fmt: skip
    from feedback.models import Creative, CreativeBrief
    from feedback.tests.datasets_support import fields

    two, tenant = [review["reviewer"], review["reviewer2"]], review["task"].tenant
    brief = CreativeBrief.objects.create(tenant=tenant, retailer=retailers["amazon"], brand=catalog["acme"]["brand"],
                                         goal="trial", policy={"price_claims_allowed": False})  # fmt: skip
    item = pair(review["task"], 1, "Oats, now $1.99", "Oats, baked fresh")
    item.creative = Creative.objects.create(tenant=tenant, brief=brief, retailer=retailers["amazon"], variant=1,
                                            prompt=prompt(1), **fields("Oats, now $1.99"))  # fmt: skip
    item.save(update_fields=["creative"])
    answer_all(item, two, preference="a")
    answer_all(pair(review["task"], 2, "Bran", "Rye"), two, preference="a")
    args = ["--tenant", "acme", "--task", "creative", "--format", "dpo", "--out", str(tmp_path / "t.jsonl"),
            "--heldout-share", "0"]  # fmt: skip
    assert "dropped: chosen_breaks_policy 1" in run(*args)
    assert len(read(tmp_path / "t.jsonl")) == 1
    assert "dropped: nothing" in run(*args, "--keep-policy-violations")
    assert len(read(tmp_path / "t.jsonl")) == 2
    assert FeedbackDataset.objects.get(version=2).options["drop_policy_violations"] is False


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--tenant", "nobody"], "--tenant: no tenant 'nobody'."),
        (["--task", "poetry"], "--task: no review feedback for 'poetry'"),
        (["--format", "ppo"], "--format: 'ppo' is not a format"),
        (["--out", "/nonexistent-folder/x.jsonl"], "--out: the folder /nonexistent-folder does not exist."),
        (["--heldout-share", "1.5"], "--heldout-share: heldout_share: must be at least 0 and below 1."),
    ],
)
def test_it_refuses_bad_input_clearly_and_writes_nothing(review, tmp_path, args, message):
    given = {"--tenant": "acme", "--task": "creative", "--format": "dpo", "--out": str(tmp_path / "x.jsonl")}
    given.update(dict(zip(args[::2], args[1::2], strict=True)))
    with pytest.raises(CommandError) as err:
        run(*[part for pair_ in given.items() for part in pair_])
    assert message in str(err.value)
    assert not FeedbackDataset.objects.exists()
    assert list(tmp_path.glob("*.jsonl")) == []
    assert not (tmp_path / "models").exists()


def test_it_refuses_an_output_path_that_is_a_folder_or_unwritable(review, tmp_path):
    a_file = tmp_path / "a-file"
    a_file.write_text("")
    cases = [
        (tmp_path, "is a folder; name a file"),
        (a_file / "x.jsonl", "does not exist"),
        ("/proc/x.jsonl", "--out: cannot write /proc/x.jsonl."),  # refused even to root
    ]
    for out, message in cases:
        with pytest.raises(CommandError) as err:
            run("--tenant", "acme", "--task", "creative", "--format", "kto", "--out", str(out))
        assert message in str(err.value)
    assert not FeedbackDataset.objects.exists()
