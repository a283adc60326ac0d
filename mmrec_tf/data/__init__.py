"""Datasets, `tf.data` loaders for every modality, splits and dataset preparation."""

from mmrec_tf.data.audio import (
    AudioOptions,
    decode_audio,
    decode_wav,
    log_mel_spectrogram,
    resample,
)
from mmrec_tf.data.dataset import (
    MEDIA_MODALITIES,
    MODALITIES,
    SPLITS,
    MultimodalDataset,
    load_dataset,
    parse_dataset,
)
from mmrec_tf.data.demo import generate_demo_dataset
from mmrec_tf.data.errors import DatasetError, MediaError, Problem
from mmrec_tf.data.graphs import (
    add_self_loops,
    interaction_graph,
    knn_graph,
    normalize_adjacency,
)
from mmrec_tf.data.identity import DataIdentity, IdentityMismatch
from mmrec_tf.data.image import ImageOptions, decode_image
from mmrec_tf.data.item_content import ItemContent
from mmrec_tf.data.loaders import ItemLoader, interactions_dataset
from mmrec_tf.data.movielens import prepare_movielens_100k
from mmrec_tf.data.paths import UnsafePathError, resolve_inside
from mmrec_tf.data.sampling import (
    bpr_num_batches,
    bpr_triples,
    poisson_batch_capacity,
    poisson_triples,
)
from mmrec_tf.data.splits import temporal_split
from mmrec_tf.data.text import TextOptions, TextTokenizer
from mmrec_tf.data.validate import ValidationReport, validate_dataset
from mmrec_tf.data.video import (
    VideoOptions,
    decode_frame_folder,
    decode_frames,
    decode_video_file,
    sample_frame_indices,
)

__all__ = [
    "add_self_loops",
    "bpr_num_batches",
    "bpr_triples",
    "poisson_batch_capacity",
    "poisson_triples",
    "AudioOptions",
    "DataIdentity",
    "DatasetError",
    "decode_audio",
    "decode_frame_folder",
    "decode_frames",
    "decode_image",
    "decode_video_file",
    "decode_wav",
    "generate_demo_dataset",
    "IdentityMismatch",
    "ImageOptions",
    "ItemContent",
    "interaction_graph",
    "interactions_dataset",
    "ItemLoader",
    "knn_graph",
    "load_dataset",
    "log_mel_spectrogram",
    "MEDIA_MODALITIES",
    "MediaError",
    "MODALITIES",
    "MultimodalDataset",
    "normalize_adjacency",
    "parse_dataset",
    "prepare_movielens_100k",
    "Problem",
    "resample",
    "resolve_inside",
    "sample_frame_indices",
    "SPLITS",
    "temporal_split",
    "TextOptions",
    "TextTokenizer",
    "UnsafePathError",
    "validate_dataset",
    "ValidationReport",
    "VideoOptions",
]
