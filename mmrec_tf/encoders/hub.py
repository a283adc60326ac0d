"""Any TF Hub model or SavedModel as a Keras 3 layer."""

from __future__ import annotations

import keras


@keras.saving.register_keras_serializable(package="mmrec_tf")
class HubEncoder(keras.layers.Layer):
    """Wraps a TF Hub handle or a local SavedModel as a trainable Keras 3 layer.

    `hub.KerasLayer` belongs to Keras 2 and fails inside a Keras 3 model;
    this layer loads the module with `tensorflow_hub.load` and exposes its
    variables as the layer's weights (the same variables, not copies), so
    that `trainable=True` fine-tunes the module under `model.fit`, and a model
    holding it saves (`.keras`, which reloads the module from `handle` and
    then restores the fine-tuned values) and exports to a SavedModel.

    The module is called either through a signature (`signature`, e.g.
    `"serving_default"`, given its one input as a keyword), or, by default,
    as the module itself (`module(inputs)`, with `training=` when the
    module's function accepts it, as reusable SavedModels do). When the
    output is a dict, `output_key` picks the entry (e.g. `"pooled_output"`,
    or YAMNet's and VGGish's embedding outputs).

    Args:
        handle: a TF Hub handle or URL (downloaded and cached by
            `tensorflow_hub`, online), or the path of a local SavedModel.
        trainable: bool. Fine-tune the module's variables. Defaults to False.
        output_key: str or None. The entry of a dict output to return.
        signature: str or None. The signature to call instead of the module.
        **kwargs: standard layer arguments.

    Example:
    ```python
    encoder = HubEncoder("https://tfhub.dev/google/yamnet/1", output_key=1)
    ```
    """

    def __init__(self, handle, trainable=False, output_key=None, signature=None, **kwargs):
        import tensorflow_hub as hub

        super().__init__(trainable=trainable, **kwargs)
        self.handle = str(handle)
        self.output_key = output_key
        self.signature = signature
        self._module = hub.load(self.handle)
        if signature is not None:
            if signature not in self._module.signatures:
                raise ValueError(
                    f"{self.handle} has no signature {signature!r}; it has "
                    f"{sorted(self._module.signatures)}"
                )
            self._function = self._module.signatures[signature]
            names = list(self._function.structured_input_signature[1])
            if len(names) != 1:
                raise ValueError(
                    f"signature {signature!r} takes {names}; HubEncoder passes one input"
                )
            self._input_name = names[0]
        elif callable(self._module):
            self._function = self._module.__call__
            self._input_name = None
        else:
            raise ValueError(
                f"{self.handle} is not callable; name one of its signatures "
                f"{sorted(self._module.signatures)} with signature="
            )
        self._accepts_training = _accepts_training(self._function)
        for variable in _variables_of(self._module, self._function):
            # Wrapping the module's own tf.Variable (not a copy): training updates
            # what the module computes with.
            self._track_variable(
                keras.Variable(
                    initializer=variable,
                    shape=variable.shape,
                    dtype=variable.dtype,
                    trainable=variable.trainable,
                    name=variable.name.split(":")[0].replace("/", "_"),
                )
            )
        self.built = True

    def call(self, inputs, training=None):
        if self._input_name is not None:
            outputs = self._function(**{self._input_name: inputs})
        elif self._accepts_training:
            outputs = self._function(inputs, training=bool(training) and self.trainable)
        else:
            outputs = self._function(inputs)
        if self.output_key is not None:
            outputs = outputs[self.output_key]
        elif isinstance(outputs, dict) and len(outputs) == 1:
            outputs = next(iter(outputs.values()))
        return outputs

    def get_config(self):
        config = super().get_config()
        config.update(
            {"handle": self.handle, "output_key": self.output_key, "signature": self.signature}
        )
        return config


def _variables_of(module, function):
    """The variables the module (or the called function) uses, without duplicates."""
    candidates = list(getattr(module, "variables", []))
    for concrete in getattr(function, "concrete_functions", [function]):
        candidates += list(getattr(concrete, "variables", []))
    seen, unique = set(), []
    for variable in candidates:
        if id(variable) not in seen:
            seen.add(id(variable))
            unique.append(variable)
    return unique


def _accepts_training(function) -> bool:
    spec = getattr(function, "function_spec", None)
    if spec is None:
        return False
    arguments = spec.fullargspec
    return "training" in arguments.args or "training" in arguments.kwonlyargs
