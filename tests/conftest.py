"""Shared test fixtures: small configs and profiles written to tmp dirs."""
import json
import os
from pathlib import Path

import pytest
import yaml

# the real 5G copy: GWP_TEST_TRACES, else GWP_TRACES, else ../shared beside the checkout (as in CI)
SHARED_TRACES = Path(os.environ.get("GWP_TEST_TRACES") or os.environ.get("GWP_TRACES")
                     or Path(__file__).resolve().parents[2] / "shared" / "data" / "5g-raca2020")
TRACE_HEADER = ("Timestamp,Longitude,Latitude,Speed,Operatorname,CellID,NetworkMode,RSRP,RSRQ,SNR,CQI,RSSI,"
                "DL_bitrate,UL_bitrate,State,PINGAVG\n")


def write_trace_root(root: Path, seconds: int = 120) -> Path:
    """A small dataset in the real archive's layout and columns (two files per folder)."""
    import numpy as np

    rng = np.random.default_rng(7)
    for kind, median in (("Driving", 9000), ("Static", 24000)):
        folder = root / "Download" / kind
        folder.mkdir(parents=True, exist_ok=True)
        for n in range(2):
            rows = []
            for t in range(seconds):
                idle = rng.random() < 0.05
                kbps = 0 if idle else int(median * np.exp(rng.normal(0, 0.8)))
                rows.append(f"2020.01.01_10.00.{t:02d},-8.39,51.88,0,B,11,5G,-100,-12,5.0,12,-80,{kbps},50,"
                            f"{'I' if idle else 'D'},-\n")
            (folder / f"B_2020.01.0{n + 1}_10.00.00.csv").write_text(TRACE_HEADER + "".join(rows))
    return root


@pytest.fixture(scope="session")
def trace_root(tmp_path_factory) -> Path:
    """The real 5G copy where there is one, else a small copy in its layout written for the tests."""
    if (SHARED_TRACES / "Download").is_dir():
        return SHARED_TRACES
    return write_trace_root(tmp_path_factory.mktemp("traces"))


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path_factory, monkeypatch):
    # one profile cache per test session, never the user's ~/.cache
    monkeypatch.setenv("GWP_CACHE", str(tmp_path_factory.getbasetemp() / "cache"))
    monkeypatch.delenv("GWP_TRACES", raising=False)


def tiny_cluster_config(batch_size=8):
    """Three devices of two classes, numbers chosen for easy hand arithmetic."""
    return {
        "cluster": {
            "batch_size": batch_size,
            "opt_state_factor": 1,
            "classes": {
                "fast": {"count": 2, "f_levels_ghz": [2.0], "sigma": 0.5, "eta": 1.0e-28, "gamma_g": 0.1,
                         "gamma_h": 0.05, "p_idle_w": 0.5, "memory_mb": 64, "trace": "Static",
                         "load": {"mean": 0.0, "std": 0.0, "rho": 0.0, "u_min": 0.5}},
                "slow": {"count": 1, "f_levels_ghz": [1.0], "sigma": 1.0, "eta": 2.0e-28, "gamma_g": 0.02,
                         "gamma_h": 0.01, "p_idle_w": 0.1, "memory_mb": 16, "trace": "Static",
                         "load": {"mean": 0.0, "std": 0.0, "rho": 0.0, "u_min": 0.5}},
            },
        },
        "cost": {"alpha": 0.25, "t_ref_s": 2.0, "e_ref_j": 0.5},
    }


@pytest.fixture
def write_yaml(tmp_path):
    def write(data, name="config.yaml"):
        path = tmp_path / name
        path.write_text(yaml.safe_dump(data))
        return path
    return write


@pytest.fixture
def write_json(tmp_path):
    def write(data, name):
        path = tmp_path / name
        path.write_text(json.dumps(data))
        return path
    return write


TINY_PROFILE = "block,name,flops,out_bytes,act_bytes,param_bytes\n" \
               "0,b0,3000000,1000,20000,100000\n" \
               "1,b1,6000000,500,10000,400000\n" \
               "2,b2,1500000,40,4000,50000\n"


@pytest.fixture
def tiny_profile(tmp_path):
    path = tmp_path / "profile.csv"
    path.write_text(TINY_PROFILE)
    return path


def one_line_error(result, *words):
    """A CLI result that failed with exit 2 and one line holding every word, no traceback."""
    assert result.exit_code == 2, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.output, result.output
    for w in words:
        assert w in lines[0], lines[0]


def pytest_report_header(config):
    state = 'present' if (SHARED_TRACES / 'Download').is_dir() else 'absent: the tests write a small copy in its layout'
    return f"real 5G traces for tests: {SHARED_TRACES} ({state})"
