"""Closing the loop, measured: simulated reviewers with a hidden taste train the creative adapter through the real
console, datasets, retraining and gate services, round after round; and a control panel answering at random.

    .venv/bin/python bench/feedback_loop.py --quick                       # tiny random Llama, about a minute
    .venv/bin/python bench/feedback_loop.py --rounds 2 --briefs 40 --heldout-briefs 20 --steps 24 \
        --learning-rate 0.0002 --sft-weight 1 --threads 1 --heldout-share 0.25 --sft var/loop_prep/sft \
        --sft-data var/loop_prep/data \
        --write-docs                                                      # the embedded model, as in the docs
    .venv/bin/python bench/feedback_loop.py ... --control                 # reviewers answer at random

The taste (the reviewers know it, the model never sees it): a copy scores one point for each of
  * passing the retailer's policy (``ml.engine.policy.check_copy``: banned claims, lengths, disclosures, ...),
  * naming the product's main benefit from the brief (the benefit's key word in headline or body),
  * a call to action in the body ("shop", "try", "buy", "order", "discover", "get"),
  * headline plus body between 40 and 160 characters;
a reviewer prefers the copy with the higher score (a coin decides a tie) and then flips that answer with
probability 0.15. In the control every answer is a coin.

Candidate pairs, as a console shows them: two answers of the current version to the same brief, sampled
(``ml.engine.runtime.Sampling``, ``--temperature``; greedy decoding would give the same text twice). In a share
``--sampled-share`` of the pairs the reviewers compare the two samples as they are; in the others the second candidate
is the first one with one copywriter's edit, improving it (add the benefit, add a call to action, take a price claim
out) or breaking it (drop the call to action, add a banned claim, drop the benefit, pad it past the length band, add
a price claim), a coin for the direction and only edits that move the copy's score that way (no "add a call to
action" to a copy that has one, no price claim added to copy that already breaks the policy). Which side is A is
a coin. When neither sample parses as creative JSON (the tiny model never does), the pair starts from a plain template
copy and the bench counts how often that happened. The preference signal follows the taste, but in the edited pairs
one side is written by a rule, not by the model: say so beside any figure.

Each round: a review task with overlap 3; five reviewers take items with ``review_next`` and answer with
``review_submit``; conflicts go to an adjudicator (who answers by the taste, no flips) via ``review_adjudicate``;
agreement is ``task_agreement``'s Krippendorff alpha on the preference; ``feedback_dataset_export`` makes a DPO
dataset (with the product's defaults: a pair whose chosen copy breaks the brief's policy is dropped);
``retrain_start`` (not enqueued) and ``ml.jobs.run_training_job`` train in this process; ``gate_evaluate`` judges
and promotes. Then a fresh panel (other seeds, same taste) compares the new version with the previous one
and with the round-0 SFT version on held-out briefs (never in any training set): win rate, and the violation rate of
each version's own answers (an answer that does not parse counts as a violation).

Works on a throwaway SQLite database and model folder under var/feedback_loop_bench/ (--work; deleted at the start).
--write-docs writes the figures into docs/benchmarks.md (section "feedback_loop").
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import shutil
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from bench._common import commit as _commit  # noqa: E402
from bench._common import machine as _machine  # noqa: E402
from bench._common import write_section  # noqa: E402

WORK = ROOT / "var" / "feedback_loop_bench"
SECTION = "feedback_loop"
HEADING = "## Closing the loop: simulated reviewers train the creative adapter (DPO), gated"
FLIP = 0.15
OVERLAP = 3
PANEL = 5
CTA_WORDS = ("shop", "try", "buy", "order", "discover", "get")
LENGTH_BAND = (40, 160)
PRODUCTS = [
    ("Crunchy Oat Granola", "fiber", "high in fiber for a fuller morning"),
    ("Cold Brew Coffee", "smooth", "smooth, low-acid coffee"),
    ("Greek Yogurt Cups", "protein", "15 g of protein per cup"),
    ("Sparkling Water", "zero", "zero sugar, real fruit flavour"),
    ("Trail Mix", "energy", "slow energy for long hikes"),
    ("Dark Chocolate Bar", "cocoa", "70% cocoa, fair trade"),
    ("Almond Butter", "almonds", "one ingredient: roasted almonds"),
    ("Green Tea", "antioxidants", "rich in antioxidants"),
    ("Rice Crackers", "gluten", "gluten free and crisp"),
    ("Protein Bars", "protein", "20 g protein, no added sugar"),
]
RETAILERS = ["Amazon", "Walmart", "Target", "Kroger"]
POLICY = {
    "headline_max_chars": 60,
    "body_max_chars": 200,
    "banned_claims": ["best ever", "guaranteed", "cure"],
    "required_disclosures": [],
    "price_claims_allowed": False,
}


# --- the world ------------------------------------------------------------------------------------------------------


def setup_django(database: Path, storage: Path, base_model: str) -> None:
    os.environ.update(
        DATABASE_URL=f"sqlite:///{database}",
        MODEL_STORAGE_DIR=str(storage),
        RMN_BASE_MODEL=base_model,
        RMN_VAR_DIR=str(WORK / "var"),
        SECRET_KEY=os.environ.get("SECRET_KEY") or "feedback-loop-bench-only",
        DJANGO_SETTINGS_MODULE="rmn_site.settings",
        CELERY_BROKER_URL="",
    )
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def brief(i: int, *, heldout: bool) -> dict:
    product, key, benefit = PRODUCTS[i % len(PRODUCTS)]
    retailer = RETAILERS[(i // len(PRODUCTS)) % len(RETAILERS)]
    return {
        "retailer": retailer, "brand": "Acme", "product": f"{product} ({'h' if heldout else 't'}{i})",
        "brief": f"main benefit: {benefit}", "policy": POLICY, "key": key,
    }  # fmt: skip


def messages(b: dict) -> list[dict]:
    from ml.engine.prompts import task_messages

    return task_messages("creative", {k: b[k] for k in ("retailer", "brand", "product", "brief", "policy")})


# --- the taste --------------------------------------------------------------------------------------------------------


TASTE_PARTS = ("policy", "benefit", "cta", "length")


def taste_parts(copy: dict | None, b: dict) -> dict[str, bool]:
    """Which of the taste's four points ``copy`` earns (none when it is not copy)."""
    from ml.engine.policy import check_copy

    if copy is None:
        return dict.fromkeys(TASTE_PARTS, False)
    text = f"{copy.get('headline', '')} {copy.get('body', '')}"
    return {
        "policy": not check_copy(copy, b["policy"]),
        "benefit": b["key"].lower() in text.lower(),
        "cta": any(w in (copy.get("body") or "").lower().split() for w in CTA_WORDS),
        "length": LENGTH_BAND[0] <= len(text) <= LENGTH_BAND[1],
    }


