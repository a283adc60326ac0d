"""Are the explanations faithful? Deletion and modality tests on ml-100k-mm, and their latency.

Usage: python bench/explanations.py --data ML --features FEATS [--config CONFIG]
           [--seeds 0 1 2] [--pairs 1000] [--scratch DIR] --out FILE.json

ML is a prepared ml-100k-mm (`mmrec-tf prepare movielens-100k`), FEATS its
features (`mmrec-tf extract-features`), CONFIG a configuration of a model
that reads histories (configs/ml-100k-mm-history.json by default). For each
seed: `train` (a complete run under --scratch is reused), export, and draw
`--pairs` (user, recommended item) pairs without repeats among the top 10
of the users with at least 6 training interactions. A user's past items are
their latest training interactions, as `explain` weighs them; every score
below is the Keras model's own (`score_histories`, the user's ID embedding
included), recomputed from scratch, not the explanation's arithmetic.

- `deletion_top1`: the share of pairs where removing the past item with the
  largest `past_share` lowers the item's score more than removing a random
  other past item;
- `deletion_top3`: where removing the three largest lowers the item's rank
  (among the items the user has not seen) more than removing three random
  others;
- `modality`: among pairs whose largest and smallest `modality_share` differ
  by more than 0.1, where blanking the largest's modality for the item (its
  present flag 0 in the model: content tower, graphs and user recomputed)
  lowers the score more than blanking the smallest's;
- `latency_ratio`: the median time of `explain` for one user's 10
  recommendations over that of `recommend(user, k=10)`, both through the
  SavedModel in this process (200 users, interleaved, after a warm-up).

The same deletion tests are run for other attributions of past items, to
show what `past_share` (leave-one-out against the item the model expects of
the user) buys: `score_loss`, the plain leave-one-out score loss
(u − u⁽⁻ʲ⁾) · v_i; `average_item`, (u − u⁽⁻ʲ⁾) · (v_i − v̄) against the mean
item; the history encoder's attention weights (of the latest position's
query, mean over heads); the item similarity v_j · v_i; and `rank_change`,
the item's exact rank after removing each past item alone (ties broken by
the score loss), a ceiling for any one-item-at-a-time attribution on the
rank test. `deletion_top3_decided` is the rank test among the pairs where
the two removals leave different ranks (where both leave the rank as it
was, the strict test counts a failure). Figures are means over seeds, each
seed's kept.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import numpy as np

TARGETS = ("deletion_top1", "deletion_top3", "modality", "latency_ratio")
ATTRIBUTIONS = (
    "past_share", "score_loss", "average_item", "attention", "similarity", "rank_change"
)  # fmt: skip
K = 10


def trained_run(args, seed: int) -> Path:
    from mmrec_tf.training import RunDirectory, train
    from mmrec_tf.training.recorder import is_complete

    run = args.scratch / f"run-{seed}"
    if run.exists() and is_complete(RunDirectory(run).state(), RunDirectory(run).config()):
        return run
    config = args.scratch / f"config-{seed}.json"
    config.write_text(json.dumps({**json.loads(args.config.read_text()), "seed": seed}))
    return train(args.data, config, run, args.features, resume=run.exists(), verbose=0)


def draw_pairs(model, stored, seen, pairs: int, rng) -> tuple[np.ndarray, np.ndarray]:
    """(users, items) [pairs]: distinct (user, top-10 item) pairs of users with ≥ 6 past items."""
    users = np.flatnonzero((stored >= 0).sum(axis=1) >= 6)
    scores = model.score_users(users)
    scores[seen[users]] = -np.inf
    top = np.argsort(-scores, axis=1)[:, :K]
    chosen = rng.choice(top.size, size=min(pairs, top.size), replace=False)
    return users[chosen // K], top.ravel()[chosen]


def attention_weights(model, window, items):
    """The history encoder's attention of the latest position over the window [B, L]."""
    from keras import ops

    encoder = model.user_side.history_encoder
    present = window >= 0
    tokens = ops.take(items, np.maximum(window, 0), axis=0)
    h = tokens * present[..., None] + encoder.positions
    _, weights = encoder.attention(h, mask=present, queries=h[:, -1:], return_attention_scores=True)
    return ops.convert_to_numpy(ops.mean(weights, axis=1))[:, 0]


