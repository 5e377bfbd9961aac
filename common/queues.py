"""Queue names, in one place: generation goes to GPU workers, everything else to ``default``."""

GPU_QUEUE = "gpu"
DEFAULT_QUEUE = "default"