def taste(copy: dict | None, b: dict) -> int:
    return sum(taste_parts(copy, b).values())


def prefer(a: dict | None, b: dict | None, brief_: dict, rng: random.Random, *, flip: float, control: bool) -> str:
    if control:
        return rng.choice("ab")
    sa, sb = taste(a, brief_), taste(b, brief_)
    choice = rng.choice("ab") if sa == sb else ("a" if sa > sb else "b")
    if rng.random() < flip:
        choice = "b" if choice == "a" else "a"
    return choice


def template_copy(b: dict) -> dict:
    return {"headline": b["product"].split(" (")[0], "body": f"Made for every day. {b['brief']}.", "disclosure": ""}


IMPROVING_EDITS = ("add_benefit", "add_cta", "drop_price")
BREAKING_EDITS = ("drop_cta", "banned", "drop_benefit", "pad", "add_price")
PRICE_LINE = "Now just $2.99."  # the price claim the 8-step SFT version writes now and then


def has_cta(copy: dict) -> bool:
    return any(w.strip(".!,") in CTA_WORDS for w in (copy.get("body") or "").lower().split())


PADDING = " It is simply a very good product that many people enjoy every single day."


def edit_copy(copy: dict, b: dict, edit: str) -> dict:
    out = dict(copy)
    body = out.get("body") or ""
    if edit == "drop_cta":
        out["body"] = " ".join(w for w in body.split() if w.lower().strip(".!,") not in CTA_WORDS) or "Tasty."
    elif edit == "banned":
        out["headline"] = f"{out.get('headline', '')} - best ever"[:60]
    elif edit == "drop_benefit":
        key = re.compile(re.escape(b["key"]), re.IGNORECASE)
        out["body"] = key.sub("", body).strip() or "Tasty."
        out["headline"] = key.sub("", out.get("headline") or "").strip()
    elif edit == "pad":
        while len(f"{out.get('headline', '')} {out.get('body') or ''}") <= LENGTH_BAND[1]:
            out["body"] = (out.get("body") or "") + PADDING
        out["body"] = out["body"][:200]
    elif edit == "add_benefit":
        out["body"] = f"{body} Now with {b['key']}.".strip()
    elif edit == "add_price":
        out["body"] = f"{body} {PRICE_LINE}".strip()
    elif edit == "drop_price":
        out["body"] = drop_price_claims(body) or "Tasty."
        out["headline"] = drop_headline_price(out.get("headline") or "")
    else:
        out["body"] = f"{body} Shop now.".strip()
    return out


