"""Reading RLDS datasets, their statistics and integrity; no TensorFlow."""

from playlearn.data.integrity import verify_dataset
from playlearn.data.reading import CorruptShardError
from playlearn.data.reading import EpisodeSource
from playlearn.data.statistics import compute_statistics
from playlearn.data.statistics import load_statistics
from playlearn.data.windows import Normalization
from playlearn.data.windows import WindowConfig

__all__ = [
    "CorruptShardError",
    "EpisodeSource",
    "Normalization",
    "WindowConfig",
    "compute_statistics",
    "load_statistics",
    "verify_dataset",
]
