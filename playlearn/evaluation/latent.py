"""The latent plan space of Play-LMP (Lynch et al. 2019, the t-SNE figure),
and what the plan is worth to the policy (`plan_errors`).

`plan_embeddings` cuts windows of held-out play that lie inside one task
segment, encodes each with the plan recognition network q(z | tau) of a
trained LMP policy and returns the posterior means with the segment's task;
`tsne_plot` embeds them in 2-D and writes a PNG coloured by task. Plans of
the same task should cluster although no task label was used in training.

Windows (per episode, from `episode_metadata['segments']`, a JSON list of
{task, start, end, success} with `end` exclusive):
  every start s with seg.start <= s and s + window <= seg.end is a candidate,
  failed attempts included (the label says what was tried); when there are
  more than `max_windows` candidates, a uniform subset of them (seeded) is
  kept, so longer segments give more windows, as in training. Windows are
  full: no padding, so every mask is 1.

`plan_errors` runs the policy network along held-out windows (teacher
forcing) with the plan taken from the recognition network, from the
proposal (what acting uses), from another window, or zero, and reports the
action error of each: the open loop beside the closed loop's success.

Normalisation: the policy's own (`Policy.normalization`, saved with it), for
states and actions alike, never the dataset's: the network saw those inputs.
"""

from __future__ import annotations

import os

from absl import logging
from flax import nnx
import jax
import jax.numpy as jnp
import numpy as np

from playlearn import policy as policy_lib
from playlearn.data import features as features_lib
from playlearn.data import reading
from playlearn.data import windows
from playlearn.models import embeddings
from playlearn.play import replay

BATCH_SIZE = 256  # Windows per jit call; the last batch is padded to it.


def _load(policy_dir_or_model):
  """A path or a `Policy` -> (LMP model, normalisation)."""
  policy = policy_dir_or_model
  if isinstance(policy, (str, os.PathLike)):
    policy = policy_lib.Policy.load(os.fspath(policy))
  if not isinstance(policy, policy_lib.Policy):
    raise TypeError(
        "an LMP analysis wants a saved policy directory or a "
        f"playlearn Policy, got {type(policy).__name__}"
    )
  if policy.method_name != "lmp":
    raise ValueError(
        f"the policy is {policy.method_name!r}: only 'lmp' has "
        "a plan recognition network to embed windows with"
    )
  return policy.model, policy.normalization


def segment_windows(episode: dict, window: int) -> tuple[np.ndarray, list[str]]:
  """Every start of a `window`-step window inside one task segment.

  Returns (starts int64[W] rows of the episode, task of each window).
  """
  starts, tasks = [], []
  for seg in replay.segments_of(episode["episode_metadata"]):
    n = seg["end"] - seg["start"] - window + 1
    if n > 0:
      starts.append(seg["start"] + np.arange(n, dtype=np.int64))
      tasks += [seg["task"]] * n
  if not starts:
    return np.zeros(0, np.int64), []
  return np.concatenate(starts), tasks


def plan_embeddings(
    policy_dir_or_model,
    dataset_dir: str | os.PathLike,
    split: str = "validation",
    window: int = 32,
    max_windows: int = 2000,
    seed: int = 0,
) -> tuple[np.ndarray, list[str]]:
  """Posterior means of q(z | tau) for windows inside task segments.

  Args:
    policy_dir_or_model: a saved LMP policy directory or a loaded `Policy`.
    dataset_dir: the dataset version directory (ArrayRecord).
    split: any TFDS split string; held-out play by default.
    window: steps per window (all with real actions).
    max_windows: keep at most this many windows (a seeded uniform subset).
    seed: chooses the subset.

  Returns:
    (z_means float32[N, Z], labels: the task of each window, N strings).
  """
  if window < 1:
    raise ValueError(f"window must be >= 1, got {window}")
  model, normalization = _load(policy_dir_or_model)
  source = reading.EpisodeSource(dataset_dir, split)
  obs_dim = normalization.state_mean.shape[-1]
  states, actions, rows, labels, offset = [], [], [], [], 0
  for i in range(len(source)):
    episode = source[i]
    observation = episode["steps"]["observation"]
    s = np.asarray(observation["state"], np.float32)
    if features_lib.dim(normalization.features, s.shape[-1]) != obs_dim:
      raise ValueError(
          f"{dataset_dir} has states of size {s.shape[-1]}, the "
          f"policy's features {normalization.features!r} need "
          f"size {obs_dim} from them"
      )
    starts, tasks = segment_windows(episode, window)
    states.append(normalization.normalize_observation(observation))
    actions.append(normalization.normalize_action(episode["steps"]["action"]))
    rows.append(offset + starts)
    labels += tasks
    offset += len(s)
  rows = np.concatenate(rows) if rows else np.zeros(0, np.int64)
  if not len(rows):
    raise ValueError(
        f"no task segment of {dataset_dir} split {split!r} is "
        f"{window} steps long or longer"
    )
  if len(rows) > max_windows:
    keep = np.sort(
        np.random.default_rng(seed).choice(
            len(rows), max_windows, replace=False
        )
    )
    rows, labels = rows[keep], [labels[k] for k in keep]
  states, actions = np.concatenate(states), np.concatenate(actions)
  index = rows[:, None] + np.arange(window)  # [N, window]
  return _recognize(model, states[index], actions[index]), labels


