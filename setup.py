"""tfqsr: neural quantum states and quantum-inspired machine learning on TensorFlow/Keras 3."""
from setuptools import find_packages, setup

setup(
    name="tfqsr",
    version="0.1.0",
    description="Neural quantum states and quantum-inspired machine learning with TensorFlow and Keras 3",
    packages=find_packages(include=["tfqsr", "tfqsr.*"]),
    # The Hilbert space models' example configurations (python -m tfqsr.hsm --config=<name>).
    package_data={"tfqsr.hsm": ["configs/*.json"]},
    python_requires=">=3.11,<3.12",
    install_requires=[
        # The four TensorFlow pieces are pinned together: TFP 0.25 needs tf-keras of the same
        # minor version as TensorFlow, and Keras 3 is the model API.
        "tensorflow==2.21.0",
        "tf-keras==2.21.0",
        "tensorflow-probability==0.25.0",
        "keras>=3.10,<4",
        "tensorboard>=2.20",  # tf.summary needs it; TF 2.21 no longer installs it
        "absl-py>=2.1",
        "numpy>=1.26",
        "scipy>=1.11",
        "matplotlib>=3.8",
        # Hilbert space models: validated configurations (pydantic v2), tabular data (pandas) and
        # the datasets that ship with scikit-learn (breast cancer, diabetes, digits), also the
        # quantum recurrent network's handwritten digits and the HSM benchmark's baselines.
        "pydantic>=2.5,<3",
        "pandas>=2.0",
        "scikit-learn>=1.3",
    ],
    extras_require={
        "test": ["pytest>=8", "pytest-xdist>=3.5"],  # the suite runs on every core (tests/run.sh)
        # Horovod 0.28.1 does not build against TF 2.21 from PyPI as is; install it with
        # `bash launch/install_horovod.sh`, which patches and builds it (see README).
        "horovod": [],
    },
)
