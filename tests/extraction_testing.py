"""Interrupting feature extraction mid-way, as Ctrl-C would."""

from __future__ import annotations

from mmrec_tf.encoders import extract


class BatchCounter:
    """Wraps the encoder `extract_features` builds: counts the batches it encodes
    (`batches`) and raises KeyboardInterrupt on batch number `interrupt_at`
    (1-based; None: never). Set `interrupt_at = None` to let a rerun finish."""

    def __init__(self, monkeypatch, interrupt_at: int | None):
        self.batches = 0
        self.interrupt_at = interrupt_at
        real_build = extract.build_extractor

        def build_counting(spec, modality):
            extractor = real_build(spec, modality)
            encoder = extractor.encoder

            def encode(inputs, training=False):
                self.batches += 1
                if self.batches == self.interrupt_at:
                    raise KeyboardInterrupt
                return encoder(inputs, training=training)

            extractor.encoder = type(
                "Counting",
                (),
                {"__call__": staticmethod(encode), "weights": encoder.weights, "trainable": False},
            )()
            return extractor

        monkeypatch.setattr(extract, "build_extractor", build_counting)
