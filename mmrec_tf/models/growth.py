"""A trained model carried onto its grown dataset: the same weights, rows for new users and items.

`grow_model(trained, grown)` fills `grown` (the same configuration built by
`from_dataset` on the dataset with new users, items and interactions, whose
known users and items keep their indices and come first) from `trained`:

- a learned weight of fixed shape (projections, attention, the history
  encoder, standardisation) is copied;
- a table of users or items (`Recommender.growth_roles`) keeps its rows and
  gets new ones: a new user starts at the mean of the known users' rows
  (a model that reads histories computes users from their histories
  anyway); a new item's ID row starts at zero in a model with content, so
  that its vector is its content vector, and at the known items' mean in a
  model of IDs alone;
- data (graphs, features, stored histories) stays as `from_dataset` built
  it from the grown dataset.

`grow_optimizer` does the same for the optimizer's state (step count,
moments): new rows start at zero, as a fresh optimizer's would.
"""

from __future__ import annotations

import functools

import keras
import numpy as np

# How a new row of each kind of table starts: a function of the known rows and
# whether the model has content.
NEW_ROWS = {
    "users": lambda known, has_content: known.mean(axis=0),
    "items": lambda known, has_content: 0 * known[0] if has_content else known.mean(axis=0),
}
# The segments of a table's rows, in order, for each role of `growth_roles`.
SEGMENTS = {"users": ("users",), "items": ("items",), "users+items": ("users", "items")}


def grow_model(trained, grown) -> None:
    """Copies `trained`'s learned weights into `grown`, growing its tables (see the
    module docstring). Raises ValueError when the two are not the same model."""
    if grown.num_users < trained.num_users or grown.num_items < trained.num_items:
        raise ValueError(
            f"the grown model has {grown.num_users} users and {grown.num_items} items, fewer "
            f"than the trained one's {trained.num_users} and {trained.num_items}"
        )
    roles = _roles(grown)
    pairs = _paired(trained.weights, grown.weights, "weights")
    has_content = bool(grown.modalities)
    for old, new in pairs:
        role = roles.get(id(new))
        if role == "data":
            continue
        value = keras.ops.convert_to_numpy(old)
        if role is None:
            _check_shapes(old, new, "weight")
            new.assign(value)
            continue
        new_row = functools.partial(_new_row, has_content=has_content)
        new.assign(_grown_table(value, SEGMENTS[role], trained, grown, new_row))


def grow_optimizer(trained_optimizer, optimizer, trained, grown) -> None:
    """Copies the optimizer state of `trained` (a built optimizer) into `optimizer`,
    built for `grown`'s trainable weights: the moments of a grown table get zero
    rows for its new users and items."""
    layouts, roles = {}, _roles(grown)
    for old, new in _paired(trained.weights, grown.weights, "weights"):
        role = roles.get(id(new))
        if role in SEGMENTS:
            layouts[(tuple(old.shape), tuple(new.shape))] = SEGMENTS[role]
    variables = _paired(trained_optimizer.variables, optimizer.variables, "optimizer variables")
    for old, new in variables:
        value = keras.ops.convert_to_numpy(old)
        layout = layouts.get((tuple(old.shape), tuple(new.shape)))
        if layout is None:
            _check_shapes(old, new, "optimizer variable")
            new.assign(value)
            continue
        new.assign(_grown_table(value, layout, trained, grown, lambda kind, known: 0 * known[0]))


def _new_row(kind, known, has_content):
    return NEW_ROWS[kind](known, has_content)


def _grown_table(value, segments, trained, grown, new_row) -> np.ndarray:
    """`value`, a table of `trained` laid out as `segments`, with each segment's new rows
    (`new_row(kind, known rows)`, repeated) after its known ones, as `grown` lays it."""
    parts = []
    for kind, known in _split(value, segments, trained):
        count = _count(grown, kind) - len(known)
        parts += [known, np.repeat(new_row(kind, known)[None], count, axis=0)]
    return np.concatenate(parts).astype(value.dtype)


def _roles(model) -> dict:
    return {id(weight): role for weight, role in model.growth_roles()}


def _paired(old, new, what):
    if len(old) != len(new):
        raise ValueError(
            f"the grown model has {len(new)} {what}, the trained one {len(old)}: "
            "not the same model configuration"
        )
    return list(zip(old, new, strict=True))


def _check_shapes(old, new, what):
    if tuple(old.shape) != tuple(new.shape):
        raise ValueError(
            f"{what} {new.path}: shape {tuple(new.shape)} in the grown model, "
            f"{tuple(old.shape)} in the trained one: not the same model configuration"
        )


def _split(value, segments, trained):
    """(kind, the known rows) for each segment of a table of `trained`."""
    start = 0
    for kind in segments:
        count = _count(trained, kind)
        yield kind, value[start : start + count]
        start += count
    if start != len(value):
        raise ValueError(f"a table of {len(value)} rows is not {' + '.join(segments)}")


def _count(model, kind) -> int:
    return model.num_users if kind == "users" else model.num_items
