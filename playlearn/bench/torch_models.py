"""PyTorch twins of two playlearn networks, for the side-by-side benchmark.

`vs_torch.py` times each network in both frameworks on the same CPU; this
module holds the PyTorch side, written from torch's own modules (`nn.Linear`,
`nn.GRU`, `nn.MultiheadAttention`, `nn.LayerNorm`), as a PyTorch user would:

* `GCBCPolicy`: Play-GCBC's policy with the MSE head (`models/gcbc.py`,
  the `cpu` variant): MLP over [s_t, goal] -> GRU -> linear, and `gcbc_loss`.
* `BesoTransformer`: BESO's causal transformer F (`models/beso.py`) over
  [sigma, goal tokens, s_1, a_1, ..., s_W, a_W], `beso_loss` (EDM's
  preconditioned denoising loss, `diffusion/edm.py`) and `ddim_sample` (the
  deterministic DDIM sampler, `diffusion/samplers.py`).

`copy_from_jax` copies an nnx model's weights into its twin, so that the tests
can check both compute the same loss for the same weights, and the benchmark
starts both from the same initialisation. torch is an optional dependency
(the `bench` extra): import this module only where it is installed.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn

from playlearn.diffusion import edm

SIGMA_DATA = edm.SIGMA_DATA


# ------------------------------------------------------------------- GCBC
class GCBCPolicy(nn.Module):
  """pi(a_t | s_t, g): ReLU MLP of [s_t, g] -> GRU -> linear (MSE head)."""

  def __init__(
      self,
      obs_dim: int,
      action_dim: int,
      encoder: tuple[int, ...] = (256, 256),
      rnn: int = 256,
  ):
    super().__init__()
    sizes = (2 * obs_dim,) + tuple(encoder)
    self.encoder = nn.ModuleList(
        nn.Linear(a, b) for a, b in zip(sizes[:-1], sizes[1:])
    )
    self.gru = nn.GRU(encoder[-1], rnn, batch_first=True)
    # flax's GRUCell has no hidden-side bias: a zero constant here.
    with torch.no_grad():
      self.gru.bias_hh_l0.zero_()
    self.gru.bias_hh_l0.requires_grad_(False)
    self.head = nn.Linear(rnn, action_dim)

  def forward(self, obs: torch.Tensor, goal: torch.Tensor) -> torch.Tensor:
    """obs [B, T, D], goal [B, D] -> predicted actions [B, T, A].

    Valid steps are a prefix of each window (windows.py), so the GRU's
    outputs on them never depend on the padding after them.
    """
    x = torch.cat([obs, goal[:, None].expand(-1, obs.shape[1], -1)], -1)
    for layer in self.encoder:
      x = torch.relu(layer(x))
    y, _ = self.gru(x)
    return self.head(y)


def gcbc_loss(model: GCBCPolicy, batch: dict) -> torch.Tensor:
  """Squared error summed over action dims, mean over valid steps (gcbc.loss)."""
  error = ((model(batch["obs"], batch["goal"]) - batch["actions"]) ** 2).sum(-1)
  mask = batch["mask"]
  return (error * mask).sum() / mask.sum().clamp(min=1.0)


# ------------------------------------------------------------------- BESO
class Block(nn.Module):
  """Pre-norm block: masked self-attention, then a 4x GELU (tanh) MLP."""

  def __init__(self, width: int, heads: int, attention_dropout: float):
    super().__init__()
    # eps 1e-6 and tanh GELU: flax's defaults, so the twins agree.
    self.attention_norm = nn.LayerNorm(width, eps=1e-6)
    self.attention = nn.MultiheadAttention(
        width, heads, dropout=attention_dropout, batch_first=True
    )
    self.mlp_norm = nn.LayerNorm(width, eps=1e-6)
    self.mlp_in = nn.Linear(width, 4 * width)
    self.mlp_out = nn.Linear(4 * width, width)

  def forward(self, x, attn_mask, key_padding_mask):
    h = self.attention_norm(x)
    h, _ = self.attention(
        h,
        h,
        h,
        attn_mask=attn_mask,
        key_padding_mask=key_padding_mask,
        need_weights=False,
    )
    x = x + h
    return x + self.mlp_out(
        nn.functional.gelu(self.mlp_in(self.mlp_norm(x)), approximate="tanh")
    )


class BesoTransformer(nn.Module):
  """F(x, c_noise | obs, valid, goal, drop) -> [N, W, X] (score_networks.Transformer)."""

  def __init__(
      self,
      obs_dim: int,
      x_dim: int,
      width: int = 360,
      layers: int = 6,
      heads: int = 6,
      goal_tokens: int = 2,
      obs_window: int = 4,
      attention_dropout: float = 0.3,
  ):
    super().__init__()
    self.goal_tokens, self.width = goal_tokens, width
    self.sigma_hidden = nn.Linear(1, width)
    self.sigma_out = nn.Linear(width, width)
    self.goal = nn.Linear(obs_dim, goal_tokens * width)
    self.null = nn.Parameter(torch.zeros(goal_tokens * width))
    self.obs_in = nn.Linear(obs_dim, width)
    self.action_in = nn.Linear(x_dim, width)
    num_tokens = 1 + goal_tokens + 2 * obs_window
    self.position = nn.Parameter(0.02 * torch.randn(num_tokens, width))
    self.blocks = nn.ModuleList(
        Block(width, heads, attention_dropout) for _ in range(layers)
    )
    self.norm = nn.LayerNorm(width, eps=1e-6)
    self.out = nn.Linear(width, x_dim)
    # True where attention is not allowed (torch's convention).
    self.register_buffer(
        "future",
        torch.triu(torch.ones(num_tokens, num_tokens, dtype=torch.bool), 1),
    )

  def forward(self, x, c_noise, obs, valid, goal, drop):
    """x [N, W, X], c_noise [N], obs [N, W, D], valid [N, W] bool, goal
    [N, D], drop [N] bool. Invalid steps are zeroed first (beso.Model.score)."""
    n, window = valid.shape
    keep = valid[..., None]
    obs, x = obs * keep, x * keep
    sigma = self.sigma_out(
        nn.functional.silu(self.sigma_hidden(c_noise[:, None]))
    )
    goal = torch.where(drop[:, None], self.null, self.goal(goal))
    steps = torch.stack([self.obs_in(obs), self.action_in(x)], 2)
    tokens = (
        torch.cat(
            [
                sigma[:, None],
                goal.reshape(n, self.goal_tokens, -1),
                steps.reshape(n, 2 * window, -1),
            ],
            1,
        )
        + self.position
    )
    prefix = 1 + self.goal_tokens
    ignored = torch.cat(
        [
            torch.zeros(n, prefix, dtype=torch.bool, device=x.device),
            (~valid).repeat_interleave(2, dim=1),
        ],
        1,
    )
    for block in self.blocks:
      tokens = block(tokens, self.future, ignored)
    return self.out(self.norm(tokens[:, prefix + 1 :: 2]))


def preconditioning(sigma, sigma_data=SIGMA_DATA):
  """EDM's (c_skip, c_out, c_in, c_noise) at noise levels sigma."""
  total = sigma**2 + sigma_data**2
  return (
      sigma_data**2 / total,
      sigma * sigma_data / total.sqrt(),
      1 / total.sqrt(),
      sigma.log() / 4,
  )


