"""Packaging for perceiver-hf: a Hugging Face-native Perceiver IO masked language model."""
from pathlib import Path

from setuptools import find_packages, setup

HERE = Path(__file__).parent
ONNX_EXTRA = ["onnx>=1.17", "onnxruntime>=1.20", "onnxscript>=0.2"]
# The perceiver-io library (the reference of tests/test_convert_perceiver_io.py) needs einops 0.4.1 and fairscale;
# perceiver-io==0.4.0 itself pins an old torch and Lightning, so the Makefile's test target installs it with
# --no-deps (pip extras cannot say that): PERCEIVER_IO_REFERENCE there.
PERCEIVER_IO_REFERENCE = ["einops==0.4.1", "fairscale==0.4.13"]
# Tools of the ecosystem that tests/clients/ runs on tiny models (each test skips where its package is missing).
# All accept the pinned CPU torch, so none pulls a CUDA build. Left out (their tests run where they are
# installed): torchao, whose import (transformers imports it whenever it is installed) writes "Failed to load
# ..._C_mxfp8...so" and torch._pytree deprecation lines on stderr, which tests/test_quiet_output.py refuses; and
# bitsandbytes 0.50, whose import (transformers.trainer imports it) asks the Hub for a `kernels` repository's
# publisher trust and prints two lines on stderr in every training process, offline or not.
CLIENTS = ["peft>=0.21", "optimum-quanto>=0.2.7", "sentence-transformers>=6.3"]
# transformers' own common test files (fetched from its sdist by scripts/fetch_transformers_tests.py) import these
TRANSFORMERS_COMMON_TESTS = ["parameterized>=0.9"]

setup(
    name="perceiver-hf",
    version="0.1.0",
    description="Perceiver IO masked language models as first-class Hugging Face transformers models",
    long_description=(HERE / "README.md").read_text(encoding="utf-8") if (HERE / "README.md").exists() else "",
    long_description_content_type="text/markdown",
    license="Apache-2.0",
    python_requires=">=3.10",
    package_dir={"": "src"},
    packages=find_packages("src"),
    py_modules=["perceiver_hf_launcher"],  # the command's entry point: parses before torch is imported
    include_package_data=True,
    package_data={"perceiver_hf": ["py.typed", "pretrained/**/*", "model_cards/*.md"]},
    install_requires=[
        # torch is pinned in the README and CI commands (torch==2.13.0, the CPU wheel); a range here
        # lets pip keep an already installed build instead of pulling the CUDA one.
        "torch>=2.4",
        "transformers>=5.0,<6",
        "tokenizers>=0.21",
        "huggingface-hub>=1.0",
        "accelerate>=1.0",
        "safetensors>=0.4",
        "numpy>=1.24",
    ],
    extras_require={
        "training": ["datasets>=3.0", "matplotlib>=3.7", "pyyaml>=6.0"],
        # `perceiver-hf export onnx`: torch.onnx's dynamo exporter needs onnxscript; validation needs onnxruntime
        "onnx": ONNX_EXTRA,
        "test": ["pytest>=8", "pytest-xdist>=3.5", "datasets>=3.0", "matplotlib>=3.7", "pyyaml>=6.0", *ONNX_EXTRA,
                 *PERCEIVER_IO_REFERENCE, *CLIENTS, *TRANSFORMERS_COMMON_TESTS],
    },
    entry_points={"console_scripts": ["perceiver-hf=perceiver_hf_launcher:main"]},
    classifiers=[
        "Programming Language :: Python :: 3",
        "License :: OSI Approved :: Apache Software License",
        "Topic :: Scientific/Engineering :: Artificial Intelligence",
    ],
)