def rank_changes(model, stored, seen, users, items, losses, vectors):
    """[pairs, L]: the item's rank without each past item less its rank with all of
    them (the scores without j are s − Δu_j · v, exactly: the encoder's output is
    all that changes), plus the score loss / 1000 to break ties."""
    scores = model.score_histories(stored[users], users)
    changes = np.zeros(losses.shape[:2])
    for row, (user, item) in enumerate(zip(users, items, strict=True)):
        without = scores[row] - losses[row] @ vectors.T  # [L, num_items]
        unseen = ~seen[user]
        rank = ((scores[row] > scores[row, item]) & unseen).sum()
        ranks = ((without > without[:, item : item + 1]) & unseen).sum(axis=1)
        changes[row] = ranks - rank + 1e-3 * np.tanh(scores[row, item] - without[:, item])
    return changes


def scores_of(model, histories, users, items):
    """The model's scores of `items` [n] for `histories` [n, L'] of `users` [n]."""
    out = []
    for start in range(0, len(users), 500):
        part = slice(start, start + 500)
        scores = model.score_histories(histories[part], users[part])
        out.append(scores[np.arange(len(scores)), items[part]])
    return np.concatenate(out)


def ranks_of(model, histories, users, items, seen):
    """Each item's rank among the items its user has not seen (0: first)."""
    ranks = []
    for start in range(0, len(users), 500):
        part = slice(start, start + 500)
        scores = model.score_histories(histories[part], users[part])
        scores[seen[users[part]]] = -np.inf
        own = scores[np.arange(len(scores)), items[part]]
        ranks.append((scores > own[:, None]).sum(axis=1))
    return np.concatenate(ranks)


def without(stored, positions):
    """`stored` [L + 1] without the window positions `positions` (an older item enters)."""
    return np.delete(stored, [1 + p for p in positions])


def deletion_tests(model, stored, seen, users, items, attribution, rng) -> dict:
    """deletion_top1 and deletion_top3 of one attribution [pairs, L] of the window."""
    rows = {"top1": [], "random1": [], "top3": [], "random3": []}
    for user, attributed in zip(users, attribution, strict=True):
        present = np.flatnonzero(stored[user, 1:] >= 0)
        order = present[np.argsort(-attributed[present], kind="stable")]
        others = rng.permutation(present)
        rows["top1"].append(without(stored[user], order[:1]))
        rows["random1"].append(without(stored[user], [p for p in others if p != order[0]][:1]))
        rows["top3"].append(without(stored[user], order[:3]))
        rows["random3"].append(without(stored[user], [p for p in others if p not in order[:3]][:3]))
    histories = {key: np.stack(value) for key, value in rows.items()}
    top1 = scores_of(model, histories["top1"], users, items)
    random1 = scores_of(model, histories["random1"], users, items)
    top3 = ranks_of(model, histories["top3"], users, items, seen)
    random3 = ranks_of(model, histories["random3"], users, items, seen)
    decided = top3 != random3
    return {
        "deletion_top1": float(np.mean(top1 < random1)),
        "deletion_top3": float(np.mean(top3 > random3)),
        "deletion_top3_decided": float(np.mean(top3[decided] > random3[decided])),
    }


def modality_test(model, stored, users, items, shares) -> tuple[float, int]:
    """The share of pairs (largest − smallest share > 0.1) where blanking the largest
    share's modality lowers the score more than blanking the smallest's."""
    chosen = np.flatnonzero(shares.max(axis=1) - shares.min(axis=1) > 0.1)
    modalities = model.modalities
    blanked = {m: np.zeros(len(users)) for m in modalities}
    for item in np.unique(items[chosen]):
        rows = chosen[items[chosen] == item]
        for m in modalities:
            flags = model.item_side.present[m].numpy()
            model.item_side.present[m].assign(np.where(np.arange(len(flags)) == item, 0, flags))
            blanked[m][rows] = scores_of(model, stored[users[rows]], users[rows], items[rows])
            model.item_side.present[m].assign(flags)
    lowest = np.stack([blanked[m] for m in modalities], 1)[chosen]
    largest, smallest = shares[chosen].argmax(axis=1), shares[chosen].argmin(axis=1)
    picked = np.arange(len(chosen))
    return float(np.mean(lowest[picked, largest] < lowest[picked, smallest])), len(chosen)


