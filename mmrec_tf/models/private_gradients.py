"""DP-SGD's gradients: each training example's gradient clipped, the sum noised."""

from __future__ import annotations

import secrets

import tensorflow as tf
from keras import ops


class PrivateGradients:
    """The gradients of differentially private SGD (Abadi et al., 2016), for
    `Recommender.compile(private_gradients=...)`.

    For a batch drawn by Poisson sampling (each training example with
    probability q, `mmrec_tf.data.poisson_triples`; padding rows have weight
    0), with per-example gradients gᵢ:

        g = (Σᵢ wᵢ gᵢ · min(1, C / ‖gᵢ‖) + N(0, σ² C² I)) / (q N)

    C is `l2_clip`, σ `noise_multiplier` and q N `expected_batch_size`. ‖gᵢ‖
    is the norm over every trainable variable together. Removing one example
    changes the noised sum by at most C, whatever the example: that is what
    an accountant (`mmrec_tf.training.privacy`) turns into (ε, δ).

    The norms come from one pass that differentiates each example's loss on
    its own (`tf.vectorized_map`), keeping an embedding table's gradient as
    the few rows the example touched; the clipped sum from a second, ordinary
    backward pass over Σᵢ wᵢ cᵢ ℓᵢ with the factors cᵢ held constant. Both
    passes compute the same function, so a model trained this way must have
    no randomness in its training forward pass (no dropout) and must compute
    an example's loss from that example alone (`Recommender.example_coupling`).

    The noise is drawn from a seed taken from the operating system when this
    object is made and never saved (anyone who knew it could subtract the
    noise): private runs are not reproducible bit for bit.

    Example:
    >>> import tempfile
    >>> from mmrec_tf.data import generate_demo_dataset, load_dataset, poisson_triples
    >>> from mmrec_tf.models import MatrixFactorization
    >>> dataset = load_dataset(generate_demo_dataset(tempfile.mkdtemp() + "/demo"))
    >>> model = MatrixFactorization.from_dataset(dataset, embedding_dim=8)
    >>> private = PrivateGradients(l2_clip=1.0, noise_multiplier=1.1, expected_batch_size=256)
    >>> model.compile(optimizer="adam", private_gradients=private, jit_compile=True)
    >>> history = model.fit(poisson_triples(dataset, 256, epochs=range(1)), verbose=0)
    >>> sorted(history.history)  # "clipped": the share of a step's examples that were
    ['clipped', 'loss']
    """

    def __init__(self, l2_clip: float, noise_multiplier: float, expected_batch_size: float):
        if not l2_clip > 0:
            raise ValueError(f"l2_clip must be > 0. Received: {l2_clip}")
        if not noise_multiplier >= 0:
            raise ValueError(f"noise_multiplier must be ≥ 0. Received: {noise_multiplier}")
        if not expected_batch_size > 0:
            raise ValueError(f"expected_batch_size must be > 0. Received: {expected_batch_size}")
        self.l2_clip = float(l2_clip)
        self.noise_multiplier = float(noise_multiplier)
        self.expected_batch_size = float(expected_batch_size)
        self._noise_seed = secrets.randbits(63)

    def train_step(self, model, data) -> dict:
        """One DP-SGD step of `model` on a Poisson-sampled batch: the noisy clipped
        gradient applied; returns the step's metrics (mean loss, share clipped)."""
        if not isinstance(data, dict) or "example_weight" not in data:
            raise ValueError(
                "a model compiled with private_gradients trains on Poisson-sampled batches "
                "with an example_weight (mmrec_tf.data.poisson_triples), not on "
                f"{sorted(data) if isinstance(data, dict) else type(data).__name__}"
            )
        gradients, losses, norms = self.gradients(model, data, model.optimizer.iterations)
        model.optimizer.apply(gradients, model.trainable_variables)
        real = data["example_weight"]
        count = ops.maximum(ops.sum(real), 1.0)
        return {
            "loss": ops.sum(real * losses) / count,
            # The share of this step's examples whose gradient was clipped: l2_clip's tuning.
            "clipped": ops.sum(real * ops.cast(norms > self.l2_clip, "float32")) / count,
        }

    def gradients(self, model, inputs, step):
        """The noised mean gradient of `model`'s trainable variables for the batch
        `inputs` (with `"example_weight"`), and the batch's per-example losses
        and gradient norms (for logging)."""
        weights = inputs["example_weight"]
        inputs = {key: value for key, value in inputs.items() if key != "example_weight"}
        variables = model.trainable_variables

        def squared_norm_of_one(example):
            one = {key: value[None] for key, value in example.items()}
            with tf.GradientTape() as tape:
                loss = model.example_losses(one, model(one, training=True))[0]
            gradients = tape.gradient(
                loss, variables, unconnected_gradients=tf.UnconnectedGradients.ZERO
            )
            return tf.add_n([squared_norm(g) for g in gradients])

        # A squared norm summed from a Gram matrix can round below zero.
        norms = tf.sqrt(tf.maximum(tf.vectorized_map(squared_norm_of_one, inputs), 0.0))
        factors = tf.where(
            weights > 0, weights * tf.minimum(1.0, self.l2_clip / tf.maximum(norms, 1e-12)), 0.0
        )
        with tf.GradientTape() as tape:
            losses = model.example_losses(inputs, model(inputs, training=True))
            clipped_total = tf.reduce_sum(tf.stop_gradient(factors) * losses)
        sums = tape.gradient(clipped_total, variables, unconnected_gradients="zero")
        return self.noisy_mean(sums, step), losses, norms

    def noisy_mean(self, sums, step):
        """(sum + N(0, σ²C²)) / expected batch size for each variable's clipped sum;
        the noise keyed by (this object's secret seed, `step`, the variable)."""
        std = self.noise_multiplier * self.l2_clip
        noised = []
        for index, total in enumerate(sums):
            total = tf.convert_to_tensor(total)  # every row gets noise: dense
            seed = tf.stack(
                [tf.constant(self._noise_seed, tf.int64), tf.cast(step, tf.int64) + (index << 40)]
            )
            noise = tf.random.stateless_normal(tf.shape(total), seed, stddev=std, alg="philox")
            noised.append((total + noise) / self.expected_batch_size)
        return noised


def squared_norm(gradient):
    """‖gradient‖², for a dense tensor or for `tf.IndexedSlices` whose indices may
    repeat (rows with the same index add up before squaring): for slices, the
    sum of the Gram matrix's entries whose rows share an index."""
    if isinstance(gradient, tf.IndexedSlices):
        values = tf.reshape(gradient.values, [tf.shape(gradient.values)[0], -1])
        same_row = ops.equal(gradient.indices[:, None], gradient.indices[None, :])
        gram = tf.matmul(values, values, transpose_b=True)
        return tf.reduce_sum(tf.where(same_row, gram, tf.zeros_like(gram)))
    return tf.reduce_sum(tf.square(gradient))
