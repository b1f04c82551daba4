"""The training runtime shared by every system: run directories (``rundir``), atomic files
(``files``), checkpoints, logging and progress, interruption, distribution (Horovod), export,
the step loop (``training``, ``loop``), the epoch loop (``epochs``, ``datasets``,
``callbacks``), the command-line kit (``cli``) and the shared start of a run (``experiment``).
Nothing here knows about physics."""
