"""Score-based diffusion for actions (EDM, Karras et al. 2022), as BESO uses it.

edm.py       preconditioning, denoiser, training target and loss, training sigma densities
samplers.py  noise schedules and samplers (DDIM, Euler, Euler-ancestral, Heun, DPM-Solver++(2M))
"""

from playlearn.diffusion import edm, samplers

__all__ = ["edm", "samplers"]
