r"""Saves several pretrained encoders as one that reads them side by side.

  python scripts/stack_encoders.py \
      --encoders=out/dynamo_grid_3k/encoder,out/act_jepa_grid_3k/encoder \
      --out=out/stacked_dynamo_act_jepa/encoder

The stacked encoder (`playlearn.models.stacked`) embeds each camera with
every part and concatenates the part embeddings, so a policy trained on it
(`--config.encoder=<out>`) sees what each pretraining kept. The parts keep
their weights; they must read the same cameras at the same image sizes.
"""

from absl import app
from absl import flags

from flax import nnx

from playlearn import console
from playlearn.models import pretrained
from playlearn.models import stacked

_ENCODERS = flags.DEFINE_list(
    "encoders", None, "Saved encoders (directories), 2 or more.", required=True
)
_OUT = flags.DEFINE_string(
    "out", None, "Directory to save the stacked encoder to.", required=True
)


def main(argv):
  del argv
  console.quiet_library_logs()
  parts = [pretrained.load(path) for path in _ENCODERS.value]
  sizes = [pretrained.describe(p).get("image_sizes") for p in _ENCODERS.value]
  if any(s != sizes[0] for s in sizes):
    raise ValueError(
        "the encoders were trained on frames of different sizes: "
        + ", ".join(f"{p}: {s}" for p, s in zip(_ENCODERS.value, sizes))
    )
  model = stacked.Model(stacked.Config.of(parts), rngs=nnx.Rngs(0))
  stacked.copy_weights(model, parts)
  pretrained.save(model, _OUT.value, sizes[0])
  widths = " + ".join(str(p.features) for p in parts)
  print(
      f"wrote {_OUT.value}: {len(parts)} encoders, {widths} = "
      f"{model.features} features a camera"
  )


if __name__ == "__main__":
  app.run(main)
