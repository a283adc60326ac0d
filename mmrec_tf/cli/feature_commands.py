"""The commands that encode items with frozen encoders: extract-features and
merge-features."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from mmrec_tf.names import MODALITIES


def add_extract_features_command(commands, common) -> None:
    from mmrec_tf.encoder_specs import SPEC_HELP

    extract = commands.add_parser(
        "extract-features",
        parents=[common],
        help="encode every item with a frozen encoder",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Encode every item's modality with a frozen encoder and write "
        "FEATS/<modality>.npy (float32, one row per item in the dataset's order; "
        "zeros where the item lacks the modality) and FEATS/<modality>.json "
        "(encoder, weights checksum, item ids, missing items). Interrupted runs "
        "resume; existing features are kept unless --overwrite. With --shard I/N, only "
        "shard I of N (a contiguous range of the items) goes to FEATS/<modality>.shards/, "
        "for N machines at once; `mmrec-tf merge-features` then joins the N shards. With "
        "--append, only the items added at the end of items.csv since FEATS/<modality>.npy "
        "was written are encoded (with the same encoder) and their rows appended.",
        epilog="encoders:\n" + SPEC_HELP,
    )
    extract.add_argument("--data", type=Path, required=True, help="the dataset directory")
    extract.add_argument(
        "--modality",
        required=True,
        choices=MODALITIES,
        help="which of the items' modalities to encode",
    )
    extract.add_argument("--encoder", required=True, help="encoder spec (see below)")
    extract.add_argument("--out", type=Path, required=True, help="features directory")
    extract.add_argument(
        "--batch-size", type=int, default=32, help="items encoded at once (default 32)"
    )
    extract.add_argument(
        "--chunk-size", type=int, default=512, help="items saved per resumable chunk (default 512)"
    )
    extract.add_argument("--overwrite", action="store_true", help="replace existing features")
    extract.add_argument(
        "--append",
        action="store_true",
        help="encode only the items that existing features lack (added at the end of "
        "items.csv; same encoder) and append their rows",
    )
    extract.add_argument(
        "--on-error",
        choices=["raise", "mask"],
        default="raise",
        help="a bad file stops the run (raise) or gets a zero row (mask)",
    )
    extract.add_argument(
        "--shard",
        metavar="I/N",
        help="encode only shard I of N (0 ≤ I < N): items ⌊I·n/N⌋ to ⌊(I+1)·n/N⌋ − 1 of the "
        "n in the dataset's order, into FEATS/<modality>.shards/",
    )
    extract.set_defaults(
        handler=_extract_features,
        interrupted_hint="run the same command again to resume (finished chunks are kept)",
    )


def _extract_features(args) -> int:
    from mmrec_tf.data.feature_cache import FeatureCache, FeatureShard
    from mmrec_tf.encoders.extract import extract_features

    # Parsed here, not by argparse: the parser must not import TensorFlow (through
    # mmrec_tf.data) before `program._quiet_tensorflow`.
    try:
        shard = None if args.shard is None else FeatureShard.parse(args.shard)
    except ValueError as e:
        raise ValueError(f"--shard: {e}") from None
    # The nearest existing folder on the way to --out must be a folder, not a file.
    existing = next((p for p in (args.out, *args.out.parents) if p.exists()), None)
    if existing is not None and not existing.is_dir():
        raise NotADirectoryError(
            f"--out {args.out} is a file, not a features directory"
            if existing == args.out
            else f"--out {args.out} cannot be a features directory: {existing} is a file"
        )
    cache = FeatureCache(args.out)
    # How many items the features hold before an append: it says how many it added.
    appending = args.append and cache.has(args.modality)
    held = len(cache.metadata(args.modality)["item_ids"]) if appending else 0
    path = extract_features(
        args.data,
        args.modality,
        args.encoder,
        args.out,
        shard=shard,
        append=args.append,
        batch_size=args.batch_size,
        chunk_size=args.chunk_size,
        overwrite=args.overwrite,
        on_error=args.on_error,
        progress=sys.stdout.isatty(),
    )
    appended = ""
    if args.append:
        added = len(cache.metadata(args.modality)["item_ids"]) - held
        if not added:
            print(f"no new items: {path} already holds all {held} items of {args.data}")
            return 0
        appended = f": the rows of {added} new item(s) after the {held} it held"
    print(f"wrote {path} and {path.with_suffix('.json')}{appended}")
    failed = json.loads(path.with_suffix(".json").read_text())["failed_item_ids"]
    if failed:
        print(
            f"mmrec-tf: {len(failed)} item(s) with a bad {args.modality} file got a zero row "
            f"and count as lacking it: {', '.join(failed[:5])}"
            + (" ..." if len(failed) > 5 else "")
            + f" (all in {path.with_suffix('.json')}, failed_item_ids)",
            file=sys.stderr,
        )
    if shard is not None:
        print(
            f"once all {shard.count} shards are in {args.out}: mmrec-tf merge-features "
            f"--features {args.out} --modality {args.modality}"
        )
    return 0


def add_merge_features_command(commands, common) -> None:
    merge = commands.add_parser(
        "merge-features",
        parents=[common],
        help="join the shards of `extract-features --shard`",
        description="Check that the shards in FEATS/<modality>.shards/ agree (encoder, weights "
        "checksum, dataset, N) and are shards 0 to N-1, once each, covering every item once; "
        "then write FEATS/<modality>.npy and .json, as one unsharded extraction would. Any "
        "disagreement names the shard file and writes nothing.",
    )
    merge.add_argument(
        "--features",
        type=Path,
        required=True,
        help="the features directory (`extract-features --out`)",
    )
    merge.add_argument(
        "--modality",
        required=True,
        choices=MODALITIES,
        help="whose shards to join",
    )
    merge.add_argument("--overwrite", action="store_true", help="replace existing features")
    merge.set_defaults(handler=_merge_features)


def _merge_features(args) -> int:
    from mmrec_tf.data.feature_cache import FeatureCache

    path = FeatureCache(args.features).merge_shards(args.modality, overwrite=args.overwrite)
    print(f"wrote {path} and {path.with_suffix('.json')}")
    return 0
