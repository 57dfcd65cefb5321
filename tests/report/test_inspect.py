"""`dataforge inspect`: manifest facts and random rows decoded with the run's tokenizer."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from click.testing import CliRunner
from tokenizers import Tokenizer

from dataforge.cli import main
from dataforge.cli.terminal import cell, printable
from dataforge.tokenize.shards import open_shard, read_manifest
from tests.helpers import stats_counts


def _inspect(*args: str) -> dict:
    r = CliRunner().invoke(main, ["inspect", *args, "--json"])
    assert r.exit_code == 0, r.output
    return json.loads(r.output)


def test_inspect_output_dir_decodes_rows_exactly(bundled_run: Path) -> None:
    manifest = read_manifest(bundled_run)
    info = _inspect(str(bundled_run), "--n", "4", "--seed", "7")
    assert info["dtype"] == manifest["dtype"] == "uint16" and info["seq_len"] == 512
    assert info["splits"]["train"]["shards"] == sum(1 for s in manifest["shards"] if s["split"] == "train")
    assert info["splits"]["train"]["tokens"] == manifest["tokens"]["train"]
    assert len(info["samples"]) == 4
    tok = Tokenizer.from_file(str(bundled_run / "tokenizer.json"))
    for s in info["samples"]:
        view = open_shard(bundled_run / "shards" / s["shard"])
        ids = view.tokens[s["row"], : s["length"]].tolist()
        assert sum(seg["tokens"] for seg in s["segments"]) == s["length"] == len(ids)
        # cut at document starts only, so the pieces decode to exactly the whole row
        assert "".join(seg["text"] for seg in s["segments"]) == tok.decode(ids, skip_special_tokens=False)
        starts = [st for st in view.doc_starts[s["row"]] if st < s["length"]]
        assert [seg["kind"] for seg in s["segments"] if seg["kind"] == "document"] == ["document"] * len(starts)
    # the seed picks the rows
    again = _inspect(str(bundled_run), "--n", "4", "--seed", "7")
    assert [(s["shard"], s["row"]) for s in again["samples"]] == [(s["shard"], s["row"]) for s in info["samples"]]
    other = _inspect(str(bundled_run), "--n", "4", "--seed", "8")
    assert [(s["shard"], s["row"]) for s in other["samples"]] != [(s["shard"], s["row"]) for s in info["samples"]]


def test_inspect_one_shard_and_a_split(bundled_run: Path) -> None:
    shard = bundled_run / "shards" / "validation-00000.arrow"
    info = _inspect(str(shard), "--n", "50")
    assert list(info["splits"]) == ["validation"] and {s["shard"] for s in info["samples"]} == {shard.name}
    assert len(info["samples"]) == open_shard(shard).tokens.shape[0]  # n larger than the rows: every row once
    assert "<|endoftext|>" in "".join(seg["text"] for s in info["samples"] for seg in s["segments"])
    only = _inspect(str(bundled_run), "--split", "validation", "--n", "2")
    assert list(only["splits"]) == ["validation"]
    r = CliRunner().invoke(main, ["inspect", str(bundled_run), "--n", "1"])
    assert r.exit_code == 0 and "tokens per source" in r.output and "train-0000" in r.output


def test_inspect_sft_shards_shows_prompt_and_target(tmp_path: Path, tokenizer_path: Path) -> None:
    rec = {"instruction": "Name a primary colour.", "input": "", "output": "Blue is a primary colour."}
    src = tmp_path / "sft.jsonl"
    src.write_text(json.dumps(rec) + "\n")
    out = tmp_path / "sft"
    r = CliRunner().invoke(main, ["tokenize-sft", str(src), "--tokenizer", str(tokenizer_path), "--output", str(out),
                                  "--seq-len", "128"])
    assert r.exit_code == 0, r.output
    info = _inspect(str(out))
    [sample] = info["samples"]
    kinds = [seg["kind"] for seg in sample["segments"]]
    assert kinds == ["prompt", "target"]
    prompt, target = sample["segments"]
    assert "Name a primary colour." in prompt["text"] and target["text"] == rec["output"] + "<|endoftext|>"


def test_wrong_tokenizer_and_missing_paths_are_clear_errors(bundled_run: Path, tmp_path: Path) -> None:
    copy = tmp_path / "out"
    shutil.copytree(bundled_run / "shards", copy / "shards")
    shutil.copy(bundled_run / "manifest.json", copy / "manifest.json")
    changed = (bundled_run / "tokenizer.json").read_text().replace('"<|endoftext|>"', '"<|end|>"', 1)
    (copy / "tokenizer.json").write_text(changed)
    r = CliRunner().invoke(main, ["inspect", str(copy)])
    assert r.exit_code == 1 and "tokenizer.json: sha256 differs" in r.output
    r = CliRunner().invoke(main, ["inspect", str(tmp_path / "nothing")])
    assert r.exit_code == 1 and "nothing: no such shard file or output directory" in r.output
    r = CliRunner().invoke(main, ["inspect", str(tmp_path)])
    assert r.exit_code == 1 and "no manifest" in r.output


def test_terminal_output_cannot_carry_escape_sequences() -> None:
    assert printable("red \x1b[31mtext\x07 \x9b2J ok\n\ttab") == "red \ufffd[31mtext\ufffd \ufffd2J ok\n\ttab"
    # C1 OSC/DCS/ST (hyperlinks, titles) and bidi overrides that reorder what is shown
    assert printable("\x9d8;;http://evil/\x9c \x90q\x9c \u202egnp.exe") == "\ufffd8;;http://evil/\ufffd \ufffdq\ufffd \ufffdgnp.exe"
    assert cell("[bold red]x[/] [link=http://e]y[/link]") == "\\[bold red]x\\[/] \\[link=http://e]y\\[/link]"


def test_hostile_names_reach_the_terminal_as_text(bundled_run: Path, tmp_path: Path) -> None:
    """Source names and the pipeline name come from a YAML file anyone may have written:
    `stats` and `inspect` print them literally, with no markup and no escape sequence."""
    evil_source = "[bold red]EVIL[/]\x1b[2J\x1b]0;pwned\x07"
    evil_name = "[link=https://evil.example/]click[/link]\x1b[31mRED"
    out = tmp_path / "out"
    shutil.copytree(bundled_run / "shards", out / "shards")
    shutil.copy(bundled_run / "tokenizer.json", out / "tokenizer.json")
    stats = stats_counts(bundled_run)
    for per in stats.values():
        if "c4" in per:
            per[evil_source] = per.pop("c4")
    (out / "stats.json").write_text(json.dumps(stats))
    manifest = read_manifest(bundled_run)
    manifest["name"] = evil_name
    manifest["sources"][evil_source] = manifest["sources"].pop("c4")
    (out / "manifest.json").write_text(json.dumps(manifest))
    for args in (["stats", str(out)], ["inspect", str(out), "--n", "1"]):
        r = CliRunner().invoke(main, args, env={"FORCE_COLOR": "1", "COLUMNS": "400"})
        assert r.exit_code == 0, r.output
        text = r.output
        assert "\x1b[2J" not in text and "\x1b]" not in text and "evil.example" not in text.replace(
            "[link=https://evil.example/]", "")
        assert "[bold red]EVIL[/]" in text if args[0] == "stats" else "[link=https://evil.example/]click[/link]" in text
