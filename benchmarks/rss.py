"""Resident-set-size helpers shared by the memory benchmarks (Linux: /proc and getrusage)."""

import resource

# Serve every allocation above 64 KiB with mmap, so freed tensors leave the RSS at once: glibc's heap otherwise keeps
# fragmented freed blocks and the peak RSS drifts by tens of MiB from run to run. Allocation gets slower.
CHILD_ENV = {"MALLOC_MMAP_THRESHOLD_": str(64 * 1024)}
MIB = 2**20


def rss_bytes() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * resource.getpagesize()


def peak_bytes() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # Linux reports KiB


def reset_peak() -> bool:
    """Reset the peak RSS to the current RSS (Linux >= 4.0); False where the kernel does not allow it."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
    except OSError:
        return False
    return True