def _recognize(model, obs: np.ndarray, actions: np.ndarray) -> np.ndarray:
  """obs: [N, T, D], actions: [N, T, A] -> posterior means float32[N, Z].

  Runs in fixed batches of BATCH_SIZE (the last one zero-padded) through one
  jitted function, so it compiles once for any N.
  """
  model.eval()
  graphdef, state = nnx.split(model)

  @jax.jit
  def means(state, obs, actions):
    m = nnx.merge(graphdef, state)
    mask = jnp.ones(obs.shape[:2], jnp.float32)
    return m.recognize(obs, actions, mask)[0]

  n, out = len(obs), []
  for begin in range(0, n, BATCH_SIZE):
    o, a = obs[begin : begin + BATCH_SIZE], actions[begin : begin + BATCH_SIZE]
    pad = BATCH_SIZE - len(o)
    if pad:
      o = np.concatenate([o, np.zeros((pad,) + o.shape[1:], o.dtype)])
      a = np.concatenate([a, np.zeros((pad,) + a.shape[1:], a.dtype)])
    out.append(np.asarray(means(state, o, a))[: BATCH_SIZE - pad])
  return np.concatenate(out).astype(np.float32)


PLAN_SOURCES = ("recognition", "proposal", "other_window", "zero")


def plan_errors(
    policy,
    dataset_dir: str,
    *,
    split: str = "validation",
    num_windows: int = 1024,
    kappa: tuple[int, int] = (16, 32),
    goal_horizon: int = 96,
    seed: int = 0,
) -> dict:
  """Open-loop action error of an LMP policy by where its plan comes from.

  `num_windows` windows of `split` (kappa steps each, the goal up to
  `goal_horizon` steps past the window, as the `cpu` configs train) are
  cut with the policy's normalisation (a pixel policy's windows of its
  encoder's embeddings); the policy network acts along each
  (teacher forcing) with z = the recognition mean of that window (training's
  plan without its noise), the proposal mean from the window's first state
  and goal (what acting uses), the recognition mean of another window, or 0.
  Returns {source: mean squared action error, summed over action
  dimensions, over valid steps} for PLAN_SOURCES, and the mean distance of
  the proposal from the recognition in units of the proposal's std.
  """
  if isinstance(policy, (str, os.PathLike)):
    policy = policy_lib.Policy.load(os.fspath(policy))
  model, normalization = _load(policy)
  config = windows.WindowConfig(
      kappa_min=kappa[0],
      kappa_max=kappa[1],
      goal_horizon=goal_horizon,
      features=normalization.features,
      goals=normalization.goals,
  )
  if policy.encoder is not None:  # A pixel policy.
    episodes = embeddings.embed_split(
        "",
        dataset_dir,
        split,
        encoder=policy.encoder,
        proprio=policy.proprio,
        progress=None,
    ).episodes
  else:
    source = reading.EpisodeSource(dataset_dir, split)
    episodes = (source[i] for i in range(len(source)))
  store = windows.WindowStore(episodes, normalization, config)
  rng = np.random.default_rng(seed)
  count = min(num_windows, store.num_windows)
  ids = np.sort(rng.choice(store.num_windows, size=count, replace=False))
  batch = store.batch(ids, seed=seed, epoch=0)
  model.eval()
  errors, distance = _plan_errors(
      model, *(batch[k] for k in ("obs", "actions", "goal", "mask"))
  )
  return {
      "num_windows": int(count),
      "split": split,
      "goal_horizon": goal_horizon,
      "action_sq_error": {
          name: float(e) for name, e in zip(PLAN_SOURCES, errors)
      },
      "proposal_distance_in_std": float(distance),
  }


