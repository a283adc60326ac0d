"""Training and evaluating a recommender from a configuration file (`train`, `evaluate`)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np

MODEL_CLASSES = ("MatrixFactorization", "LightGCN", "VBPR", "MultimodalRecommender")
# configs/demo.json holds the same (a test keeps them equal).
DEMO_CONFIG = {
    "model": "MultimodalRecommender",
    "options": {"embedding_dim": 32, "item_graph_k": 5},
    "learning_rate": 0.005,
    "batch_size": 256,
    "epochs": 100,
    "patience": 10,
}
# configs/demo-end-to-end.json: the builtin encoders inside the model, trained on raw files.
END_TO_END_DEFAULTS = {
    "modalities": None,
    "image_size": [64, 64],
    "video_frames": 8,
    "video_size": [32, 32],
    "text_length": 64,
}
DEFAULTS = {
    "model": "MultimodalRecommender",
    "options": {},
    "modalities": None,
    "learning_rate": 1e-3,
    "batch_size": 2048,
    "epochs": 300,
    "patience": 20,
    "seed": 0,
    "jit_compile": True,
}


def load_features(dataset, features_dir: str | Path, modalities=None):
    """`extract-features` output: {modality: [num_items, d]} and presence flags, checked
    against the dataset's item order."""
    features_dir = Path(features_dir)
    features, present = {}, {}
    names = modalities or sorted(p.stem for p in features_dir.glob("*.npy"))
    for modality in names:
        metadata_path = features_dir / f"{modality}.json"
        if not metadata_path.is_file():
            raise FileNotFoundError(
                f"{metadata_path} not found: run `mmrec-tf extract-features "
                f"--modality {modality}` first"
            )
        metadata = json.loads(metadata_path.read_text())
        if metadata["item_ids"] != dataset.item_ids:
            raise ValueError(f"{metadata_path} was extracted for other items than {dataset.root}")
        features[modality] = np.load(features_dir / f"{modality}.npy")
        absent = set(metadata["missing_item_ids"]) | set(metadata.get("failed_item_ids", []))
        present[modality] = np.array([item not in absent for item in dataset.item_ids])
    return features, present


def end_to_end_options(end_to_end: dict) -> dict:
    """The loader options (`text`, `image`, `video`) an `end_to_end` configuration asks for."""
    from mmrec_tf.data import ImageOptions, TextOptions, VideoOptions

    options = {**END_TO_END_DEFAULTS, **end_to_end}
    return {
        "text": TextOptions(sequence_length=options["text_length"]),
        "image": ImageOptions(size=tuple(options["image_size"])),
        "video": VideoOptions(
            num_frames=options["video_frames"], size=tuple(options["video_size"])
        ),
    }


def load_item_content(dataset, end_to_end: dict):
    """Every item's decoded content at the sizes an `end_to_end` configuration asks for."""
    from mmrec_tf.data import ItemContent, ItemLoader

    modalities = {**END_TO_END_DEFAULTS, **end_to_end}["modalities"]
    loader = ItemLoader(dataset, modalities, **end_to_end_options(end_to_end))
    return ItemContent.from_loader(loader)


def content_encoders(run_config: dict, model) -> tuple[dict, dict]:
    """({modality: encoder}, {modality: decoding options}) that turn raw content into
    the features `model` was trained on: the extractors named in the features'
    metadata (cached mode, checked against the recorded weight checksums) or the
    model's own encoders (end-to-end). Empty when the model has no content."""
    from mmrec_tf.encoders.extract import build_extractor

    modalities = getattr(model, "modalities", [])
    if not modalities:
        return {}, {}
    if run_config.get("end_to_end") is not None:
        return dict(model.encoders), end_to_end_options(run_config["end_to_end"])
    encoders, options = {}, {}
    for modality in modalities:
        metadata_path = Path(run_config["features"]) / f"{modality}.json"
        metadata = json.loads(metadata_path.read_text())
        extractor = build_extractor(metadata["spec"], modality)
        if extractor.weights_sha256() != metadata["weights_sha256"]:
            raise ValueError(
                f"the {metadata['spec']!r} encoder's weights differ from those that extracted "
                f"{metadata_path}: its features cannot be reproduced from raw content"
            )
        encoders[modality] = extractor.encoder
        options.update(extractor.options)
    return encoders, options


