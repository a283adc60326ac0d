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


class PrivateTraining:
    """A run's DP-SGD: its `PrivateGradients` and the report of what it spent.

    The noise multiplier is the configuration's, or the one that spends
    `target_epsilon` by the run's last epoch (`epochs`, or `train`'s
    `epochs=`); a resumed run keeps the one its privacy.json recorded, and
    may not go on past `target_epsilon`.
    """

    def __init__(self, config: dict, dataset, resumed_run, config_path):
        from mmrec_tf.data import bpr_num_batches, poisson_batch_capacity
        from mmrec_tf.models.private_gradients import PrivateGradients
        from mmrec_tf.training.config import ConfigError

        settings = config["privacy"]
        count = len(dataset.interactions("train")[0])
        if settings["target_delta"] >= 1 / count:
            raise ConfigError(
                f'{config_path}: "privacy.target_delta" must be below 1 / {count} (the training '
                f"interactions), found {settings['target_delta']}: at δ ≥ 1/N, publishing one "
                "random interaction whole would be private"
            )
        self.batch_size = config["batch_size"]
        self.sampling_rate = min(1.0, self.batch_size / count)
        self.steps_per_epoch = bpr_num_batches(dataset, self.batch_size)  # poisson_triples' too
        self.overflow = poisson_batch_capacity(count, self.sampling_rate)[1]
        recorded = None if resumed_run is None else resumed_run.privacy()
        planned_steps = config["epochs"] * self.steps_per_epoch
        target = settings.get("target_epsilon")
        if recorded is not None:
            noise = recorded["noise_multiplier"]
            planned = epsilon_spent(
                noise, self.sampling_rate, planned_steps, settings["target_delta"]
            )
            if target is not None and planned > target * 1.001:
                raise ConfigError(
                    f"{config_path}: going on to epoch {config['epochs']} would spend ε = "
                    f"{planned:.3g}, more than privacy.target_epsilon {target:g} (the run's noise "
                    f"multiplier {noise:.4g} was chosen for fewer epochs): this run cannot go "
                    "further; start a new run for more epochs at the same ε (more noise per step)"
                )
        elif "noise_multiplier" in settings:
            noise = settings["noise_multiplier"]
        else:
            try:
                noise = noise_for_epsilon(
                    target, self.sampling_rate, planned_steps, settings["target_delta"]
                )
            except ValueError as e:
                raise ConfigError(f'{config_path}: "privacy.target_epsilon": {e}') from None
        self.settings = {**settings, "noise_multiplier": noise}
        self.gradients = PrivateGradients(settings["l2_clip"], noise, self.batch_size)

    def report(self, epochs_done: int) -> dict:
        return privacy_report(
            noise_multiplier=self.settings["noise_multiplier"],
            l2_clip=self.settings["l2_clip"],
            sampling_rate=self.sampling_rate,
            steps=epochs_done * self.steps_per_epoch,
            target_delta=self.settings["target_delta"],
            overflow_probability=self.overflow,
        )
