"""Image encoders: shapes over leading dims, ResNet-18's size, keypoints."""

from absl.testing import absltest
from flax import nnx
import jax
import jax.numpy as jnp
import numpy as np

from playlearn.models import encoders


def _params(module) -> int:
  return sum(x.size for x in jax.tree.leaves(nnx.state(module, nnx.Param)))


def _images(shape, seed=0):
  return jnp.asarray(
      np.random.default_rng(seed).integers(0, 256, shape + (3,), np.uint8)
  )


class EncoderTest(absltest.TestCase):

  def test_resnet18_has_resnet18s_size(self):
    # torchvision's resnet18 has 11,689,512 parameters, 513,000 of them in
    # its classifier; GroupNorm has BatchNorm's affine parameters.
    resnet = nnx.eval_shape(lambda: encoders.ResNet18(rngs=nnx.Rngs(0)))
    self.assertEqual(_params(resnet), 11_176_512)

  def test_leading_dims_and_feature_sizes(self):
    x = _images((2, 3, 16, 16))
    resnet = nnx.jit(lambda m, x: m(x))
    model = encoders.ResNet18(width=4, rngs=nnx.Rngs(0))
    self.assertEqual(resnet(model, x).shape, (2, 3, 32))
    conv = encoders.ConvEncoder(features=16, channels=(8, 8), rngs=nnx.Rngs(0))
    self.assertEqual(conv(x).shape, (2, 3, 16))
    self.assertEqual(conv(x[0, 0]).shape, (16,))
    # Each image is encoded on its own: another image in the batch changes
    # nothing (GroupNorm's statistics are per image, unlike BatchNorm's).
    np.testing.assert_allclose(conv(x)[1, 2], conv(x[1, 2]), atol=1e-5)
    other = x.at[0].set(0)
    np.testing.assert_array_equal(resnet(model, x)[1], resnet(model, other)[1])
    with self.assertRaisesRegex(ValueError, r"\[..., H, W, C\].*\(5, 3\)"):
      conv(jnp.zeros((5, 3), jnp.uint8))

  def test_gradients_reach_every_layer(self):
    model = encoders.ResNet18(width=4, rngs=nnx.Rngs(1))
    x = _images((2, 16, 16))
    grads = nnx.jit(nnx.grad(lambda m: jnp.sum(m(x) ** 2)))(model)
    norms = [float(jnp.abs(g).sum()) for g in jax.tree.leaves(grads)]
    self.assertTrue(all(n > 0 for n in norms), norms)

  def test_spatial_softmax_finds_a_peak(self):
    maps = jnp.zeros((1, 5, 9, 2))
    maps = maps.at[0, 1, 6, 0].set(50.0)  # row 1 of 5, column 6 of 9
    maps = maps.at[0, 4, 0, 1].set(50.0)  # bottom-left corner
    points = np.asarray(encoders.spatial_softmax(maps)).reshape(2, 2)
    np.testing.assert_allclose(points[0], [0.5, -0.5], atol=1e-3)
    np.testing.assert_allclose(points[1], [-1.0, 1.0], atol=1e-3)

  def test_grid_pool_averages_each_cell(self):
    maps = jnp.arange(2 * 4 * 6 * 3, dtype=jnp.float32).reshape(2, 4, 6, 3)
    pooled = np.asarray(encoders.grid_pool(maps, 2)).reshape(2, 2, 2, 3)
    np.testing.assert_allclose(pooled[:, 0, 1], maps[:, :2, 3:].mean((1, 2)))
    np.testing.assert_allclose(pooled[:, 1, 0], maps[:, 2:, :3].mean((1, 2)))
    # Uneven and too-small maps: every cell reads at least one position.
    self.assertEqual(encoders.grid_pool(maps[:, :3, :5], 6).shape, (2, 108))
    self.assertTrue(np.isfinite(encoders.grid_pool(maps[:, :1], 3)).all())

  def test_the_grid_head_sees_a_small_light(self):
    # A small light switched on, far from the image's brightest feature:
    # the grid head's output changes with it.
    rngs = nnx.Rngs(0)
    grid = encoders.ConvEncoder(16, (8, 8, 8), head="grid", rngs=rngs)
    image = np.full((48, 48, 3), 100, np.uint8)
    image[30:40, 5:15] = 250  # a bright block, always there
    lit = image.copy()
    lit[2:5, 40:43] = 255
    off, on = grid(jnp.asarray(image)), grid(jnp.asarray(lit))
    self.assertGreater(float(jnp.abs(on - off).max()), 1e-3)
    self.assertEqual(grid(_images((2, 3, 30, 20))).shape, (2, 3, 16))
    with self.assertRaisesRegex(ValueError, "head 'pool'"):
      encoders.ConvEncoder(16, (8,), head="pool", rngs=rngs)
    with self.assertRaisesRegex(ValueError, "encoder_cells must be >= 1"):
      encoders.ConvEncoder(16, (8,), head="grid", cells=0, rngs=rngs)
    with self.assertRaisesRegex(ValueError, "encoder_head 'grid'.*resnet18"):
      encoders.check_config("resnet18", ("cam",), "DynaMo", "grid")
    with self.assertRaisesRegex(ValueError, "encoder_head 'x'"):
      encoders.check_config("conv", ("cam",), "DynaMo", "x")
    with self.assertRaisesRegex(ValueError, "encoder_cells must be >= 1"):
      encoders.check_config("conv", ("cam",), "DynaMo", "grid", 0)

  def test_the_pixel_grid_is_each_cells_mean_colour(self):
    grid = encoders.PixelGrid(cells=2)
    self.assertEqual(_params(grid), 0)  # Nothing to train.
    image = np.zeros((4, 6, 3), np.uint8)
    image[:2, 3:] = 255  # The top-right cell white, the rest black.
    image[2:, :3, 0] = 255  # The bottom-left cell red.
    cells = np.asarray(grid(jnp.asarray(image))).reshape(2, 2, 3)
    np.testing.assert_allclose(cells[0, 1], 1.0)
    np.testing.assert_allclose(cells[1, 0], [1.0, -1.0, -1.0])
    np.testing.assert_allclose(cells[[0, 1], [0, 1]], -1.0)
    self.assertEqual(grid(_images((2, 3, 30, 20))).shape, (2, 3, 12))
    with self.assertRaisesRegex(ValueError, "encoder_cells must be >= 1"):
      encoders.PixelGrid(cells=0)
    with self.assertRaisesRegex(ValueError, "pixels encoder has no head"):
      encoders.check_config("pixels", ("cam",), "DynaMo", "grid")

  def test_multi_view_fuses_the_cameras_it_was_built_for(self):
    rngs = nnx.Rngs(0)
    views = {
        "rgb_static": encoders.ConvEncoder(8, (8,), rngs=rngs),
        "rgb_gripper": encoders.ConvEncoder(4, (8,), rngs=rngs),
    }
    model = encoders.MultiView(views, features=6, rngs=rngs)
    images = {
        "rgb_static": _images((2, 3, 24, 24)),
        "rgb_gripper": _images((2, 3, 16, 16), seed=1),
    }
    z = model(images)
    self.assertEqual(z.shape, (2, 3, 6))
    changed = dict(images, rgb_gripper=images["rgb_gripper"][..., ::-1, :, :])
    self.assertFalse(np.allclose(model(changed), z))
    with self.assertRaisesRegex(KeyError, "rgb_gripper"):
      model({"rgb_static": images["rgb_static"]})
    with self.assertRaisesRegex(ValueError, "at least one"):
      encoders.MultiView({}, features=6, rngs=rngs)


if __name__ == "__main__":
  absltest.main()