@nnx.jit
def _plan_errors(model, obs, actions, goal, mask):
  recognized, _ = model.recognize(obs, actions, mask)
  proposed, proposed_std = model.propose(obs[:, 0], goal)
  plans = (
      recognized,
      proposed,
      jnp.roll(recognized, 1, axis=0),
      jnp.zeros_like(recognized),
  )

  def error(z):
    predicted = model.policy(obs, jnp.concatenate([goal, z], -1), mask).mode()
    if predicted.ndim == actions.ndim + 1:  # Action chunks: this step's.
      predicted = predicted[..., 0, :]
    squared = ((predicted - actions) ** 2).sum(-1)
    return (squared * mask).sum() / jnp.maximum(mask.sum(), 1.0)

  distance = jnp.mean(jnp.abs(recognized - proposed) / proposed_std)
  return jnp.stack([error(z) for z in plans]), distance


def tsne_plot(
    z: np.ndarray,
    labels: list[str],
    path: str | os.PathLike,
    perplexity: float = 30,
    seed: int = 0,
    title: str | None = None,
) -> np.ndarray:
  """Embeds z [N, Z] in 2-D with t-SNE and writes a PNG coloured by label.

  The perplexity is capped at (N - 1) / 3 (t-SNE needs N > 3 * perplexity
  neighbours to be meaningful, scikit-learn N > perplexity), with a log line.
  t-SNE runs on one thread: the OpenMP threads of scikit-learn's Barnes-Hut
  gradient spin, and on a busy 2-core machine they were 4x slower than one
  (2,000 points: 48 s against 12.6 s; 49 points: 8 s against 0.35 s).
  Returns the embedding float32[N, 2].
  """
  try:
    from sklearn import manifold  # pylint: disable=g-import-not-at-top
    import threadpoolctl  # pylint: disable=g-import-not-at-top  # sklearn's
  except ImportError as e:
    raise ImportError(
        "tsne_plot needs scikit-learn for t-SNE: pip install scikit-learn"
    ) from e
  from matplotlib import figure  # pylint: disable=g-import-not-at-top

  z = np.asarray(z, np.float32)
  if z.ndim != 2 or len(z) != len(labels):
    raise ValueError(
        f"z must be [N, Z] with one label per row; got z "
        f"{z.shape} and {len(labels)} labels"
    )
  if len(z) < 2:
    raise ValueError(f"t-SNE needs at least 2 points, got {len(z)}")
  capped = max(min(float(perplexity), (len(z) - 1) / 3), 1e-3)
  if capped < perplexity:
    logging.info(
        "t-SNE: %d points, perplexity %s capped to %.2f",
        len(z),
        perplexity,
        capped,
    )
  tsne = manifold.TSNE(
      n_components=2,
      perplexity=capped,
      init="pca",
      learning_rate="auto",
      random_state=seed,
  )
  with threadpoolctl.threadpool_limits(limits=1):
    xy = tsne.fit_transform(z)

  # A Figure with no pyplot: draws with Agg, touches no global backend.
  fig = figure.Figure(figsize=(8, 6), dpi=120)
  ax = fig.add_subplot()
  tasks = sorted(set(labels))
  labels_arr = np.asarray(labels)
  for i, task in enumerate(tasks):
    colour, marker = _style(i)
    pts = xy[labels_arr == task]
    ax.scatter(
        pts[:, 0], pts[:, 1], s=8, color=colour, marker=marker, label=task
    )
  ax.set_xticks([])
  ax.set_yticks([])
  ax.set_title(title or f"Latent plans q(z|τ): t-SNE of {len(z)} play windows")
  ax.legend(
      loc="center left",
      bbox_to_anchor=(1.0, 0.5),
      fontsize=7,
      markerscale=2,
      frameon=False,
  )
  fig.savefig(os.fspath(path), bbox_inches="tight")
  return xy.astype(np.float32)


def _style(i: int) -> tuple:
  """Colour and marker of the i-th task: 10 colours x 5 markers tell 50 tasks
  apart (PlayTable has 27), where one colour map of 27 shades does not."""
  from matplotlib import colormaps  # pylint: disable=g-import-not-at-top

  return colormaps["tab10"](i % 10), "os^Dv"[(i // 10) % 5]
