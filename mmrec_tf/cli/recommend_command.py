"""The recommend command: a user's top K from an exported SavedModel, and with
--explain what weighs in each item's score."""

from __future__ import annotations

import sys
from pathlib import Path


def add_recommend_command(commands, common) -> None:
    recommend = commands.add_parser(
        "recommend",
        parents=[common],
        help="print a user's top K from an exported SavedModel",
        description="Load a SavedModel written by `mmrec-tf export` and print the user's top K "
        "items (title and score). An unknown user gets the most popular items. With "
        "--history (a model that reads histories), recommend from those items instead.",
    )
    recommend.add_argument("--model", type=Path, required=True, help="the SavedModel directory")
    who = recommend.add_mutually_exclusive_group(required=True)
    who.add_argument("--user", help="a user id")
    who.add_argument(
        "--history",
        metavar="ITEM[,ITEM...]",
        help="item ids the user interacted with, oldest first, comma-separated: for a new "
        "user, or one whose latest actions are newer than the model",
    )
    recommend.add_argument("-k", type=int, default=10, help="how many items (default 10)")
    recommend.add_argument(
        "--explain",
        action="store_true",
        help="under each item, the three past items that weigh most in its score and the "
        "shares of its modalities and of its content (see docs/explanations.md)",
    )
    recommend.add_argument(
        "--key-file",
        type=Path,
        help="for a model trained on pseudonymised data: --user is the real id, hashed "
        "with this key (the one `mmrec-tf pseudonymize` used) before the lookup",
    )
    recommend.set_defaults(handler=_recommend)


def _recommend(args) -> int:
    import tensorflow as tf

    if args.key_file is not None and args.user is None:
        raise ValueError("--key-file hashes --user; item ids (--history) are not pseudonymised")
    if args.k < 1:
        raise ValueError(f"-k must be at least 1. Received: {args.k}")
    pseudonymizer = None
    if args.key_file is not None:
        from mmrec_tf.data.pseudonyms import Pseudonymizer

        # Read before the model loads; a new key could match none of its users.
        pseudonymizer = Pseudonymizer.from_key_file(
            args.key_file, if_missing="it must be the key that pseudonymised the training data"
        )
    if not args.model.exists():
        raise FileNotFoundError(f"{args.model}: no such SavedModel directory")
    if not (args.model / "saved_model.pb").is_file():
        raise FileNotFoundError(f"{args.model} is not a SavedModel: run `mmrec-tf export` first")
    served = tf.saved_model.load(str(args.model))
    if not hasattr(served, "recommend"):
        raise ValueError(f"{args.model} is not a SavedModel written by `mmrec-tf export`")
    k = tf.constant(args.k, tf.int32)
    if args.history is not None:
        if not hasattr(served, "recommend_from_history"):
            raise ValueError(
                f"{args.model} does not read histories: --history needs a model that does "
                "(HistoryRecommender); use --user"
            )
        history = [item.strip() for item in args.history.split(",") if item.strip()]
        # One "" (which the SavedModel skips) for an empty history: `tf.constant([[]])`
        # would be a float tensor.
        asked = tf.constant([history or [""]], tf.string)
        out = served.recommend_from_history(asked, k)
        who = "the history"
        if int(out["ignored_items"][0]):
            print(
                f"mmrec-tf: {int(out['ignored_items'][0])} item(s) of the history are not in "
                "the model's catalogue: ignored",
                file=sys.stderr,
            )
        if bool(out["empty_history"][0]):
            what = "no item of the history is known" if history else "the history is empty"
            print(f"mmrec-tf: {what}: showing the most popular items", file=sys.stderr)
    else:
        user = args.user if pseudonymizer is None else pseudonymizer.user_id(args.user)
        asked = tf.constant([user])
        out = served.recommend(asked, k)
        who = f"user {args.user!r}"
        if not bool(out["known_user"][0]):
            hint = (
                " (if the model was trained on pseudonymised data, pass the --key-file "
                "that pseudonymised it)"
                if args.key_file is None
                else f" (hashed with {args.key_file}: another key, or a model trained on real "
                "ids, finds no one)"
            )
            print(
                f"mmrec-tf: user {args.user!r} is not in the training data: "
                f"showing the most popular items{hint}",
                file=sys.stderr,
            )
    items = out["item_id"][0].numpy()
    if len(items) < args.k:
        print(
            f"mmrec-tf: only {len(items)} item(s) are new to {who}; all of them are shown",
            file=sys.stderr,
        )
    reasons = [None] * len(items)
    if args.explain:
        reasons = _explanations(served, args, asked, out)
    titles = served.title(out["item_id"][0])["title"].numpy()
    for rank, (item, title, score, reason) in enumerate(
        zip(items, titles, out["score"][0].numpy(), reasons, strict=True), 1
    ):
        print(f"{rank:>3}  {score:9.4f}  {_named(item, title)}")
        for line in reason or ():
            print(f"{'':16}{line}")
    return 0


def _named(item: bytes, title: bytes) -> str:
    # An export without titles names items by id: once is enough.
    return item.decode() if title == item else f"{item.decode()}  {title.decode()}"


def _explanations(served, args, asked, out) -> list:
    """For each recommended item, the lines that explain it (`recommend --explain`):
    the three past items of largest share, and the modality and content shares."""
    import numpy as np
    import tensorflow as tf

    if not hasattr(served, "explain"):
        raise ValueError(f"{args.model} has no explanations: export it again with this version")
    items = out["item_id"][0]
    if args.history is None and not bool(out["known_user"][0]):
        print("mmrec-tf: no explanation for an unknown user's popular items", file=sys.stderr)
        return [None] * len(items)
    if args.history is not None:
        if bool(out["empty_history"][0]):
            print("mmrec-tf: no explanation for popular items", file=sys.stderr)
            return [None] * len(items)
        # Repeated with NumPy: `tf.repeat` runs several eager ops, slower than explain.
        past = tf.constant(np.repeat(asked.numpy(), len(items), axis=0))
        why = served.explain_from_history(past, items)
    else:
        why = served.explain(tf.constant(np.repeat(asked.numpy(), len(items))), items)
        past = why["past_item_id"]
    past_titles = served.title(tf.reshape(past, [-1]))["title"].numpy().reshape(past.shape)
    past = past.numpy()
    # A model that reads histories weighs what each past item does to the score; one
    # whose users are fitted rows can only say which of them the item is close to.
    reason = "because of" if hasattr(served, "explain_from_history") else "close to"
    modalities = [m.decode() for m in why["modalities"].numpy()]
    lines = []
    for row, shares in enumerate(why["past_share"].numpy()):
        # The past items that raise the score most, from +1% (padding weighs 0).
        top = [j for j in np.argsort(-shares, kind="stable")[:3] if shares[j] >= 0.005]
        named = ", ".join(
            f"{_named(past[row, j], past_titles[row, j])} ({_percent(shares[j])})" for j in top
        )
        present = why["modality_present"].numpy()[row]
        parts = [
            f"{m} {_percent(share) if has else 'absent'}"
            for m, share, has in zip(
                modalities, why["modality_share"].numpy()[row], present, strict=True
            )
        ]
        content = f"content {_percent(why['content_share'].numpy()[row])} against ID and graphs"
        lines.append(
            [
                f"{reason}: {named or 'no past item raises it'}",
                "; ".join([", ".join(parts), content]),
            ]
        )
    return lines


def _percent(share: float) -> str:
    """A share as a signed percentage; "0%" for one that rounds to nothing (not "-0%")."""
    return "0%" if round(share * 100) == 0 else f"{share:+.0%}"
