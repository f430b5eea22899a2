"""Installs playlearn.

    python3 -m venv .venv && .venv/bin/pip install -e '.[dev,tf,bench]'

or simply `make venv`. Offscreen rendering also needs system libraries
(`make system-deps`, see playlearn/envs/rendering.py).
"""

import setuptools

# Pinned where a newer release is known to break us; the rest float.
INSTALL_REQUIRES = [
    # dm_control 1.0.50 is built against mujoco 3.x; with mujoco 4.0.0 it
    # fails with "'MjModel' object has no attribute 'flex_vertedge'". Move the
    # two together.
    "mujoco==3.17.0",
    "dm_control==1.0.50",
    # The dataset builders and readers are tested against this release.
    "tensorflow-datasets==4.9.10",
    # TFDS 4.9.10 imports it when TensorFlow is not installed.
    "importlib_resources",
    "array-record",
    "grain",
    "dm-env",
    "gymnasium>=1.0",
    "numpy",
    "absl-py",
    "ml_collections",
    "etils[epath]",
    "mediapy",
    # Ships an ffmpeg binary, so mediapy can write videos without apt ffmpeg.
    "imageio-ffmpeg",
    "pillow",
    "matplotlib",
    "tqdm",
    # Learning: JAX with Flax (nnx), Optax, Orbax checkpoints and TensorBoard
    # summaries without TensorFlow.
    "jax",
    "flax>=0.12",
    "optax",
    "orbax-checkpoint",
    "tensorboardX",
    # t-SNE of latent plans (playlearn/evaluation/latent.py).
    "scikit-learn>=1.5",
]

EXTRAS_REQUIRE = {
    "dev": [
        "pytest",
        "pytest-xdist",
        "chex",
        # The notebooks are executed by the tests.
        "nbformat",
        "nbclient",
        "ipykernel",
        # `make lint`: pinned, since formatting changes between releases.
        "pyink==26.5.1",
        "ruff==0.14.14",
    ],
    # TensorFlow for `tfds build` and for the tf.data path (TFRecord-only
    # datasets). The CPU build is enough: TF never trains here. The `tfds`
    # command imports apache_beam and mlcroissant at start-up, even for
    # builders that use neither, so they come too (beam holds protobuf at 6.x).
    "tf": [
        "tensorflow-cpu>=2.16",
        "apache-beam",
        "mlcroissant",
    ],
    # The side-by-side benchmark against PyTorch (scripts/bench_vs_torch.py).
    # Exactly 2.13.0: the CPU build these machines hold on disk; a looser pin
    # pulls a CUDA build of several GB from PyPI.
    "bench": [
        "torch==2.13.0",
    ],
    # Beam-based TFDS builders without TensorFlow (large datasets built in
    # parallel with the DirectRunner or a cluster runner).
    "beam": [
        "apache-beam",
    ],
}

setuptools.setup(
    name="playlearn",
    version="0.1.0",
    description=("Learning robot policies from play data with JAX and MuJoCo."),
    license="Apache 2.0",
    packages=setuptools.find_packages(include=["playlearn", "playlearn.*"]),
    python_requires=">=3.10",
    install_requires=INSTALL_REQUIRES,
    extras_require=EXTRAS_REQUIRE,
)
