"""What the cameras see: segmentation, framings, object sizes in pixels."""

from absl.testing import absltest
import mujoco
import numpy as np

from playlearn.envs import playtable
from playlearn.envs import rendering
from playlearn.envs import scene
from playlearn.play import views


class FramingTest(absltest.TestCase):

  def test_parse_names_a_bad_framing(self):
    for text in ("1,2,3", "a,0,0,0,0,0,40", "0,0,1,0,0,0,0", "0,0,1,0,0,0,180"):
      with self.assertRaisesRegex(ValueError, "fovy.*" + text.split(",")[0]):
        views.Framing.parse(text)
    framing = views.Framing.parse("0.9,-0.25,1.05,-0.05,0.03,0,40")
    self.assertEqual(framing.pos, (0.9, -0.25, 1.05))
    self.assertEqual(framing.fovy, 40.0)

  def test_apply_points_the_camera_at_its_target(self):
    env = playtable.PlayTableEnv()
    framing = views.Framing((0.3, -0.9, 1.2), (-0.1, 0.05, 0.0), 33.0)
    framing.apply(env.model, "static_cam")
    mujoco.mj_forward(env.model, env.data)
    cam = env.model.camera("static_cam").id
    # A MuJoCo camera looks along its -z axis.
    forward = -env.data.cam_xmat[cam].reshape(3, 3)[:, 2]
    wanted = np.subtract(framing.target, framing.pos)
    np.testing.assert_allclose(
        forward, wanted / np.linalg.norm(wanted), atol=2e-4  # look_at rounds
    )
    self.assertEqual(env.model.cam_fovy[cam], 33.0)
    with self.assertRaisesRegex(ValueError, "'nope'"):
      framing.apply(env.model, "nope")

  def test_scene_framing_is_the_xml_camera(self):
    # Framing.apply with the scene's constants leaves the camera as built.
    env = playtable.PlayTableEnv()
    cam = env.model.camera("static_cam").id
    before = env.model.cam_quat[cam].copy()
    views.Framing(
        scene.STATIC_CAM_POS, scene.STATIC_CAM_TARGET, scene.STATIC_CAM_FOVY
    ).apply(env.model, "static_cam")
    q = env.model.cam_quat[cam]
    self.assertGreater(abs(np.dot(q, before)), 1 - 1e-6)


class FootprintTest(absltest.TestCase):

  def test_pixels_and_extent(self):
    ids = np.full((10, 10), -1)
    ids[2:4, 3:8] = 5  # 2 rows x 5 columns
    ids[9, 9] = 6
    self.assertEqual(views._footprint(ids, np.array([5])), (10, 5))
    self.assertEqual(views._footprint(ids, np.array([5, 6])), (11, 8))
    self.assertEqual(views._footprint(ids, np.array([7])), (0, 0))


class MeasureTest(absltest.TestCase):

  @classmethod
  def setUpClass(cls):
    super().setUpClass()
    reason = rendering.unavailable_reason()
    if reason:
      raise absltest.SkipTest(reason)

  def test_segmentation_names_the_geoms_drawn(self):
    env = playtable.PlayTableEnv()
    env.reset(seed=0)
    with rendering.Renderer(env.model, {"static_cam": (48, 48)}) as r:
      ids = r.render_segmentation(env.data)["static_cam"]
      env.model.geom_rgba[env.model.geom("table").id, 3] = 0.0
      without_table = r.render_segmentation(env.data)["static_cam"]
    self.assertEqual(ids.dtype, np.int32)
    table = env.model.geom("table").id
    # The table fills much of the view; made transparent, it is not drawn.
    self.assertGreater((ids == table).mean(), 0.2)
    self.assertFalse((without_table == table).any())
    self.assertGreaterEqual(ids.min(), -1)
    self.assertLess(ids.max(), env.model.ngeom)

  def test_every_task_object_is_in_the_static_view(self):
    report = views.measure(seeds=(0,), num_steps=61, every=20)
    self.assertEqual(report["states"], 4)
    static = report["cameras"]["static"]
    self.assertEqual(set(static), set(views.objects()))
    for name, row in static.items():
      self.assertGreaterEqual(row["seen"], 0.75, name)
      self.assertGreaterEqual(row["across"], 3, name)
      self.assertBetween(row["hidden_by_arm"], 0.0, 1.0)
    self.assertIn("| red block |", views.markdown(report))
    for block, moved in report["push_pixels"].items():
      self.assertBetween(moved["x"], 0.5, 20.0, block)
      self.assertBetween(moved["y"], 0.5, 20.0, block)

  def test_pixel_shift_is_a_pinhole_projection(self):
    env = playtable.PlayTableEnv()
    framing = views.Framing((0.0, -1.0, 0.5), (0.0, 0.0, 0.5), 60.0)
    framing.apply(env.model, "static_cam")
    mujoco.mj_forward(env.model, env.data)
    point = (0.0, 0.0, 0.5)  # 1 m straight ahead of the camera.
    shift = lambda delta: views.pixel_shift(
        env.model, env.data, "static_cam", point, np.asarray(delta), 100
    )
    focal = 50 / np.tan(np.deg2rad(30))
    self.assertAlmostEqual(shift((0.1, 0, 0)), focal * 0.1, places=3)
    self.assertAlmostEqual(shift((0, 0, 0.1)), focal * 0.1, places=3)
    self.assertAlmostEqual(shift((0, 0.1, 0)), 0.0, places=6)  # Depth only.

  def test_a_camera_looking_away_sees_nothing(self):
    away = views.Framing((0.0, -1.0, 0.5), (0.0, -3.0, 1.0), 40.0)
    report = views.measure(
        seeds=(0,), num_steps=21, every=20, static_framing=away
    )
    for name, row in report["cameras"]["static"].items():
      self.assertEqual(row["seen"], 0.0, name)


if __name__ == "__main__":
  absltest.main()