def beso_loss(
    model: BesoTransformer,
    x0,
    mask,
    context: dict,
    sigma,
    noise,
    sigma_data=SIGMA_DATA,
) -> torch.Tensor:
  """edm.loss of F on (x0 [N, W, X] noised by sigma [N] * noise), masked mean."""
  s = sigma[:, None, None]
  c_skip, c_out, c_in, c_noise = preconditioning(s, sigma_data)
  noisy = x0 + s * noise
  target = (x0 - c_skip * noisy) / c_out
  f = model(c_in * noisy, c_noise.reshape(-1), **context)
  error = ((f - target) ** 2) * mask
  return error.sum() / mask.sum().clamp(min=1.0)


def training_samples(
    batch: dict,
    window: int,
    samples_per_window: int,
    cond_drop_prob: float,
    generator=None,
):
  """beso.training_samples in torch: `samples_per_window` sub-windows of
  `window` steps ending at uniform valid times of each batch window.

  Returns (x0 [N, W, A], mask [N, W, A], context dict), N = B x samples.
  """
  mask = batch["mask"]
  b, k = mask.shape[0], samples_per_window
  length = mask.sum(-1).long()
  t = (torch.rand(b, k, generator=generator) * length[:, None]).long()
  steps = t[..., None] - window + 1 + torch.arange(window)  # [B, k, W]
  valid = (steps >= 0) & (length[:, None, None] > 0)
  index = steps.clamp(min=0).reshape(b, k * window)

  def gather(seq):  # [B, T, F] -> [B * k, W, F]
    rows = torch.gather(seq, 1, index[..., None].expand(-1, -1, seq.shape[-1]))
    return rows.reshape(b * k, window, -1)

  keep = valid.reshape(b * k, window, 1)
  x0 = gather(batch["actions"]) * keep
  context = {
      "obs": gather(batch["obs"]),
      "valid": valid.reshape(b * k, window),
      "goal": batch["goal"].repeat_interleave(k, 0),
      "drop": torch.rand(b * k, generator=generator) < cond_drop_prob,
  }
  return x0, keep.expand_as(x0).float(), context