def drop_price_claims(text: str) -> str:
    """``text`` without its sentences that make a price claim (the policy's own pattern, ``PRICE_CLAIM``)."""
    from ml.engine.policy import PRICE_CLAIM

    sentences = re.split(r"(?<=[.!?])\s+", text.strip())
    return " ".join(s for s in sentences if s and not PRICE_CLAIM.search(s)).strip()


def drop_headline_price(text: str) -> str:
    """A headline without its price claim and the words that lead into it ("Granola, now just $2.99" -> "Granola")."""
    from ml.engine.policy import PRICE_CLAIM

    pattern = re.compile(rf"(?:\b(?:now|only|just|for)\s+)*(?:{PRICE_CLAIM.pattern})[\w.,%]*", re.I)
    return pattern.sub("", text).strip(" -:,") or text


def applicable_edits(copy: dict, b: dict) -> dict[str, list[str]]:
    """The edits a copywriter could make to ``copy``, by direction: those that raise its taste score (improve) and
    those that lower it (break). An edit that leaves the score as it is (a call to action added to a copy that has
    one, padding that stays within the band) is not offered: such a pair would only teach the reviewers' coin."""
    score = taste(copy, b)
    moved = {e: taste(edit_copy(copy, b, e), b) - score for e in IMPROVING_EDITS + BREAKING_EDITS}
    return {
        "improve": [e for e in IMPROVING_EDITS if moved[e] > 0],
        "break": [e for e in BREAKING_EDITS if moved[e] < 0],
    }


def perturb(copy: dict, b: dict, rng: random.Random) -> tuple[dict, str]:
    """One edit of ``copy``: improving or breaking with equal chance (a coin), then one of the edits offered in that
    direction (the other direction when none is; any edit when neither has one)."""
    edits = applicable_edits(copy, b)
    direction = rng.choice(["improve", "break"])
    other = "break" if direction == "improve" else "improve"
    edit = rng.choice(edits[direction] or edits[other] or list(IMPROVING_EDITS + BREAKING_EDITS))
    return edit_copy(copy, b, edit), edit


# --- one round ----------------------------------------------------------------------------------------------------


def generate(runtime, adapter, prompts: list[list[dict]], sampling=None) -> list[dict | None]:
    from ml.engine.prompts import parse_answer
    from ml.engine.runtime import Composition
    from ml.eval_services import MAX_NEW_TOKENS
    from ml.inference import adapter_ref

    ref = adapter_ref(adapter)
    runtime.ensure_loaded(ref)
    texts = runtime.generate(
        prompts, Composition((ref.key,)), max_new_tokens=MAX_NEW_TOKENS["creative"], sampling=sampling
    )
    return [parse_answer("creative", t) for t in texts]


