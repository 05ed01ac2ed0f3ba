"""Trace reading and replay (SPEC §6) on hand-made files and the real 5G copy."""
import numpy as np
import pytest
from click.testing import CliRunner

from gwp_cli.cli import main
from gwp_cli.errors import GwpError
from gwp_cli.traces import BandwidthReplay, read_trace


HEADER = "Timestamp,Speed,NetworkMode,DL_bitrate,UL_bitrate,State,Extra\n"


def write_trace(tmp_path, rows, header=HEADER, name="t.csv"):
    path = tmp_path / name
    path.write_text(header + "".join(rows))
    return path


def test_idle_rows_skipped_dashes_ignored_units(tmp_path):
    path = write_trace(tmp_path, ["a,0,5G,800,1,D,x\n", "a,0,5G,0,0,I,x\n", "a,0,5G,-,1,D,x\n", "a,0,LTE,0,0,D,x\n",
                                  "a,0,5G,1600,1,D,x\n"])
    series, idle = read_trace(path)
    assert idle == 1
    # 800 kbit/s = 100,000 bytes/s; a D-state 0 stays a real zero (an outage)
    assert series.tolist() == [100000.0, 0.0, 200000.0]


def test_missing_column_names_file_and_field(tmp_path):
    path = write_trace(tmp_path, ["a,1,D\n"], header="Timestamp,UL_bitrate,State\n")
    with pytest.raises(GwpError) as err:
        read_trace(path)
    assert "DL_bitrate" in str(err.value) and str(path) in str(err.value)


def test_transfer_integrates_and_stalls_on_outage():
    # bytes/s per second: 100, 0, 50; device starts at offset 0
    replay = BandwidthReplay([np.array([100.0, 0.0, 50.0])], np.array([0]), ["x"])
    assert replay.transfer_time(0, 0.0, 50.0) == pytest.approx(0.5)
    # 100 bytes in second 0, nothing in second 1, 25 of 50 in second 2
    assert replay.transfer_time(0, 0.0, 125.0) == pytest.approx(2.5)
    # wraps: 150 per lap of 3 s; 175 bytes = one lap + 25 more bytes at 100/s
    assert replay.transfer_time(0, 0.0, 175.0) == pytest.approx(3.25)
    assert replay.transfer_time(0, 1.5, 25.0) == pytest.approx(1.0)  # waits out the outage, then 0.5 s at 50/s
    assert replay.at(2.7)[0] == 50.0
    assert replay.mean_rate(0.0, 3.0)[0] == pytest.approx(50.0)


def test_traces_table_on_real_files(trace_root):
    result = CliRunner().invoke(main, ["traces", "--dir", str(trace_root / "Download")])
    assert result.exit_code == 0, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 + len(list((trace_root / "Download").rglob("*.csv")))  # header + one row per file
    assert "median_mbps" in lines[0]


def test_empty_trace_dir_is_one_line_error(tmp_path):
    result = CliRunner().invoke(main, ["traces", "--dir", str(tmp_path)])
    assert result.exit_code == 2
    assert "holds no trace CSV files" in result.output and str(tmp_path) in result.output
