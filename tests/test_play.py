"""The scripted oracle, the play agent, demonstrations and replay."""

import json
import os
import tempfile

from absl.testing import absltest
from absl.testing import parameterized
import numpy as np

from playlearn.envs import playtable
from playlearn.envs import tasks
from playlearn.play import episodes
from playlearn.play import measure
from playlearn.play import oracle
from playlearn.play import replay


class OracleTest(parameterized.TestCase):

  @classmethod
  def setUpClass(cls):
    super().setUpClass()
    cls.env = playtable.PlayTableEnv()

  @parameterized.parameters(*tasks.TASK_NAMES)
  def test_oracle_performs_task(self, task):
    # Two random feasible starts per task with a random style each; the full
    # 200-attempt measurement is scripts/oracle_success.py.
    results, seed = [], 10_000
    while len(results) < 2:
      result = measure.attempt_task(self.env, task, seed)
      seed += 1
      if result is not None:
        results.append(result)
    self.assertEqual([r["success"] for r in results], [True, True], results)

  def test_plan_rejects_unknown_task(self):
    self.env.reset(seed=0)
    orc = oracle.Oracle(self.env, np.random.default_rng(0))
    with self.assertRaisesRegex(ValueError, "open_drawer"):
      orc.plan("fly_away")

  def test_styles_differ_between_seeds(self):
    a = oracle.Style.sample(np.random.default_rng(0))
    b = oracle.Style.sample(np.random.default_rng(1))
    self.assertNotEqual(a, b)


class PlayEpisodeTest(absltest.TestCase):

  @classmethod
  def setUpClass(cls):
    super().setUpClass()
    cls.episode = episodes.generate_episode("play", 5, num_steps=400)

  def test_rlds_structure(self):
    steps = self.episode["steps"]
    t = len(steps["action"])
    self.assertEqual(t, 400)
    self.assertEqual(
        steps["observation"]["state"].shape, (t, playtable.STATE_DIM)
    )
    self.assertEqual(steps["observation"]["state"].dtype, np.float32)
    self.assertEqual(steps["action"].dtype, np.float32)
    self.assertTrue(np.all(np.abs(steps["action"]) <= 1.0))
    self.assertEqual(steps["is_first"].tolist(), [True] + [False] * (t - 1))
    self.assertEqual(steps["is_last"].tolist(), [False] * (t - 1) + [True])
    self.assertFalse(steps["is_terminal"].any())

  def test_segments_label_their_steps(self):
    steps = self.episode["steps"]
    segments = json.loads(self.episode["episode_metadata"]["segments"])
    self.assertGreaterEqual(len(segments), 3)
    labelled = np.zeros(len(steps["action"]), bool)
    for seg in segments:
      words = tasks.TASKS[seg["task"]].instruction
      self.assertTrue(
          all(
              steps["language_instruction"][seg["start"] : seg["end"]] == words
          ),
          seg,
      )
      labelled[seg["start"] : seg["end"]] = True
    # Steps outside every segment (idling, put-downs) carry no instruction.
    self.assertTrue(
        all(i == "" for i in steps["language_instruction"][~labelled])
    )
    # Segments cut by the end of the episode may fail; the others succeed.
    finished = [s for s in segments if s["end"] < len(steps["action"]) - 1]
    self.assertTrue(all(s["success"] for s in finished), finished)

  def test_same_seed_same_episode_other_seed_differs(self):
    again = episodes.generate_episode("play", 5, num_steps=400)
    other = episodes.generate_episode("play", 6, num_steps=400)
    np.testing.assert_array_equal(
        again["steps"]["observation"]["state"],
        self.episode["steps"]["observation"]["state"],
    )
    self.assertFalse(
        np.array_equal(
            other["steps"]["action"], self.episode["steps"]["action"]
        )
    )

  def test_replay_is_bitwise(self):
    frames = replay.replay(
        self.episode["steps"],
        self.episode["episode_metadata"]["reset_seed"],
        static_size=32,
        gripper_size=32,
    )
    self.assertEqual(frames["max_state_error"], 0.0)
    self.assertEqual(frames["rgb_static"].shape, (400, 32, 32, 3))
    # The scene moves: the first and last frames differ.
    self.assertGreater(
        np.abs(
            frames["rgb_static"][0].astype(int) - frames["rgb_static"][-1]
        ).mean(),
        1.0,
    )

  def test_bad_arguments(self):
    with self.assertRaisesRegex(ValueError, "kind"):
      episodes.generate_episode("dream", 0)
    with self.assertRaisesRegex(ValueError, "needs a task"):
      episodes.generate_episode("demo", 0)
    with self.assertRaisesRegex(ValueError, "unknown task"):
      episodes.generate_episode("demo", 0, task="fly_away")

  def test_task_weights_change_what_is_played(self):
    ones = episodes.generate_episode(
        "play", 5, num_steps=400, task_weights={"press_red_button": 1.0}
    )
    np.testing.assert_array_equal(
        ones["steps"]["action"], self.episode["steps"]["action"]
    )
    # press_red_button is always feasible: at 1000x it is nearly every task.
    favoured = episodes.generate_episode(
        "play", 5, num_steps=400, task_weights={"press_red_button": 1000.0}
    )
    played = [
        s["task"] for s in json.loads(favoured["episode_metadata"]["segments"])
    ]
    before = [
        s["task"]
        for s in json.loads(self.episode["episode_metadata"]["segments"])
    ]
    self.assertGreaterEqual(played.count("press_red_button"), 3, played)
    self.assertGreater(
        played.count("press_red_button") / len(played),
        before.count("press_red_button") / len(before) + 0.5,
    )
    self.assertEqual(
        favoured["episode_metadata"]["generator_version"],
        episodes.GENERATOR_VERSION
        + ' task_weights={"press_red_button": 1000.0}',
    )
    self.assertEqual(
        self.episode["episode_metadata"]["generator_version"],
        episodes.GENERATOR_VERSION,
    )

  def test_bad_task_weights(self):
    with self.assertRaisesRegex(ValueError, "unknown task 'fly_away'"):
      episodes.generate_episode("play", 0, task_weights={"fly_away": 2.0})
    with self.assertRaisesRegex(ValueError, r"task_weights\['open_drawer'\]"):
      episodes.generate_episode("play", 0, task_weights={"open_drawer": -1.0})
    with self.assertRaisesRegex(ValueError, "kind='play' only"):
      episodes.generate_episode(
          "demo", 0, task="open_drawer", task_weights={"open_drawer": 2.0}
      )


