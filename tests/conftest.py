"""Shared test settings: quiet TensorFlow, float64-safe numpy printing."""
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
