"""Prompts rendered byte for byte as the originals render them, for a fixed sample of seed tasks."""

from __future__ import annotations

import json

import pytest

from dataforge.errors import ConfigError
from dataforge.selfinstruct.prompts import (alpaca_prompt, bootstrap_prompt, clf_prompt, instance_prompt,
                                            load_template, request_rng, sample_bootstrap_instructions)


@pytest.fixture(scope="module")
def seeds(data_dir):
    return [json.loads(line) for line in (data_dir / "instructions" / "seed_tasks.jsonl").read_text().splitlines()]


def as_alpaca(task):
    return {"instruction": task["instruction"], "input": task["instances"][0]["input"],
            "output": task["instances"][0]["output"]}


def test_packaged_alpaca_template_is_the_original_prompt_txt(data_dir):
    original = (data_dir / "instructions" / "alpaca_prompt.txt").read_bytes()
    assert load_template("alpaca_generate.txt").text.encode("utf-8") == original


def test_alpaca_prompt_byte_for_byte(seeds, data_dir):
    # seed 8: instruction ends with ":" (stripped); 88: a newline and "Answer:" (collapsed,
    # stripped); 21: empty input shown as <noinput>
    sample = [as_alpaca(seeds[i]) for i in (8, 88, 21)]
    expected = (data_dir / "instructions" / "alpaca_prompt.txt").read_text() + "\n" + (
        "###\n1. Instruction: Generate a haiku using the following word\n1. Input:\nsummer\n1. Output:\n"
        "The chill, worming in\nShock, pleasure, bursting within\nSummer tongue awakes\n"
        "###\n2. Instruction: Question: in which year did Yao Ming retire? Answer\n2. Input:\n<noinput>\n"
        "2. Output:\nYao Ming retired in 2011.\n"
        "###\n3. Instruction: Create a fun math question for children.\n3. Input:\n<noinput>\n3. Output:\n"
        "I am an odd number. Take away one letter and I become even. What number am I?\n"
        "###\n4. Instruction:")
    assert alpaca_prompt(load_template("alpaca_generate.txt"), sample) == expected


def test_self_instruct_bootstrap_prompt_byte_for_byte(seeds):
    sample = [seeds[i]["instruction"] for i in (8, 88, 125, 21, 25, 27, 38, 48)]
    expected = ("Come up with a series of tasks:\n"
                "1. Generate a haiku using the following word\n"
                "2. Question: in which year did Yao Ming retire? Answer\n"
                "3. Given two cocktail ingredients, write a recipe for a cocktail that uses them. "
                "You may add more ingredients.\n"
                "4. Create a fun math question for children.\n"
                "5. Find the four smallest perfect numbers.\n"
                "6. Are you smarter than most redheads?\n"
                "7. Come up with the synonyms of the word.\n"
                "8. Answer the following question.\n"
                "9.")
    assert bootstrap_prompt(load_template("si_bootstrap.txt"), sample) == expected
    clf_header = load_template("si_bootstrap_clf.txt").text
    assert clf_header == ("Come up with a series of classification tasks. Try to specify the possible output "
                          "labels when possible.\n")


def test_classification_and_instance_prompts(seeds):
    clf = load_template("si_clf_identify.txt")
    text = clf_prompt(clf, "  Find the four smallest perfect numbers. ")
    assert text.startswith("Can the following task be regarded as a classification task with finite output labels?\n\n"
                           "Task: Given my personality and the job, tell me if I would be suitable.\n"
                           "Is it classification? Yes\n\n")
    assert text.endswith("Is it classification? No\n\nTask: Find the four smallest perfect numbers.\n"
                         "Is it classification?")
    assert len(clf.text) == 3560  # template_1's length in clf_task_template.py
    gen, out_first = load_template("si_instance_gen.txt"), load_template("si_instance_clf.txt")
    assert len(gen.text) + len(out_first.text) == 12594  # both templates of instance_gen_template.py
    assert instance_prompt(gen, "Sort the list.").endswith("[Your Name]\n\nTask: Sort the list.\n")
    assert instance_prompt(out_first, "Is it spam?").endswith("Class label: (e)\n\nTask: Is it spam?\n")
    assert "Task: Sort the given list ascendingly. \nExample 1" in gen.text  # trailing space kept


def test_sampling_is_seeded_per_request_and_mixes_two_generated(seeds):
    pool = [t["instruction"] for t in seeds]
    machine = ["m1 task here", "m2 task here", "m3 task here"]
    a = sample_bootstrap_instructions(pool, machine, request_rng(42, "self-instruct", 7), num_prompt=8, num_machine=2)
    b = sample_bootstrap_instructions(pool, machine, request_rng(42, "self-instruct", 7), num_prompt=8, num_machine=2)
    c = sample_bootstrap_instructions(pool, machine, request_rng(43, "self-instruct", 7), num_prompt=8, num_machine=2)
    assert a == b and a != c
    assert len(a) == 8 and sum(x in machine for x in a) == 2
    first = sample_bootstrap_instructions(pool, [], request_rng(42, "self-instruct", 0), num_prompt=8, num_machine=2)
    assert len(first) == 8 and all(x in pool for x in first)  # no generated ones yet: 8 seeds


def test_user_template_dir(tmp_path):
    (tmp_path / "alpaca_generate.txt").write_text("My prompt.")
    tmpl = load_template("alpaca_generate.txt", directory=tmp_path)
    assert tmpl.text == "My prompt." and tmpl.version.startswith("user:")
    with pytest.raises(ConfigError, match="no template 'si_bootstrap.txt'"):
        load_template("si_bootstrap.txt", directory=tmp_path)
