"""Real data for chainrule: the bundled 8x8 digits, MNIST / Fashion-MNIST from IDX files,
and tables from CSV files or arrays."""

from .digits import Digits, load_digits
from .fetch import DownloadError, data_home, download
from .mnist import MNIST, FashionMNIST, parse_idx, read_idx
from .split import split_indices, train_test_split
from .tabular import Table, TabularDataset, from_arrays, read_csv

__all__ = [
    "Digits", "DownloadError", "FashionMNIST", "MNIST", "Table", "TabularDataset",
    "data_home", "download", "from_arrays", "load_digits", "parse_idx", "read_csv", "read_idx",
    "split_indices", "train_test_split",
]
