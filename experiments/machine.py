"""What machine a measurement ran on: CPU model, cores, torch version, date."""

from __future__ import annotations

import datetime
import os
import platform

import torch


def machine_info() -> dict:
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            cpu = next(
                line.split(":", 1)[1].strip()
                for line in f
                if line.startswith("model name")
            )
    except (OSError, StopIteration):
        pass
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "cuda": torch.cuda.get_device_name(0)
        if torch.cuda.is_available()
        else None,
        "python": platform.python_version(),
        "date": datetime.date.today().isoformat(),
        # other jobs on the machine: wall times mean little without it
        "load_average": [round(x, 2) for x in os.getloadavg()]
        if hasattr(os, "getloadavg")
        else None,
    }


def torch_threads(machine: dict) -> str:
    """'2 torch threads', from a `machine_info()` record, for a table's note."""
    n = machine["torch_threads"]
    return f"{n} torch thread{'s' if n > 1 else ''}"


def load_note(machine: dict) -> str:
    """', 5-minute load average 3.2' when the record has it."""
    average = machine.get("load_average")
    return f", 5-minute load average {average[1]:.1f}" if average else ""