def build_model(config: dict, dataset, features, present, content=None):
    from mmrec_tf import models

    name, options = config["model"], dict(config["options"])
    if name not in MODEL_CLASSES:
        raise ValueError(f"model must be one of {MODEL_CLASSES}. Received: {name!r}")
    users, items = dataset.interactions("train")
    if name == "MatrixFactorization":
        return models.MatrixFactorization(dataset.num_users, dataset.num_items, **options)
    if name == "LightGCN":
        return models.LightGCN.from_interactions(
            users, items, dataset.num_users, dataset.num_items, **options
        )
    if name == "VBPR":
        stacked = np.concatenate([features[m] for m in sorted(features)], axis=1)
        return models.VBPR.from_features(dataset.num_users, stacked, **options)
    if content is not None:
        from mmrec_tf.encoders.extract import builtin_encoder

        encoders = {m: builtin_encoder(m) for m in content.modalities}
        return models.MultimodalRecommender.end_to_end(dataset, encoders, content, **options)
    return models.MultimodalRecommender.from_dataset(dataset, features, present, **options)


def train(data, config_path, out, features_dir=None, resume=False, verbose=1):
    """Trains as `config_path` says and writes the run directory `out`.

    `out` gets `config.json` (the resolved configuration and paths),
    `model.keras` (the weights of the best validation epoch), `last.keras` and
    `state.json` (for `resume`), `log.csv` and `tensorboard/`.

    A configuration with an `end_to_end` object (see `END_TO_END_DEFAULTS`)
    trains a `MultimodalRecommender` with the builtin encoders inside it, on
    the dataset's raw files (no `features_dir`).
    """
    import keras

    from mmrec_tf.data import bpr_triples, load_dataset
    from mmrec_tf.evaluation import RankingEvaluation

    out = Path(out)
    config = {**DEFAULTS, **json.loads(Path(config_path).read_text())}
    if out.exists() and any(out.iterdir()) and not resume:
        raise FileExistsError(
            f"{out} already holds a run; pass --resume to continue it or choose another --out"
        )
    out.mkdir(parents=True, exist_ok=True)
    dataset = load_dataset(data)
    end_to_end = config.get("end_to_end")
    if end_to_end is not None and features_dir is not None:
        raise ValueError("an end_to_end configuration encodes raw files: do not pass features")
    features, present = (
        ({}, {})
        if features_dir is None
        else load_features(dataset, features_dir, config["modalities"])
    )
    content = None if end_to_end is None else load_item_content(dataset, end_to_end)
    keras.utils.set_random_seed(config["seed"])
    state_path = out / "state.json"
    initial_epoch = 0
    if resume and state_path.is_file():
        model = keras.models.load_model(out / "last.keras")
        initial_epoch = json.loads(state_path.read_text())["epochs_done"]
    else:
        model = build_model(config, dataset, features, present, content)
    model.compile(
        optimizer=keras.optimizers.Adam(config["learning_rate"]), jit_compile=config["jit_compile"]
    )
    run_config = {
        **config,
        "data": str(Path(data).resolve()),
        "features": None if features_dir is None else str(Path(features_dir).resolve()),
    }
    (out / "config.json").write_text(json.dumps(run_config, indent=1))

    class SaveState(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            self.model.save(out / "last.keras")
            state_path.write_text(json.dumps({"epochs_done": epoch + 1}))

    evaluation = RankingEvaluation(dataset, content=content)
    callbacks = [
        evaluation,
        keras.callbacks.ModelCheckpoint(
            out / "model.keras", monitor="val_recall@20", mode="max", save_best_only=True
        ),
        keras.callbacks.EarlyStopping(
            monitor="val_recall@20",
            mode="max",
            patience=config["patience"],
            restore_best_weights=True,
        ),
        keras.callbacks.CSVLogger(out / "log.csv", append=resume),
        keras.callbacks.TensorBoard(out / "tensorboard"),
        SaveState(),
    ]
    triples = bpr_triples(dataset, config["batch_size"], seed=config["seed"])
    model.fit(
        triples if content is None else content.attach(triples),
        epochs=config["epochs"],
        initial_epoch=initial_epoch,
        callbacks=callbacks,
        verbose=verbose,
        shuffle=False,
    )
    return out


def evaluate(run, split="test", mask="train+valid", ks=(10, 20, 50)):
    """Evaluates a run's best model; writes and returns `run/eval_<split>.json`."""
    import keras

    from mmrec_tf.data import load_dataset
    from mmrec_tf.evaluation import evaluate_ranking

    run = Path(run)
    config = json.loads((run / "config.json").read_text())
    dataset = load_dataset(config["data"])
    model = keras.models.load_model(run / "model.keras")
    results = evaluate_ranking(model.score_users, dataset, split, mask=mask, ks=ks)
    path = run / f"eval_{split}.json"
    staging = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    staging.write_text(json.dumps(results, indent=1))
    staging.replace(path)
    return results
