"""gwp: learning-based green workload placement, reproduced (Zhou et al., JMPSCE 2022)."""

__version__ = "0.1.0"
