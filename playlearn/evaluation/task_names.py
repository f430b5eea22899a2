"""The task suite's names, in a module that loads no simulator.

`playlearn.evaluation.suite` (which needs MuJoCo) runs them; config checks
(`train.evaluators.check`) read them from here, so the trainer can check a
config on a host without MuJoCo.
"""

EVAL_TASKS = (
    "open_drawer",
    "close_drawer",
    "slide_door_left",
    "slide_door_right",
    "press_red_button",
    "press_green_button",
    "press_blue_button",
    "turn_on_lamp",
    "turn_off_lamp",
    "lift_red_block",
    "lift_green_block",
    "lift_blue_block",
    "push_red_block_left",
    "push_red_block_right",
    "rotate_red_block_left",
    "rotate_red_block_right",
    "stack_block",
    "place_in_drawer",
)