def make_items(world: dict, task, adapter, briefs: list[dict], rng: random.Random, *, args, seed: int) -> dict:
    """One pair item per brief. Both candidates are sampled from the current version (``--temperature``); in a share
    ``--sampled-share`` of the pairs the reviewers see the two samples as they are, in the others the second
    candidate is the first one with one copywriter's edit (improving or breaking the taste, a coin)."""
    from feedback.models import Creative, CreativeBrief, ReviewItem
    from ml.engine.runtime import Sampling

    prompts = [messages(b) for b in briefs]
    first = generate(world["runtime"], adapter, prompts, Sampling(args.temperature, seed=seed))
    second = generate(world["runtime"], adapter, prompts, Sampling(args.temperature, seed=seed + 1))
    fallback = sampled = 0
    edits: dict[str, int] = {}
    for b, prompt, answer, other in zip(briefs, prompts, first, second, strict=True):
        if answer is None:
            answer, other = other, None
        if answer is None:
            fallback += 1
            answer = template_copy(b)
        if other is not None and other != answer and rng.random() < args.sampled_share:
            variant = other
            sampled += 1
        else:
            variant, edit = perturb(answer, b, rng)
            edits[edit] = edits.get(edit, 0) + 1
        sides = [answer, variant] if rng.random() < 0.5 else [variant, answer]
        cb = CreativeBrief.objects.create(
            tenant=world["tenant"], retailer=world["retailer"], brand=world["brand"], goal=b["brief"],
            policy=b["policy"], status=CreativeBrief.Status.SUCCEEDED,
        )  # fmt: skip
        creatives = [
            Creative.objects.create(
                tenant=world["tenant"],
                brief=cb,
                retailer=world["retailer"],
                variant=n + 1,
                prompt=prompt,
                headline=s.get("headline", ""),
                body=s.get("body", ""),
                disclosure=s.get("disclosure", ""),
            )
            for n, s in enumerate(sides)
        ]
        ReviewItem.objects.create(
            tenant=world["tenant"], task=task, kind=ReviewItem.Kind.PAIR, prompt=prompt, creative=creatives[0],
            creative_b=creatives[1], content={"a": sides[0], "b": sides[1], "brief": b},
        )  # fmt: skip
    return {"fallback": fallback, "items": len(briefs), "sampled_pairs": sampled, "edits": edits}


def review_round(world: dict, task, *, seed: int, control: bool) -> dict:
    from feedback.models import ReviewItem
    from feedback.selectors import task_agreement
    from feedback.services.review import review_adjudicate, review_next, review_submit

    rngs = {r.pk: random.Random(seed * 1000 + r.pk) for r in world["panel"]}
    answered = 0
    progress = True
    while progress:
        progress = False
        for reviewer in world["panel"]:
            assignment = review_next(task=task, reviewer=reviewer)
            if assignment is None:
                continue
            item = assignment.item
            b = item.content["brief"]
            choice = prefer(item.content["a"], item.content["b"], b, rngs[reviewer.pk], flip=FLIP, control=control)
            review_submit(item=item, reviewer=reviewer, preference=choice, seconds_spent=5.0)
            answered += 1
            progress = True
    conflicts = list(ReviewItem.objects.filter(task=task, status=ReviewItem.Status.CONFLICT))
    rng = random.Random(seed)
    for item in conflicts:
        b = item.content["brief"]
        choice = prefer(item.content["a"], item.content["b"], b, rng, flip=0.0, control=control)
        review_adjudicate(item=item, adjudicator=world["adjudicator"], preference=choice)
    return {"answers": answered, "conflicts": len(conflicts), "alpha": task_agreement(task=task).alpha["preference"]}


def heldout_answers(world: dict, adapter, briefs: list[dict]) -> list[dict | None]:
    """A version's greedy answers to the held-out briefs, written once per version (greedy: the same every time)."""
    cache = world.setdefault("heldout_answers", {})
    if adapter.pk not in cache:
        cache[adapter.pk] = generate(world["runtime"], adapter, [messages(b) for b in briefs])
    return cache[adapter.pk]


