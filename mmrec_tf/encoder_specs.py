"""The encoder specs that `extract-features` accepts (importable without TensorFlow)."""

SPEC_HELP = """\
builtin                           small untrained encoder (seed 0), any modality
minilm                            all-MiniLM-L6-v2 (text)
mobilenet_v2:imagenet             torchvision's ImageNet MobileNetV2 (image)
i3d:kinetics400                   DeepMind's Kinetics-400 I3D (video, 16 frames of 224x224)
aisfx                             aiSFX's sound-effects CNN (audio)
keras_hub:<preset or directory>   a BERT-family keras-hub preset or local directory (text)
keras_applications:<Name>[:<w>]   VGG16, MobileNetV2, ResNet50, ... with weights <w>
                                  (imagenet, a local file, or none; default imagenet) (image)
tfhub:<handle or directory>       any TF Hub model or SavedModel, fed raw text, [0, 1]
                                  images or frames, or 16 kHz waveforms"""
