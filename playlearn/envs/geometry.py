"""Small rotation helpers (quaternions are MuJoCo's [w, x, y, z])."""
from __future__ import annotations

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
  """Roll, pitch, yaw with R = Rz(yaw) @ Ry(pitch) @ Rx(roll)."""
  pitch = np.arcsin(np.clip(-mat[2, 0], -1.0, 1.0))
  roll = np.arctan2(mat[2, 1], mat[2, 2])
  yaw = np.arctan2(mat[1, 0], mat[0, 0])
  return np.array([roll, pitch, yaw])


def euler_to_mat(euler: np.ndarray) -> np.ndarray:
  """Inverse of `mat_to_euler`."""
  r, p, y = euler
  cr, sr, cp, sp, cy, sy = (np.cos(r), np.sin(r), np.cos(p), np.sin(p),
                            np.cos(y), np.sin(y))
  return np.array([
      [cy * cp, cy * sp * sr - sy * cr, cy * sp * cr + sy * sr],
      [sy * cp, sy * sp * sr + cy * cr, sy * sp * cr - cy * sr],
      [-sp, cp * sr, cp * cr],
  ])


def yaw_of(mat: np.ndarray) -> float:
  """Heading of a body's x axis in the world's xy plane."""
  return float(np.arctan2(mat[1, 0], mat[0, 0]))


def wrap_angle(angle):
  return (np.asarray(angle) + np.pi) % (2 * np.pi) - np.pi