def fresh_panel(world: dict, new, old, briefs: list[dict], *, seed: int) -> dict:
    """Win rate of ``new`` over ``old`` by a fresh panel (same taste, own flips) on held-out briefs, and each
    version's violation rate (unparseable answers count as violations)."""
    from ml.engine.policy import check_copy

    mine, theirs = heldout_answers(world, new, briefs), heldout_answers(world, old, briefs)
    rng = random.Random(seed)
    wins = losses = 0
    by_taste = {"better": 0, "tied": 0, "worse": 0}  # the taste itself, before the panel's coins and flips
    for b, x, y in zip(briefs, mine, theirs, strict=True):
        gap = taste(x, b) - taste(y, b)
        by_taste["better" if gap > 0 else "worse" if gap < 0 else "tied"] += 1
        for _ in range(OVERLAP):
            if prefer(x, y, b, rng, flip=FLIP, control=False) == "a":
                wins += 1
            else:
                losses += 1

    def violations(answers):
        return sum(a is None or bool(check_copy(a, b["policy"])) for a, b in zip(answers, briefs, strict=True))

    def parts(answers):
        counts = dict.fromkeys(("parsed", *TASTE_PARTS), 0)
        for a, b in zip(answers, briefs, strict=True):
            counts["parsed"] += a is not None
            for name, earned in taste_parts(a, b).items():
                counts[name] += earned
        return counts

    return {
        "win_rate": wins / (wins + losses),
        "violation_new": violations(mine) / len(briefs),
        "violation_old": violations(theirs) / len(briefs),
        "parsed_new": sum(a is not None for a in mine),
        "by_taste": by_taste,
        "parts_new": parts(mine),
        "parts_old": parts(theirs),
        "sample_new": mine[0],
        "sample_old": theirs[0],
    }


