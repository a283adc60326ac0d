"""Do pretrained features carry content? A k-nearest-neighbour genre probe on ml-100k-mm.

Usage: python bench/genre_probe.py --data PREPARED_ML100K [--features FEATS] [--k 10]

For each item, its k nearest neighbours (cosine, leave-one-out) vote for
genres, weighted by similarity; the probe reports the ROC AUC of those votes
per genre (genres with at least 20 items), averaged. Compared in one run:

* posters: MobileNetV2 ImageNet features (FEATS/image.npy, from
  `mmrec-tf extract-features --encoder mobilenet_v2:imagenet`, or computed here)
  against raw pixels (posters resized to 16x16, flattened);
* plots alone (no title, no genre words, no names): all-MiniLM-L6-v2 against a
  TF-IDF bag of words of the same plots.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
from collections import Counter
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402


def roc_auc(scores: np.ndarray, labels: np.ndarray) -> float:
    """Mann-Whitney ROC AUC, ties counted as half."""
    order = np.argsort(scores, kind="mergesort")
    ranks = np.empty(len(scores))
    sorted_scores = scores[order]
    # Average ranks over ties.
    _, starts, counts = np.unique(sorted_scores, return_index=True, return_counts=True)
    for start, count in zip(starts, counts, strict=True):
        ranks[order[start : start + count]] = start + (count + 1) / 2
    positives = labels.sum()
    negatives = len(labels) - positives
    return float((ranks[labels].sum() - positives * (positives + 1) / 2) / (positives * negatives))


def knn_genre_auc(features: np.ndarray, genres: np.ndarray, k: int) -> float:
    """Mean ROC AUC over genres of similarity-weighted k-NN votes (leave-one-out)."""
    unit = features / np.maximum(np.linalg.norm(features, axis=1, keepdims=True), 1e-12)
    similarity = unit @ unit.T
    np.fill_diagonal(similarity, -np.inf)
    neighbours = np.argpartition(-similarity, k, axis=1)[:, :k]
    weights = np.maximum(np.take_along_axis(similarity, neighbours, axis=1), 0)
    votes = np.einsum("nk,nkg->ng", weights, genres[neighbours].astype(np.float64))
    aucs = [
        roc_auc(votes[:, g], genres[:, g])
        for g in range(genres.shape[1])
        if 20 <= genres[:, g].sum() <= len(genres) - 20
    ]
    return float(np.mean(aucs))


def tfidf(texts: list[str]) -> np.ndarray:
    tokens = [re.findall(r"[a-z]+", t.lower()) for t in texts]
    document_frequency = Counter(w for ws in tokens for w in set(ws))
    vocabulary = {
        w: i for i, w in enumerate(sorted(w for w, c in document_frequency.items() if c >= 2))
    }
    matrix = np.zeros((len(texts), len(vocabulary)), np.float32)
    for row, words in enumerate(tokens):
        for word, count in Counter(words).items():
            if word in vocabulary:
                matrix[row, vocabulary[word]] = count
    idf = np.log(len(texts) / np.array([document_frequency[w] for w in vocabulary]))
    return matrix * idf.astype(np.float32)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--data",
        type=Path,
        required=True,
        help="ml-100k-mm prepared with `mmrec-tf prepare movielens-100k`",
    )
    parser.add_argument("--features", type=Path, help="directory with image.npy (optional)")
    parser.add_argument("--k", type=int, default=10)
    parser.add_argument("--out", type=Path, default=Path("bench/results/genre_probe.json"))
    args = parser.parse_args(argv)

    import tensorflow as tf

    from mmrec_tf.data import ImageOptions, ItemLoader, TextTokenizer, load_dataset
    from mmrec_tf.encoders import minilm, mobilenet_v2_imagenet

    dataset = load_dataset(args.data)
    genre_names = sorted({g for gs in dataset.metadata["genres"] for g in gs.split("|") if g})
    genres = np.array(
        [[g in gs.split("|") for g in genre_names] for gs in dataset.metadata["genres"]]
    )
    results = {}

    # Posters.
    with_poster = np.flatnonzero(dataset.modality_available("image"))
    if args.features and (args.features / "image.npy").is_file():
        poster_features = np.load(args.features / "image.npy")[with_poster]
    else:
        encoder = mobilenet_v2_imagenet()
        loader = ItemLoader(dataset, ["image"])
        poster_features = np.concatenate(
            [encoder(b["image"]).numpy() for b in loader.as_dataset(with_poster, batch_size=32)]
        )
    pixels = ItemLoader(dataset, ["image"], image=ImageOptions(size=(16, 16)))
    raw = np.concatenate(
        [
            b["image"].numpy().reshape(len(b["image"]), -1)
            for b in pixels.as_dataset(with_poster, batch_size=256)
        ]
    )
    raw -= raw.mean(axis=0)  # centre, so that cosine compares colour patterns
    results["posters"] = {
        "items": len(with_poster),
        "MobileNetV2 (ImageNet)": knn_genre_auc(poster_features, genres[with_poster], args.k),
        "raw pixels 16x16": knn_genre_auc(raw, genres[with_poster], args.k),
    }

    # Plots alone.
    plots = dataset.metadata["plot"]
    with_plot = np.array([i for i, p in enumerate(plots) if p])
    texts = [plots[i] for i in with_plot]
    encoder, options = minilm()
    tokenizer = TextTokenizer(options)
    text_features = np.concatenate(
        [
            encoder(tokenizer(tf.constant(texts[s : s + 64]))).numpy()
            for s in range(0, len(texts), 64)
        ]
    )
    results["plots"] = {
        "items": len(with_plot),
        "all-MiniLM-L6-v2": knn_genre_auc(text_features, genres[with_plot], args.k),
        "TF-IDF bag of words": knn_genre_auc(tfidf(texts), genres[with_plot], args.k),
    }

    print(f"k-NN genre probe (k={args.k}, leave-one-out), mean ROC AUC over genres:\n")
    print("| content | features | items | mean ROC AUC |\n| --- | --- | ---: | ---: |")
    for content, row in results.items():
        for name, value in row.items():
            if name != "items":
                print(f"| {content} | {name} | {row['items']:,} | {value:.4f} |")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
