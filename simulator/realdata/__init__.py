"""Feature purification on real images (issue 15): offline loaders, a dataset-backed task with
the drivers' sampler interface, a learned-dictionary dense-mixture measure and the experiment.

The science only: files and figures are written by :mod:`reports.cli.real`.
"""

from .dataset import ImageTask
from .dictionary import Dictionary, dictionary_neuron_table, fit_dictionary
from .experiment import DEFAULT_TASK, TASKS, RealConfig, RealResult, run_real
from .loaders import (DATASETS, DataMissingError, ImageData, load_cifar10, load_dataset,
                      load_digits, load_fashion_mnist, load_mnist5k, read_idx)

__all__ = ["DATASETS", "DEFAULT_TASK", "TASKS", "DataMissingError", "Dictionary", "ImageData",
           "ImageTask", "RealConfig", "RealResult", "dictionary_neuron_table", "fit_dictionary",
           "load_cifar10", "load_dataset", "load_digits", "load_fashion_mnist", "load_mnist5k",
           "read_idx", "run_real"]