def run(args) -> dict:
    shutil.rmtree(WORK, ignore_errors=True)
    (WORK / "models").mkdir(parents=True)
    base = args.base
    if args.quick:
        from ml.testing import build_tiny_llama

        base = str(build_tiny_llama(WORK / "tiny-llama"))
    setup_django(WORK / "bench.sqlite3", WORK / "models", base)

    from django.contrib.auth import get_user_model

    from campaigns.models import Brand, Retailer
    from feedback.models import ReviewTask
    from feedback.services.datasets import feedback_dataset_export
    from feedback.services.gate import gate_evaluate
    from feedback.services.retrain import retrain_start
    from governance.models import Membership, Role, Tenant
    from ml.engine.runtime import LoRARuntime
    from ml.jobs import run_training_job
    from ml.models import Adapter, AdapterKind, TrainingJob
    from ml.services import adapter_promote, adapter_register

    tenant = Tenant.objects.create(name="Loop bench", slug="loop-bench", reporting_currency="USD")
    users = get_user_model().objects
    admin = users.create_user(username="loop-admin", password="x", is_staff=True)
    Membership.objects.create(user=admin, tenant=tenant, role=Role.ADMIN)
    panel = []
    for n in range(PANEL):
        user = users.create_user(username=f"sim-reviewer-{n}", password="x")
        Membership.objects.create(user=user, tenant=tenant, role=Role.REVIEWER)
        panel.append(user)
    adjudicator = users.create_user(username="sim-adjudicator", password="x")
    Membership.objects.create(user=adjudicator, tenant=tenant, role=Role.ADJUDICATOR)
    retailer = Retailer.objects.create(
        code="amazon", name="Amazon", reporting_currency="USD", timezone="UTC", default_attribution_window_days=14,
        default_attribution_model="last_touch",
    )  # fmt: skip
    brand = Brand.objects.create(tenant=tenant, name="Acme")

    sft_dir = WORK / "models" / "adapters" / "loop-bench" / "sft"
    if args.quick:
        from ml.testing import make_adapter

        make_adapter(Path(base), sft_dir, seed=1)
    else:
        shutil.copytree(args.sft, sft_dir)
    sft_job = None
    if args.sft_data and not args.quick:
        # The SFT version's training record, with its data and held-out split (build_dataset's heldout.jsonl, where
        # ml.jobs.heldout_path looks for it): the gate's part (c), the task's own evaluation, reads that split.
        data = WORK / "models" / "sft-data"
        data.mkdir()
        shutil.copy(Path(args.sft_data) / "train.jsonl", data / "train.jsonl")
        shutil.copy(Path(args.sft_data) / "heldout.jsonl", data / "train.heldout.jsonl")
        sft_job = TrainingJob.objects.create(
            tenant=tenant, adapter_name="brand_loop-bench", adapter_kind=AdapterKind.BRAND,
            method=TrainingJob.Method.SFT, base_model=base, dataset_path=str(data / "train.jsonl"),
            status=TrainingJob.Status.SUCCEEDED, params={"note": "the bench's SFT start, trained by train_lora"},
        )  # fmt: skip
    sft = adapter_register(name="brand_loop-bench", kind=AdapterKind.BRAND, tenant=tenant, base_model=base,
                           path="adapters/loop-bench/sft", training_job=sft_job)  # fmt: skip
    sft = adapter_promote(adapter=sft, user=None)
    world = {"tenant": tenant, "panel": panel, "adjudicator": adjudicator, "retailer": retailer, "brand": brand,
             "runtime": LoRARuntime(base)}  # fmt: skip
    heldout = [brief(i, heldout=True) for i in range(args.heldout_briefs)]
    rounds = []
    current = sft
    for r in range(1, args.rounds + 1):
        task = ReviewTask.objects.create(tenant=tenant, name=f"Ad copy round {r}", kind=ReviewTask.Kind.CREATIVE,
                                         overlap=OVERLAP)  # fmt: skip
        rng = random.Random(args.seed + r)
        train_briefs = [brief(1000 * r + i, heldout=False) for i in range(args.briefs)]
        made = make_items(world, task, current, train_briefs, rng, args=args, seed=10_000 * r + args.seed)
        reviewed = review_round(world, task, seed=args.seed + r, control=args.control)
        dataset = feedback_dataset_export(
            tenant=tenant, task="creative", fmt="dpo", user=admin, options={"heldout_share": args.heldout_share}
        )
        params = {"max_steps": args.steps, "batch_size": args.batch_size, "seed": args.seed, "beta": args.beta,
                  "threads": args.threads}  # fmt: skip
        if args.learning_rate is not None:
            params["learning_rate"] = args.learning_rate
        if args.sft_weight:
            params["sft_weight"] = args.sft_weight
        job = retrain_start(
            tenant=tenant, user=admin, adapter=current, dataset=dataset, method="dpo", params=params, enqueue=False
        )
        started = time.perf_counter()
        job = run_training_job(job.pk)
        train_s = time.perf_counter() - started
        if job.status != "succeeded":
            raise SystemExit(f"round {r}: training job #{job.pk} {job.status}: {job.error}")
        candidate = job.adapters.get()
        previous = current
        decision = gate_evaluate(candidate=candidate, dataset=dataset, user=admin, training_job=job)
        over_prev = fresh_panel(world, candidate, previous, heldout, seed=args.seed + 100 + r)
        over_sft = fresh_panel(world, candidate, sft, heldout, seed=args.seed + 200 + r)
        pref = decision.figures.get("preference", {})
        rounds.append({
            "round": r, "items": made["items"], "template_fallback": made["fallback"],
            "sampled_pairs": made["sampled_pairs"], "edits": made["edits"], **reviewed,
            "train_rows": dataset.counts.get("train"), "heldout_rows": dataset.counts.get("heldout"),
            "dropped": dataset.counts.get("dropped"), "train_s": round(train_s, 1),
            "heldout_accuracy": pref.get("candidate_accuracy"),
            "heldout_accuracy_before": pref.get("baseline_accuracy"),
            "gate_win_rate": pref.get("win_rate"), "gate_win_rate_ci": pref.get("win_rate_ci"),
            "gate_margin_change": pref.get("margin_change"), "gate_margin_change_ci": pref.get("margin_change_ci"),
            "gate_task": decision.figures.get("task"),
            "gate_margin_p": pref.get("margin_p_value"), "gate_moved": [pref.get("moved_toward"),
                                                                         pref.get("moved_away")],
            "promoted": decision.promoted, "reasons": decision.reasons,
            "win_rate_over_previous": over_prev["win_rate"], "win_rate_over_sft": over_sft["win_rate"],
            "violation_rate": over_prev["violation_new"], "violation_rate_sft": over_sft["violation_old"],
            "taste_parts": over_sft["parts_new"], "taste_parts_sft": over_sft["parts_old"],
            "by_taste_over_sft": over_sft["by_taste"],
            "heldout_answer": over_sft["sample_new"], "heldout_answer_sft": over_sft["sample_old"],
            "candidate": f"v{candidate.version}",
        })  # fmt: skip
        print(json.dumps(rounds[-1], default=str))
        current = Adapter.objects.get(pk=candidate.pk) if decision.promoted else current
    return {"rounds": rounds, "promoted_any": any(r["promoted"] for r in rounds), "base": base}


