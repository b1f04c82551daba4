"""The training runtime shared by every system: run directories, checkpoints, logging,
interruption, distribution and export. Nothing here knows about physics."""
