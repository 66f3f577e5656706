"""lab-tui: write seed examples, run the LAB grounded-skills pipeline, review what it made."""

__version__ = "0.1.0"
