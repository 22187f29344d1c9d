import json
from types import SimpleNamespace

import pytest
import torch
from django.core.management import call_command
from django.core.management.base import CommandError

from governance.models import AuditLog
from ml.engine.datasets import build, write_jsonl
from ml.engine.evaluation import evaluate_task, field_counts, pair_logprobs, preference_accuracy, prf
from ml.engine.prompts import answer_text, task_messages
from ml.models import Adapter, AdapterKind
from ml.services import adapter_register


def _rows(task, answers, payload=None, meta=None):
    payload = payload or {"text": "x"}
    return [
        {"prompt": task_messages(task, payload), "completion": [{"role": "assistant", "content": answer_text(task, a)}],
         "task": task, "meta": meta or {}}
        for a in answers
    ]  # fmt: skip


def _replay(texts):
    it = iter(texts)
    return lambda batch: [next(it) for _ in batch]


BUDGET = {"budget": 2500000.0, "period_days": 28, "objective": "incremental_margin", "min_roas": 3.0,
          "roas_basis": "attributed", "retailer_caps": {"walmart": 400000.0, "kroger": 100000.0},
          "exclude_retailers": ["criteo", "target"]}  # fmt: skip


def test_budgeting_exact_match_and_json_validity_on_known_predictions():
    rows = _rows("budgeting", [BUDGET] * 4)
    same_but_reordered = json.dumps({**BUDGET, "retailer_caps": {"kroger": 1e5, "walmart": 4e5},
                                     "exclude_retailers": ["target", "criteo"], "budget": 2500000})  # fmt: skip
    wrong_roas = answer_text("budgeting", {**BUDGET, "min_roas": 2.5})
    predictions = [answer_text("budgeting", BUDGET), same_but_reordered, wrong_roas, "I think you should spend it."]
    metrics = evaluate_task("budgeting", rows, _replay(predictions), batch_size=3)
    assert metrics["n"] == 4
    assert metrics["json_valid_rate"] == pytest.approx(0.75)
    assert metrics["exact_match"] == pytest.approx(0.5)


def test_harmonization_f1_from_known_true_and_false_positives_and_negatives():
    truths = ["spend", "clicks", "date", None, None, "gtin"]
    rows = [r for t in truths for r in _rows("harmonization", [{"field": t}], {"retailer": "a", "column": "c",
                                                                                 "samples": ["1"]})]  # fmt: skip
    predictions = ['{"field": "spend"}', '{"field": "clicks"}', '{"field": "impressions"}', '{"field": "spend"}',
                   '{"field": null}', "garbage"]  # fmt: skip
    metrics = evaluate_task("harmonization", rows, _replay(predictions))
    # TP 2 (spend, clicks); FP 2 (impressions for date, spend for a distractor); FN 2 (date, gtin).
    assert (metrics["tp"], metrics["fp"], metrics["fn"]) == (2, 2, 2)
    assert metrics["precision"] == pytest.approx(0.5) and metrics["recall"] == pytest.approx(0.5)
    assert metrics["field_f1"] == pytest.approx(0.5)
    assert metrics["json_valid_rate"] == pytest.approx(5 / 6)
    assert prf(field_counts([("a", "a"), ("a", "a"), (None, "b")]))["field_f1"] == pytest.approx(0.8)


def test_creative_violation_rate_counts_invalid_answers_as_violations():
    policy = {"headline_max_chars": 20, "banned_claims": ["#1"], "required_disclosures": ["Sponsored"],
              "price_claims_allowed": False}  # fmt: skip
    payload = {"retailer": "x", "brand": "b", "product": "p", "brief": "go", "policy": policy}
    good = {"headline": "Try it", "body": "Tasty.", "disclosure": "Sponsored"}
    rows = _rows("creative", [good] * 5, payload, {"policy": policy})
    predictions = [
        answer_text("creative", good),
        answer_text("creative", {**good, "body": "The #1 snack."}),
        answer_text("creative", {**good, "disclosure": ""}),
        answer_text("creative", good),
        "{not json",
    ]
    metrics = evaluate_task("creative", rows, _replay(predictions))
    assert metrics["violation_rate"] == pytest.approx(3 / 5)
    assert metrics["violation_rate_valid"] == pytest.approx(2 / 4)
    assert metrics["json_valid_rate"] == pytest.approx(4 / 5)


