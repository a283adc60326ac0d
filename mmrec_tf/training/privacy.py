"""The privacy DP-SGD spends, from Google's `dp-accounting` (RDP accountant).

A training configuration's `"privacy"` object (`config.PRIVACY_KEYS`) trains with
DP-SGD (`mmrec_tf.models.PrivateGradients`) and this module says what it
costs: every step is a Poisson-sampled Gaussian mechanism (sampling rate
q = batch_size / N training interactions, noise multiplier σ), composed over
the steps run, under add-or-remove-one-interaction adjacency. The unit
protected is one interaction of the training split: see docs/privacy.md
for why, and for what it does not cover.
"""

from __future__ import annotations

import contextlib
import logging


@contextlib.contextmanager
def _quiet_accountant():
    """The RDP accountant warns for each Rényi order whose series does not converge
    (small noise, low orders) and leaves that order out, as it should: not the
    user's concern."""
    logger = logging.getLogger("absl")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        logger.setLevel(level)


def _accountant():
    from dp_accounting import rdp

    return rdp.RdpAccountant()


def _dp_sgd_event(noise_multiplier: float, sampling_rate: float, steps: int):
    import dp_accounting

    step = dp_accounting.PoissonSampledDpEvent(
        sampling_rate, dp_accounting.GaussianDpEvent(noise_multiplier)
    )
    return dp_accounting.SelfComposedDpEvent(step, steps)


def epsilon_spent(noise_multiplier: float, sampling_rate: float, steps: int, delta: float):
    """ε of `steps` DP-SGD steps at `sampling_rate` and `noise_multiplier`, at `delta`."""
    if steps == 0:
        return 0.0
    accountant = _accountant()
    with _quiet_accountant():
        accountant.compose(_dp_sgd_event(noise_multiplier, sampling_rate, steps))
        return float(accountant.get_epsilon(delta))


def noise_for_epsilon(epsilon: float, sampling_rate: float, steps: int, delta: float) -> float:
    """The smallest noise multiplier (to 0.1% of it, and at least 0.01) whose
    `steps` steps spend at most `epsilon` at `delta`
    (`dp_accounting.calibrate_dp_mechanism`); a ValueError when even 1000 does not."""
    import dp_accounting

    smallest, largest = 1e-2, 1e3
    if epsilon_spent(largest, sampling_rate, steps, delta) > epsilon:
        raise ValueError(
            f"ε = {epsilon:g} at δ = {delta:g} over {steps} steps at sampling rate "
            f"{sampling_rate:.4g} needs a noise multiplier above {largest:g}"
        )
    if epsilon_spent(smallest, sampling_rate, steps, delta) <= epsilon:
        return smallest
    bracket = dp_accounting.ExplicitBracketInterval(smallest, largest)
    with _quiet_accountant():
        return float(
            dp_accounting.calibrate_dp_mechanism(
                _accountant,
                lambda sigma: _dp_sgd_event(sigma, sampling_rate, steps),
                epsilon,
                delta,
                bracket,
                tol=1e-3,
            )
        )


def privacy_report(
    *,
    noise_multiplier: float,
    l2_clip: float,
    sampling_rate: float,
    steps: int,
    target_delta: float,
    overflow_probability: float,
) -> dict:
    """What a run's `privacy.json` holds: ε at δ for the steps run, and how.

    A Poisson batch larger than its fixed capacity loses its last rows
    (`mmrec_tf.data.poisson_batch_capacity`); the chance of that in any step,
    `steps × overflow_probability`, adds to δ.
    """
    epsilon = epsilon_spent(noise_multiplier, sampling_rate, steps, target_delta)
    return {
        "epsilon": epsilon,
        "delta": target_delta + steps * overflow_probability,
        "unit": "interaction",
        "accountant": "RDP (dp-accounting), Poisson-sampled Gaussian",
        "steps": steps,
        "sampling_rate": sampling_rate,
        "noise_multiplier": noise_multiplier,
        "l2_clip": l2_clip,
        "target_delta": target_delta,
    }


def describe(report: dict) -> str:
    """One line for the end of `train`."""
    return (
        f"privacy spent: ε = {report['epsilon']:.3g} at δ = {report['delta']:.3g} per "
        f"{report['unit']} ({report['steps']} steps, sampling rate "
        f"{report['sampling_rate']:.4g}, noise multiplier {report['noise_multiplier']:.4g}, "
        f"clip {report['l2_clip']:g})"
    )
