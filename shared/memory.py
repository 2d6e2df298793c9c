"""What a service loads to run (modules, contract schemas, adapters, the hub's matcher index) lives until it stops."""

import gc


def freeze_long_lived_objects() -> int:
    """Collects what is garbage already, then moves every object alive now out of the collector's generations.

    A full collection walks every tracked object: at 50 alerts/s (5 Dec) it paused the enrichment for 91 ms, NE's
    intake for 77 ms and the hub's audit for 108 ms while alerts waited behind it, and with a regional index of
    1,000,000 persons one collection takes 170-200 ms. After the freeze each took under 2 ms. Frozen objects are
    still freed when nothing refers to them; only a reference cycle among them is never collected, so what leaks
    is bounded by what existed at the freeze (e.g. the broker session of the start, once a lost link rebuilds it).
    Returns how many objects are frozen in all.
    """
    gc.collect()
    gc.freeze()
    return gc.get_freeze_count()