def test_it_refuses_a_predict_that_answers_the_wrong_number_of_prompts():
    with pytest.raises(ValueError, match="returned 0 answers for 1 prompts"):
        evaluate_task("budgeting", _rows("budgeting", [BUDGET]), lambda batch: [])


class _UnigramModel(torch.nn.Module):
    """Predicts the same distribution at every position: a completion's summed log-probability is known exactly."""

    def __init__(self, logits):
        super().__init__()
        self.bias = torch.nn.Parameter(logits.clone())

    def forward(self, input_ids, attention_mask=None):
        return SimpleNamespace(logits=self.bias.expand(input_ids.shape[0], input_ids.shape[1], -1))


@pytest.fixture(scope="module")
def tiny(tiny_model_dir):
    from ml.engine.base import load_base

    torch.set_num_threads(1)
    return load_base(tiny_model_dir)


def _pair(chosen, rejected):
    return {"prompt": [{"role": "user", "content": "Pick one."}],
            "chosen": [{"role": "assistant", "content": chosen}],
            "rejected": [{"role": "assistant", "content": rejected}]}  # fmt: skip


def test_preference_accuracy_sums_exactly_the_completion_tokens(tiny):
    _model, tokenizer = tiny
    vocab = len(tokenizer)
    logits = torch.zeros(vocab)
    a_ids = tokenizer("aaaa", add_special_tokens=False)["input_ids"]
    logits[a_ids] = 3.0
    model = _UnigramModel(logits)
    logp = torch.log_softmax(logits, -1)
    eos = tokenizer.eos_token_id
    pairs = [_pair("aaaa", "zzzz"), _pair("zzzz", "aaaa"), _pair("aaaa", "aaaa aaaa")]
    scores = pair_logprobs(model, tokenizer, pairs, batch_size=2)
    for (chosen, rejected), pair in zip(scores, pairs, strict=True):
        for got, text in ((chosen, pair["chosen"][0]["content"]), (rejected, pair["rejected"][0]["content"])):
            ids = tokenizer(text, add_special_tokens=False)["input_ids"] + [eos]
            assert got == pytest.approx(float(logp[ids].sum()), rel=1e-5)
    # Known answer: the model prefers "a" tokens, and a shorter completion of them over a longer one.
    assert preference_accuracy(model, tokenizer, pairs) == pytest.approx(2 / 3)
    # DPO's implicit reward against itself: every margin is zero, so no pair is won.
    assert preference_accuracy(model, tokenizer, pairs, reference=scores) == 0.0


def test_per_token_scores_are_the_mean_and_do_not_prefer_the_shorter_answer(tiny):
    """Per token (the gate's measure): the mean log-probability of the completion's tokens, exactly; a chosen answer
    that is the rejected one plus a sentence the model likes wins per token, while the summed score, which falls with
    every token added, prefers the shorter answer."""
    _model, tokenizer = tiny
    logits = torch.zeros(len(tokenizer))
    liked = tokenizer(" Shop now.", add_special_tokens=False)["input_ids"]
    logits[liked] = 4.0
    model = _UnigramModel(logits)
    logp = torch.log_softmax(logits, -1)
    eos = tokenizer.eos_token_id
    pairs = [_pair("Fresh oats. Shop now.", "Fresh oats."), _pair("Shop now.", "Fresh oats.")]
    per_token = pair_logprobs(model, tokenizer, pairs, per_token=True)
    summed = pair_logprobs(model, tokenizer, pairs)
    for (chosen, rejected), pair in zip(per_token, pairs, strict=True):
        for got, text in ((chosen, pair["chosen"][0]["content"]), (rejected, pair["rejected"][0]["content"])):
            ids = tokenizer(text, add_special_tokens=False)["input_ids"] + [eos]
            assert got == pytest.approx(float(logp[ids].mean()), rel=1e-5)
    assert per_token[0][0] > per_token[0][1]  # the liked call to action raises the mean
    assert summed[0][0] < summed[0][1]  # but the sum prefers the shorter answer
    assert per_token[1][0] > per_token[1][1]  # liked tokens alone: the higher mean


