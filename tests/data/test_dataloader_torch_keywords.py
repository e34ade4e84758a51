"""DataLoader accepts every keyword of torch's signature (the worker and pinning options
have no effect: loading happens in the calling process, in order)."""

from __future__ import annotations

import chainrule as cr
from chainrule.utils.data import DataLoader, TensorDataset


def test_pin_memory_device_and_in_order_are_accepted_and_change_nothing():
    ds = TensorDataset(cr.arange(10), cr.arange(10) * 2)
    plain = [b[0].tolist() for b in DataLoader(ds, batch_size=3)]
    loader = DataLoader(ds, batch_size=3, num_workers=2, pin_memory=True,
                        pin_memory_device="cuda", in_order=False, prefetch_factor=2,
                        persistent_workers=True)
    assert loader.pin_memory_device == "cuda" and loader.in_order is False
    assert [b[0].tolist() for b in loader] == plain