def sample_sigma(
    n: int,
    sigma_min=0.005,
    sigma_max=1.0,
    sigma_data=SIGMA_DATA,
    scale=edm.LOGLOGISTIC_SCALE,
    generator=None,
):
  """Log-logistic training noise levels (edm.sample_sigma, 'loglogistic')."""
  loc = math.log(sigma_data)
  cdf = lambda x: 1 / (1 + math.exp(-(x - loc) / scale))
  u = torch.empty(n).uniform_(
      cdf(math.log(sigma_min)), cdf(math.log(sigma_max)), generator=generator
  )
  return (loc + scale * torch.logit(u)).exp().clamp(sigma_min, sigma_max)


def ddim_sample(
    model: BesoTransformer,
    context: dict,
    sigmas: torch.Tensor,
    x: torch.Tensor,
    sigma_data=SIGMA_DATA,
) -> torch.Tensor:
  """Deterministic DDIM (samplers.ddim) from x [N, W, X] (sigmas[0] * noise)."""
  n = x.shape[0]
  for i in range(len(sigmas) - 1):
    sigma = sigmas[i].expand(n)[:, None, None]
    c_skip, c_out, c_in, c_noise = preconditioning(sigma, sigma_data)
    denoised = c_skip * x + c_out * model(
        c_in * x, c_noise.reshape(-1), **context
    )
    # DDIM (probability-flow ODE, Euler in sigma): x moves along (x - D) / sigma.
    x = denoised + (sigmas[i + 1] / sigmas[i]) * (x - denoised)
  return x


# ------------------------------------------------------------ weight copy
def _t(x) -> torch.Tensor:
  return torch.from_numpy(np.array(x, np.float32))


def _linear(dst: nn.Linear, src) -> None:
  """nnx.Linear (kernel [in, out]) -> nn.Linear (weight [out, in])."""
  dst.weight.copy_(_t(src.kernel[...]).T)
  dst.bias.copy_(_t(src.bias[...]))


@torch.no_grad()
def copy_from_jax(dst: nn.Module, src) -> nn.Module:
  """Copies an nnx model's weights into its twin; returns `dst`.

  src: a `gcbc.Model`'s policy (MSE head) for a `GCBCPolicy`, or a
  `beso.Model`'s transformer network for a `BesoTransformer`.
  """
  if isinstance(dst, GCBCPolicy):
    for d, s in zip(dst.encoder, src.encoder.layers, strict=True):
      _linear(d, s)
    dst.gru.weight_ih_l0.copy_(_t(src.cell.dense_i.kernel[...]).T)
    dst.gru.bias_ih_l0.copy_(_t(src.cell.dense_i.bias[...]))
    dst.gru.weight_hh_l0.copy_(_t(src.cell.dense_h.kernel[...]).T)
    _linear(dst.head, src.head.linear)
    return dst
  if not isinstance(dst, BesoTransformer):
    raise TypeError(f"no weight copy into {type(dst).__name__}")
  _linear(dst.sigma_hidden, src.sigma.hidden)
  _linear(dst.sigma_out, src.sigma.out)
  _linear(dst.goal, src.goal.linear)
  dst.null.copy_(_t(src.goal.null[...]))
  _linear(dst.obs_in, src.obs_in)
  _linear(dst.action_in, src.action_in)
  dst.position.copy_(_t(src.position[...]))
  for d, s in zip(dst.blocks, src.blocks, strict=True):
    for norm in ("attention_norm", "mlp_norm"):
      getattr(d, norm).weight.copy_(_t(getattr(s, norm).scale[...]))
      getattr(d, norm).bias.copy_(_t(getattr(s, norm).bias[...]))
    a = s.attention
    # [width, heads, head_dim] kernels -> one [3 width, width] in-projection.
    proj = [
        _t(p.kernel[...]).reshape(d.mlp_in.in_features, -1).T
        for p in (a.query, a.key, a.value)
    ]
    d.attention.in_proj_weight.copy_(torch.cat(proj, 0))
    d.attention.in_proj_bias.copy_(
        torch.cat(
            [_t(p.bias[...]).reshape(-1) for p in (a.query, a.key, a.value)]
        )
    )
    d.attention.out_proj.weight.copy_(
        _t(a.out.kernel[...]).reshape(-1, d.mlp_in.in_features).T
    )
    d.attention.out_proj.bias.copy_(_t(a.out.bias[...]))
    _linear(d.mlp_in, s.mlp_in)
    _linear(d.mlp_out, s.mlp_out)
  dst.norm.weight.copy_(_t(src.norm.scale[...]))
  dst.norm.bias.copy_(_t(src.norm.bias[...]))
  _linear(dst.out, src.out)
  return dst
