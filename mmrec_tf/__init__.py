"""mmrec-tf: multimodal recommendation in Keras 3 on TensorFlow."""

from mmrec_tf.quiet import quiet_tensorflow

__version__ = "0.1.0"
__all__ = ["quiet_tensorflow"]
