"""Training: `train_and_evaluate(config, workdir)` and its parts."""

from playlearn.train.trainer import train_and_evaluate

__all__ = ["train_and_evaluate"]
