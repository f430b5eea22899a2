"""Small rotation helpers (quaternions are MuJoCo's [w, x, y, z])."""

from __future__ import annotations

import math

import mujoco
import numpy as np


def quat_to_mat(quat: np.ndarray) -> np.ndarray:
  mat = np.empty(9)
  mujoco.mju_quat2Mat(mat, np.asarray(quat, np.float64))
  return mat.reshape(3, 3)


def mat_to_quat(mat: np.ndarray) -> np.ndarray:
  quat = np.empty(4)
  mujoco.mju_mat2Quat(quat, np.asarray(mat, np.float64).reshape(9))
  return quat


def mat_to_euler(mat: np.ndarray) -> np.ndarray:
  """Roll, pitch, yaw with R = Rz(yaw) @ Ry(pitch) @ Rx(roll).

  Args:
    mat: a rotation matrix, [3, 3] or flattened row-major [9].
  Returns:
    [3] (roll, pitch, yaw).
  """
  m = np.asarray(mat, np.float64).reshape(9).tolist()
  return np.array(
      [
          math.atan2(m[7], m[8]),
          math.asin(min(1.0, max(-1.0, -m[6]))),
          math.atan2(m[3], m[0]),
      ]
  )


def mats_to_euler(mats: np.ndarray) -> np.ndarray:
  """`mat_to_euler` of a batch: [N, 9] or [N, 3, 3] -> [N, 3]."""
  m = np.asarray(mats).reshape(-1, 9)
  return np.stack(
      [
          np.arctan2(m[:, 7], m[:, 8]),
          np.arcsin(np.clip(-m[:, 6], -1.0, 1.0)),
          np.arctan2(m[:, 3], m[:, 0]),
      ],
      axis=-1,
  )


def euler_to_mat(euler: np.ndarray) -> np.ndarray:
  """Inverse of `mat_to_euler`."""
  r, p, y = (float(a) for a in euler)
  cr, sr, cp, sp, cy, sy = (
      math.cos(r),
      math.sin(r),
      math.cos(p),
      math.sin(p),
      math.cos(y),
      math.sin(y),
  )
  return np.array(
      [
          [cy * cp, cy * sp * sr - sy * cr, cy * sp * cr + sy * sr],
          [sy * cp, sy * sp * sr + cy * cr, sy * sp * cr - cy * sr],
          [-sp, cp * sr, cp * cr],
      ]
  )


def yaw_of(mat: np.ndarray) -> float:
  """Heading of a body's x axis in the world's xy plane."""
  return float(np.arctan2(mat[1, 0], mat[0, 0]))


def wrap_angle(angle):
  return (np.asarray(angle) + np.pi) % (2 * np.pi) - np.pi
