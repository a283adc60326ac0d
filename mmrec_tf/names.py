"""The names users choose among, each list written once.

Importable without TensorFlow: the command line builds its `choices` from
these before anything heavy loads, and the library checks against the same
tuples.
"""

# An item's modalities, and those held in files beside items.csv.
MODALITIES = ("text", "image", "audio", "video")
MEDIA_MODALITIES = ("image", "audio", "video")
# The values of interactions.csv's `split` column.
SPLITS = ("train", "valid", "test")
# A configuration's `"strategy"` (mmrec_tf.training.distribution says what each does).
STRATEGIES = ("none", "mirrored", "multi-worker")
# A configuration's `"optimizer"`: Keras's Adam, or mmrec_tf.training.lazy_adam.LazyAdam.
OPTIMIZERS = ("adam", "lazy_adam")
# How an export stores its user and item vectors (mmrec_tf.serving.vector_table).
QUANTIZATIONS = ("float16", "int8")
# How an export stores its content tower's encoders (mmrec_tf.serving.content.in_dtype).
ENCODER_DTYPES = ("float32", "float16")