class DemoEpisodeTest(absltest.TestCase):

  def test_demo_succeeds_and_replays(self):
    episode = episodes.generate_episode("demo", 3, task="stack_block")
    steps, meta = episode["steps"], episode["episode_metadata"]
    self.assertTrue(
        all(
            i == "stack one block on another"
            for i in steps["language_instruction"][:-1]
        )
    )
    env = playtable.PlayTableEnv()
    env.reset(seed=meta["reset_seed"])
    start = env.scene_state()
    for action in steps["action"][:-1]:
      env.step(action)
    self.assertTrue(
        tasks.TASKS["stack_block"].success(start, env.scene_state())
    )
    np.testing.assert_array_equal(
        env._observation()["state"], steps["observation"]["state"][-1]
    )  # pylint: disable=protected-access


class ReplayToolsTest(absltest.TestCase):

  def test_contact_sheet_and_video(self):
    frames = [np.full((16, 16, 3), v, np.uint8) for v in (0, 120, 250)]
    sheet = replay.contact_sheet(frames, ["a", "b", "c"], columns=2, scale=2)
    self.assertEqual(sheet.size, (2 * 32, 2 * (32 + 14)))
    with self.assertRaises(ValueError):
      replay.contact_sheet([], [])
    with tempfile.TemporaryDirectory() as tmp:
      path = os.path.join(tmp, "v.mp4")
      replay.write_video(path, np.stack(frames * 4))
      with open(path, "rb") as f:
        self.assertIn(b"ftyp", f.read(64))  # An MP4 container.


if __name__ == "__main__":
  absltest.main()