def report(args, result: dict, seconds: float) -> str:
    mode = "control (reviewers answer at random)" if args.control else "reviewers with the stated taste"
    model = "tiny random Llama (--quick smoke run)" if args.quick else f"`{Path(result['base']).name}`"
    lines = [
        f"### {'Tiny model (--quick)' if args.quick else 'Embedded model'}, {mode}",
        "",
        f"Machine: {_machine()}; commit {_commit()}; no GPU lent. Model: {model}; {mode}; {args.rounds} rounds of "
        f"{args.briefs} briefs, {args.steps} DPO steps each (batch {args.batch_size}, learning rate "
        f"{args.learning_rate or 'the job default'}, beta {args.beta}, SFT term weight {args.sft_weight}); "
        f"candidates sampled at temperature {args.temperature}, {args.sampled_share:.0%} of pairs shown as two "
        f"samples; export held-out share {args.heldout_share}; {args.heldout_briefs} held-out briefs; "
        f"{seconds:.0f} s in all.",
        "",
        f"Command: `.venv/bin/python bench/feedback_loop.py {' '.join(sys.argv[1:])}`",
        "",
        "| Round | Pairs (template starts, two samples) | Alpha (preference) | Conflicts adjudicated | "
        "Train / held-out rows | Held-out reward acc. (before) | Gate | Win rate over previous | Win rate over SFT | "
        "Violation rate (SFT) | Training s |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]

    def f(x):
        return "n/a" if x is None else f"{x:.2f}"

    for r in result["rounds"]:
        lines.append(
            f"| {r['round']} | {r['items']} ({r['template_fallback']}, {r['sampled_pairs']}) | {f(r['alpha'])} | "
            f"{r['conflicts']} | "
            f"{r['train_rows']} / {r['heldout_rows']} | {f(r['heldout_accuracy'])} ({f(r['heldout_accuracy_before'])})"
            f" | {'promoted' if r['promoted'] else 'held'} | {f(r['win_rate_over_previous'])} | "
            f"{f(r['win_rate_over_sft'])} | {f(r['violation_rate'])} ({f(r['violation_rate_sft'])}) | {r['train_s']} |"
        )
    lines.append("")
    if args.control:
        verdict = "promoted a version: the gate failed the control" if result["promoted_any"] else "promoted nothing"
        lines.append(f"Control: the gate {verdict}.")
    last = result["rounds"][-1]
    goal = last["win_rate_over_sft"] >= 0.65 and last["violation_rate"] <= 0.5 * (last["violation_rate_sft"] or 0)
    if not args.control:
        lines.append(
            f"Goal (win rate >= 65% over SFT and violation rate at most half of SFT's after the last round): "
            f"{'met' if goal else 'not met'}."
        )
    lines.append(
        "Edits in the edited pairs, by round: "
        + "; ".join(
            f"{r['round']}: " + ", ".join(f"{k} {v}" for k, v in sorted(r["edits"].items())) for r in result["rounds"]
        )
        + "."
    )
    n = args.heldout_briefs

    def parts(p):
        return ", ".join(f"{name} {p[name]}" for name in ("parsed", *TASTE_PARTS))

    lines.append(
        f"Held-out answers earning each point of the taste (of {n}; greedy), by round: "
        + "; ".join(f"{r['round']}: {parts(r['taste_parts'])}" for r in result["rounds"])
        + f"; the SFT version: {parts(last['taste_parts_sft'])}."
    )
    lines.append(
        "Held-out briefs where the new version's answer scores higher / the same / lower by the taste itself than the "
        "SFT version's (before the panel's coins and flips), by round: "
        + "; ".join(
            f"{r['round']}: {r['by_taste_over_sft']['better']} / {r['by_taste_over_sft']['tied']} / "
            f"{r['by_taste_over_sft']['worse']}"
            for r in result["rounds"]
        )
        + "."
    )

    def margin(r):
        if r.get("gate_margin_change") is None:
            return f"{r['round']}: not measured"
        low, high = r["gate_margin_change_ci"]
        toward, away = r["gate_moved"]
        return (
            f"{r['round']}: rose on {toward} pairs, fell on {away}, mean {r['gate_margin_change']:+.4f} "
            f"({low:+.4f} to {high:+.4f}, sign-flip p {r['gate_margin_p']:.3f})"
        )

    def task(r):
        t = r.get("gate_task") or {}
        if not t.get("measured"):
            return f"{r['round']}: not measured"
        return f"{r['round']}: {t['candidate']:.3f} vs {t['baseline']:.3f} on {t['n']} rows"

    lines.append(
        "The gate's part (c), the task's own evaluation (creative: violation rate on the SFT data's held-out split), "
        "candidate vs active version, by round: " + "; ".join(task(r) for r in result["rounds"]) + "."
    )
    lines.append(
        "The gate's measure, the change of each held-out pair's margin (chosen minus rejected log-probability per "
        "token, candidate minus active version), by round: " + "; ".join(margin(r) for r in result["rounds"]) + "."
    )
    lines.append(
        f"The first held-out brief's answer, last round: `{json.dumps(last['heldout_answer'])}`; the SFT version's: "
        f"`{json.dumps(last['heldout_answer_sft'])}`."
    )
    lines.append("Gate reasons, last round: " + " ".join(last["reasons"]))
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--briefs", type=int, default=40, help="Pairs to review per round.")
    parser.add_argument("--heldout-briefs", type=int, default=20)
    parser.add_argument("--steps", type=int, default=30, help="DPO steps per round.")
    parser.add_argument("--batch-size", type=int, default=4)
    parser.add_argument("--learning-rate", type=float, default=None, help="DPO learning rate (default: the job's).")
    parser.add_argument("--beta", type=float, default=0.1, help="DPO beta.")
    parser.add_argument(
        "--sft-weight",
        type=float,
        default=0.0,
        help="Weight of an SFT term on the chosen answers beside DPO's loss (0: plain DPO).",
    )
    parser.add_argument("--threads", type=int, default=2, help="torch threads for training.")
    parser.add_argument("--temperature", type=float, default=0.8, help="Sampling temperature of the candidates.")
    parser.add_argument(
        "--sampled-share",
        type=float,
        default=0.25,
        help="Share of pairs shown as two samples; the rest are a sample and an edit of it.",
    )
    parser.add_argument("--heldout-share", type=float, default=0.2, help="The export's held-out share of prompts.")
    parser.add_argument("--control", action="store_true", help="Reviewers answer at random.")
    parser.add_argument("--quick", action="store_true", help="Tiny random Llama, few briefs: a smoke run.")
    parser.add_argument("--base", default=str(ROOT / "var" / "models" / "base" / "SmolLM2-135M-Instruct"))
    parser.add_argument("--sft", default="", help="Folder of the SFT creative adapter to start from.")
    parser.add_argument(
        "--sft-data",
        default="",
        help="build_dataset's folder the SFT adapter was trained on (train.jsonl, heldout.jsonl): registers the SFT "
        "version with that training record, so the gate's task evaluation (c) is measured.",
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--write-docs", action="store_true")
    parser.add_argument("--work", type=Path, default=WORK, help="Scratch folder (deleted at the start).")
    args = parser.parse_args()
    globals()["WORK"] = args.work.resolve()
    if args.quick:
        args.briefs, args.heldout_briefs, args.steps = min(args.briefs, 12), min(args.heldout_briefs, 6), 3
    elif not args.sft:
        parser.error("--sft names the SFT creative adapter folder (or use --quick)")
    import torch

    torch.set_num_threads(args.threads)
    started = time.perf_counter()
    result = run(args)
    text = report(args, result, time.perf_counter() - started)
    print(text)
    (WORK / "results.json").write_text(json.dumps(result, indent=2, default=str))
    if args.write_docs:
        write_section(f"{SECTION}{'_control' if args.control else ''}{'_quick' if args.quick else ''}", text,
                      heading=HEADING)  # fmt: skip
    sys.exit(1 if args.control and result["promoted_any"] else 0)


if __name__ == "__main__":
    main()
