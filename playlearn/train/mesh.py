"""The device mesh and shardings: data parallel over every device.

One named axis, 'data': batches are split along their first dimension, the
model state is replicated. The same code runs on one CPU, on several (fake
ones with --xla_force_host_platform_device_count), on GPUs and TPUs, and
across hosts once `jax.distributed.initialize()` has been called.
"""

from __future__ import annotations

import jax
import numpy as np
from jax.sharding import Mesh
from jax.sharding import NamedSharding
from jax.sharding import PartitionSpec as P

DATA_AXIS = "data"


def make_mesh() -> Mesh:
  return Mesh(np.asarray(jax.devices()), (DATA_AXIS,))


def data_sharding(mesh: Mesh) -> NamedSharding:
  return NamedSharding(mesh, P(DATA_AXIS))


def replicated(mesh: Mesh) -> NamedSharding:
  return NamedSharding(mesh, P())


def shard_batch(batch, mesh: Mesh):
  """Host numpy batch -> global jax arrays split over the 'data' axis.

  Each process passes its own slice of the global batch (all of it on one
  host); the leading dimension must divide by the local device count.
  """
  sharding = data_sharding(mesh)

  def put(x):
    x = np.asarray(x)
    if x.shape[0] % jax.local_device_count():
      raise ValueError(
          f"batch dimension {x.shape[0]} does not divide over "
          f"{jax.local_device_count()} local devices"
      )
    return jax.make_array_from_process_local_data(sharding, x)

  return jax.tree.map(put, batch)
