"""Argument types shared by the commands."""

import argparse


def positive_int(text: str) -> int:
    """argparse ``type=`` for counts that must be >= 1 (the error names the value)."""
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {value}")
    return value
