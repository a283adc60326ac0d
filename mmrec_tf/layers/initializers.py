"""Giving each sublayer an initializer of its own."""

from __future__ import annotations

import keras


def clone_initializer(initializer, index: int = 0):
    """A copy of `initializer` for one sublayer, drawing values of its own.

    A Keras 3 initializer object fixes its seed when it is made, so one object
    called for two kernels of the same shape returns the same values (query,
    key and value would start identical). Each sublayer gets a copy: an
    unseeded initializer's copy draws a new seed; a seeded one's copy is
    seeded `seed + index`, so that a seeded layer stays reproducible while
    its sublayers (numbered by `index`) still start different. Stateless
    initializers (`"zeros"`, ...) are returned as they are.
    """
    initializer = keras.initializers.get(initializer)
    config = initializer.get_config()
    if "seed" not in config:
        return initializer
    if isinstance(config["seed"], int):
        config["seed"] += index
    return initializer.__class__.from_config(config)