def latency_ratio(path: Path, dataset, model, seen, rng, users: int = 200) -> dict:
    import tensorflow as tf

    served = tf.saved_model.load(str(path))
    chosen = rng.choice(dataset.num_users, size=min(users, dataset.num_users), replace=False)
    k = tf.constant(K)
    times = {"recommend": [], "explain": []}
    for round_ in range(2):  # the first round warms up
        for user in chosen:
            user_id = tf.constant([dataset.user_ids[user]])
            start = time.perf_counter()
            top = served.recommend(user_id, k)["item_id"]
            middle = time.perf_counter()
            served.explain(tf.constant([dataset.user_ids[user]] * K), top[0])
            end = time.perf_counter()
            if round_:
                times["recommend"].append(middle - start)
                times["explain"].append(end - middle)
    medians = {name: statistics.median(values) * 1e3 for name, values in times.items()}
    return {
        "recommend_ms": medians["recommend"],
        "explain_ms": medians["explain"],
        "latency_ratio": medians["explain"] / medians["recommend"],
    }


def one_seed(args, seed: int) -> dict:
    from keras import ops

    from mmrec_tf.data.histories import Sequences
    from mmrec_tf.models import load_recommender
    from mmrec_tf.serving import Explainer, export_recommender
    from mmrec_tf.serving.explanations import removal_losses
    from mmrec_tf.training import RunDirectory

    run = RunDirectory(trained_run(args, seed))
    dataset, model = run.dataset(), load_recommender(run.best_model_path)
    stored = Sequences.from_dataset(dataset, ["train"]).latest(model.history_length + 1)
    seen = np.zeros((dataset.num_users, dataset.num_items), bool)
    seen[dataset.interactions("train")] = True
    rng = np.random.default_rng(seed)
    users, items = draw_pairs(model, stored, seen, args.pairs, rng)
    why = Explainer(model, dataset).explain(
        np.array(dataset.user_ids)[users], np.array(dataset.item_ids)[items]
    )
    vectors = ops.convert_to_numpy(model.inference_vectors()[1])
    window = stored[users, 1:]
    packed = stored[users]
    losses = removal_losses(model.user_side.history_encoder, lambda rows: vectors[rows], packed)
    losses = np.asarray(losses)[:, 1:]
    attributions = {
        "past_share": why["past_share"],
        "score_loss": np.einsum("bpd,bd->bp", losses, vectors[items]),
        "average_item": np.einsum("bpd,bd->bp", losses, vectors[items] - vectors.mean(axis=0)),
        "attention": attention_weights(model, window, vectors),
        "similarity": np.einsum("bld,bd->bl", vectors[np.maximum(window, 0)], vectors[items]),
        "rank_change": rank_changes(model, stored, seen, users, items, losses, vectors),
    }
    result = {"pairs": len(users), "modalities": why["modalities"].tolist()}
    for name in ATTRIBUTIONS:
        tests = deletion_tests(model, stored, seen, users, items, attributions[name], rng)
        result[name] = tests
    result.update(result["past_share"])
    result["modality"], result["modality_pairs"] = modality_test(
        model, stored, users, items, why["modality_share"]
    )
    result["mean_content_share"] = float(np.mean(why["content_share"]))
    served = args.scratch / f"served-{seed}"
    if not served.exists():
        export_recommender(model, dataset, served)
    result.update(latency_ratio(served, dataset, model, seen, rng))
    return result


def summarise(per_seed: dict) -> dict:
    def mean(path):
        values = [seed for seed in per_seed.values()]
        for key in path:
            values = [value[key] for value in values]
        return statistics.mean(values)

    summary = {target: mean([target]) for target in TARGETS}
    tests = ("deletion_top1", "deletion_top3", "deletion_top3_decided")
    summary["baselines"] = {
        name: {test: mean([name, test]) for test in tests} for name in ATTRIBUTIONS
    }
    return {**summary, "seeds": per_seed}


def main() -> int:
    import tempfile

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--features", type=Path, required=True)
    parser.add_argument("--config", type=Path, default=Path("configs/ml-100k-mm-history.json"))
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--pairs", type=int, default=1000)
    parser.add_argument("--scratch", type=Path)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    args.scratch = args.scratch or Path(tempfile.mkdtemp(prefix="explanations-"))
    args.scratch.mkdir(parents=True, exist_ok=True)
    per_seed = {}
    for seed in args.seeds:
        per_seed[seed] = one_seed(args, seed)
        print(seed, json.dumps(per_seed[seed]), flush=True)
    results = summarise(per_seed)
    args.out.write_text(json.dumps(results, indent=1))
    print(json.dumps({key: results[key] for key in (*TARGETS, "baselines")}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