# --- eval_adapter: stores figures, promotes only when better ----------------------------------------------------


def _lora(tiny_model_dir, dest, rows=None, steps=0):
    """A LoRA adapter on the tiny model; with ``rows`` trained (plain PyTorch) to answer their completions."""
    from peft import LoraConfig, get_peft_model

    from ml.engine.base import load_base

    torch.manual_seed(0)
    model, tokenizer = load_base(tiny_model_dir)
    model = get_peft_model(model, LoraConfig(r=8, lora_alpha=16, target_modules="all-linear", task_type="CAUSAL_LM"))
    if rows:
        optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=2e-2)
        model.train()
        for _ in range(steps):
            for row in rows[:2]:
                prefix = tokenizer.apply_chat_template(row["prompt"], add_generation_prompt=True, tokenize=False)
                ids = tokenizer(prefix + row["completion"][0]["content"] + tokenizer.eos_token,
                                add_special_tokens=False, return_tensors="pt")["input_ids"]  # fmt: skip
                labels = ids.clone()
                labels[:, : len(tokenizer(prefix, add_special_tokens=False)["input_ids"])] = -100
                model(input_ids=ids, labels=labels).loss.backward()
            optimizer.step()
            optimizer.zero_grad()
    model.save_pretrained(dest)
    return dest


@pytest.mark.django_db
def test_eval_adapter_stores_metrics_and_promotes_only_a_better_version(settings, tmp_path, tiny_model_dir, capsys):
    settings.MODEL_STORAGE_DIR = tmp_path
    _train, rows = build("harmonization", seed=0, n_train=1, n_heldout=40)
    rows = [r for r in rows if json.loads(r["completion"][0]["content"])["field"] == "spend"][:2]
    rows = [{**r, "completion": [{"role": "assistant", "content": '{"field": "spend"}'}]} for r in rows]
    dataset = write_jsonl(rows, tmp_path / "heldout.jsonl")

    def register(folder, rows=None, steps=0):
        _lora(tiny_model_dir, tmp_path / folder, rows, steps)
        return adapter_register(name="task_harmonization", kind=AdapterKind.TASK, tenant=None,
                                base_model=str(tiny_model_dir), path=folder)  # fmt: skip

    def evaluate(adapter):
        call_command("eval_adapter", adapter="task_harmonization", version=adapter.version, task="harmonization",
                     dataset=str(dataset), promote=True)  # fmt: skip
        adapter.refresh_from_db()
        return capsys.readouterr().out

    untrained = register("v1")
    out = evaluate(untrained)
    assert untrained.status == Adapter.Status.ACTIVE  # nothing active yet: the first evaluated version goes live
    assert untrained.metrics["field_f1"] == 0.0 and untrained.metrics["n_eval"] == 2 and "Promoted" in out

    trained = register("v2", rows, steps=40)
    out = evaluate(trained)
    assert trained.metrics["field_f1"] == 1.0 and trained.metrics["json_valid_rate"] == 1.0
    assert trained.status == Adapter.Status.ACTIVE and "Promoted" in out
    untrained.refresh_from_db()
    assert untrained.status == Adapter.Status.RETIRED

    worse = register("v3")
    out = evaluate(worse)
    assert worse.status == Adapter.Status.CANDIDATE and worse.metrics["field_f1"] == 0.0
    assert "Not promoted" in out and "does not beat the active v2 on field_f1" in out
    assert AuditLog.objects.filter(action="adapter.evaluate").count() == 3

    call_command("eval_adapter", base=True, base_model=str(tiny_model_dir), task="harmonization", dataset=str(dataset))
    assert json.loads(capsys.readouterr().out)["metrics"]["field_f1"] == 0.0


