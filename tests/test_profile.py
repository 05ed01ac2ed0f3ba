"""The workload profile against an analytic count of MobileNetV2's layers (SPEC §2)."""
from click.testing import CliRunner

from gwp_cli.cli import main
from gwp_cli.profile import COLUMNS, cached_profile, profile_model

# torchvision's MobileNetV2 table: expansion t, output channels c, repeats n, first stride s
SETTINGS = [(1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1), (6, 160, 3, 2), (6, 320, 1, 1)]


def analytic_forward_flops(num_classes=10, size=32):
    """Forward FLOPs per block, 2 per multiply-add, from the architecture alone."""
    blocks = []
    h = (size + 1) // 2  # stem: 3x3 stride-2 conv, 3 -> 32 channels
    blocks.append(2 * 3 * 9 * 32 * h * h)
    cin = 32
    for t, c, n, s in SETTINGS:
        for r in range(n):
            stride = s if r == 0 else 1
            hidden = cin * t
            flops = 2 * cin * hidden * h * h if t != 1 else 0  # 1x1 expansion
            h = (h - 1) // stride + 1
            flops += 2 * 9 * hidden * h * h  # 3x3 depthwise: one input channel per output
            flops += 2 * hidden * c * h * h  # 1x1 projection
            blocks.append(flops)
            cin = c
    blocks.append(2 * cin * 1280 * h * h)  # last 1x1 conv
    blocks.append(2 * 1280 * num_classes)  # classifier
    return blocks


def test_twenty_blocks_match_analytic_count():
    table = profile_model("fashion-mnist")
    assert list(table.columns) == COLUMNS
    assert len(table) == 20
    forward = analytic_forward_flops(10)
    assert abs(sum(forward) - 12.2e6) / 12.2e6 < 0.01  # SPEC: ~12.2 MFLOP forward
    for measured, expected in zip(table["flops"], forward):
        assert measured == 3 * expected  # forward + backward = 3 x forward
    total = table["flops"].sum()
    assert 36e6 < total < 38e6


def test_cifar100_head_and_width():
    wide = profile_model("cifar100", width=1.0)
    assert wide["flops"].iloc[-1] == 3 * 2 * 1280 * 100
    assert wide["out_bytes"].iloc[-1] == 100 * 4
    half = profile_model("cifar100", width=0.5)
    assert half["flops"].sum() < 0.5 * wide["flops"].sum()
    # parameters: block sums equal the torch model's total
    from torchvision.models import mobilenet_v2
    model = mobilenet_v2(num_classes=100)
    assert wide["param_bytes"].sum() == 4 * sum(p.numel() for p in model.parameters())


def test_output_bytes_follow_the_shapes():
    table = profile_model("fashion-mnist")
    assert table["out_bytes"].iloc[0] == 32 * 16 * 16 * 4  # stem output
    assert table["out_bytes"].iloc[18] == 1280 * 1 * 1 * 4
    assert (table["act_bytes"] >= 0).all() and (table["act_bytes"].iloc[:19] > table["out_bytes"].iloc[:19]).all()


def test_cli_csv_and_cache(tmp_path):
    out = tmp_path / "p.csv"
    result = CliRunner().invoke(main, ["profile", "--dataset", "fashion-mnist", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert out.read_text().splitlines()[0] == ",".join(COLUMNS)
    first = cached_profile("fashion-mnist", 1.0)
    second = cached_profile("fashion-mnist", 1.0)
    assert first.equals(second)