@pytest.mark.django_db
def test_eval_adapter_names_what_is_wrong(settings, tmp_path):
    settings.MODEL_STORAGE_DIR = tmp_path
    with pytest.raises(CommandError, match="no 'task_nothing' among shared adapters"):
        call_command("eval_adapter", adapter="task_nothing", task="budgeting", dataset="x.jsonl")
    with pytest.raises(CommandError, match="--adapter is required"):
        call_command("eval_adapter", task="budgeting", dataset="x.jsonl")
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"prompt": []}\nnot json\n')
    with pytest.raises(CommandError, match=r"bad\.jsonl, line 2: not valid JSON"):
        call_command("eval_adapter", base=True, task="budgeting", dataset=str(bad))


def test_base_evaluate_scores_generated_copy_and_preference_pairs(tiny, tiny_model_dir, tmp_path):
    from ml.engine.datasets import build_preference_pairs
    from ml.eval_services import base_evaluate

    _train, pairs = build_preference_pairs(seed=0, n_train=1, n_heldout=4)
    dataset = write_jsonl(pairs, tmp_path / "pairs.jsonl")
    result = base_evaluate(base_model=str(tiny_model_dir), task="creative", dataset_path=str(dataset))
    model, tokenizer = tiny
    assert result["metric"] == "violation_rate"
    assert result["metrics"]["preference_accuracy"] == preference_accuracy(model, tokenizer, pairs)
    assert result["metrics"]["violation_rate"] == 1.0  # an untrained tiny model writes no valid copy
    assert result["metrics"]["n_eval"] == 4


# --- the budgeting adapter against the plan reader it is meant to help ----------------------------------------------


def test_the_reader_is_scored_like_an_adapter_on_the_same_rows():
    from ml.engine.evaluation import evaluate_reader

    rows = _rows("budgeting", [BUDGET] * 4)
    answers = iter([BUDGET, {**BUDGET, "period_days": 4}, None, dict(reversed(list(BUDGET.items())))])
    figures = evaluate_reader("budgeting", rows, lambda text: next(answers))
    assert figures == {"n": 4, "answered": 0.75, "exact_match": 0.5}


def test_an_adapter_beats_the_reader_only_above_its_exact_match():
    from ml.eval_services import behind_reader

    assert behind_reader({"exact_match": 0.9}) is None  # not a budgeting comparison
    assert behind_reader({"exact_match": 0.97, "reader_exact_match": 0.96, "n_eval": 30.0}) is None
    why = behind_reader({"exact_match": 0.96, "reader_exact_match": 0.96, "n_eval": 30.0})
    assert why.startswith("its exact match 0.960 does not beat the plan reader's 0.960 on the same 30 held-out rows")


@pytest.mark.django_db
def test_a_budgeting_adapter_that_reads_worse_than_the_plan_reader_is_not_promoted(settings, tmp_path, tiny_model_dir):
    """The first version of an adapter normally goes live; a budgeting one must also beat the plan reader, which
    reads these held-out requests (generated, with their retailers) right."""
    from ml.eval_services import adapter_evaluate

    settings.MODEL_STORAGE_DIR = tmp_path
    _train, rows = build("budgeting", seed=0, n_train=1, n_heldout=3)
    dataset = write_jsonl(rows, tmp_path / "heldout.jsonl")
    _lora(tiny_model_dir, tmp_path / "v1")
    adapter = adapter_register(name="task_budgeting", kind=AdapterKind.TASK, tenant=None,
                               base_model=str(tiny_model_dir), path="v1")  # fmt: skip
    result = adapter_evaluate(adapter=adapter, task="budgeting", dataset_path=str(dataset), promote=True)
    adapter.refresh_from_db()
    assert adapter.status == Adapter.Status.CANDIDATE and not result["promoted"]
    assert adapter.metrics["exact_match"] == 0.0 and adapter.metrics["reader_exact_match"] == 1.0
    assert "does not beat the plan reader's 1.000 on the same 3 held-out rows" in result["promotion_error"]
