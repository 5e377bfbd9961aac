import numpy as np
import pytest

from ratings.stats.vote_file import VoteFileError, parse_vote_bytes, read_vote_file

HEADER = "model_a,model_b,winner\n"


def parse(text):
    return parse_vote_bytes(text.encode("utf-8"))


def error_of(text):
    with pytest.raises(VoteFileError) as caught:
        parse_vote_bytes(text.encode("utf-8") if isinstance(text, str) else text)
    return caught.value


def test_columns_become_arrays():
    votes = parse(HEADER + "b,a,model_a\na,c,model_b\nc,b,tie\nb,c,tie (bothbad)\n")
    assert votes.model_names == ("a", "b", "c")
    np.testing.assert_array_equal(votes.model_a, [1, 0, 2, 1])
    np.testing.assert_array_equal(votes.model_b, [0, 2, 1, 2])
    np.testing.assert_array_equal(votes.outcome, [1.0, 0.0, 0.5, 0.5])
    assert votes.criterion_names == ("overall",)
    np.testing.assert_array_equal(votes.criterion, [0, 0, 0, 0])


def test_quoting_crlf_bom_blank_lines_and_extra_columns():
    text = (
        "\ufeffquestion_id,model_a,model_b,winner,judge\r\n"
        '1,"model, with comma","say ""hi""",model_a,x\r\n'
        "\r\n"
        '2,"say ""hi""",plain,"tie",y\r\n'
        "3,plain,\"model, with comma\",model_b,\"multi\nline\"\r\n"
        "4,plain,\"say \"\"hi\"\"\",model_b,z"
    )
    votes = parse(text)
    assert votes.model_names == ("model, with comma", "plain", 'say "hi"')
    np.testing.assert_array_equal(votes.model_a, [0, 2, 1, 1])
    np.testing.assert_array_equal(votes.model_b, [2, 1, 0, 2])
    np.testing.assert_array_equal(votes.outcome, [1.0, 0.5, 0.0, 0.0])


def test_criteria_in_order_of_appearance_and_comparisons_matched():
    text = (
        "model_a,model_b,winner,criterion,prompt_id,rater_id\n"
        "x,y,model_a,prompt_adherence,p1,r1\n"
        "x,y,model_b,image_quality,p1,r1\n"
        "y,z,tie,image_quality,p2,r1\n"
        "y,z,model_a,prompt_adherence,p2,r1\n"
        "x,y,model_a,prompt_adherence,p1,r1\n"
        "x,y,tie,image_quality,p1,r1\n"
    )
    votes = parse(text)
    assert votes.criterion_names == ("prompt_adherence", "image_quality")
    np.testing.assert_array_equal(votes.criterion, [0, 1, 1, 0, 0, 1])
    c = votes.comparison
    # the k-th vote of each criterion with the same pair, prompt and rater is one comparison
    assert c[0] == c[1] and c[2] == c[3] and c[4] == c[5]
    assert len({c[0], c[2], c[4]}) == 3
    assert votes.cluster[0] == votes.cluster[1] != votes.cluster[2]
    assert votes.rater is not None and len(set(votes.rater)) == 1


@pytest.mark.parametrize(
    "text, line, column, words",
    [
        (HEADER + "a,b,model_a\na,b,model_c\n", 3, "winner", "'model_c' is not one of"),
        (HEADER + "a,b,model_a\n,b,tie\n", 3, "model_a", "empty model name"),
        (HEADER + "a,b,tie\nb,a,tie\na, a ,tie\n", 4, "model_b", "cannot be compared with itself"),
        (HEADER + "a,b,tie\na,b\n", 3, "winner", "missing field"),
        (HEADER + "a,b,tie\na,b,tie,extra\n", 3, "winner", "extra field"),
        ("model_a,winner\na,tie\n", 1, "model_b", "missing column 'model_b'"),
        (HEADER + 'a,b,tie\n"a,b,tie\n', 3, "model_a", "never closed"),
        (HEADER + 'a,b,tie\n"a"x,b,tie\n', 3, "model_a", "after a closing quote"),
        ("model_a,model_b,winner,criterion\na,b,tie,quality\na,b,tie,mean\n", 3, "criterion", "reserved"),
        ("model_a,model_b,winner,criterion\na,b,tie,quality\na,b,tie,\n", 3, "criterion", "empty criterion"),
        ("model_a,model_b,model_a,winner\n", 1, "model_a", "more than once"),
        (HEADER, 2, None, "no votes"),
        ("", 1, None, "empty"),
    ],
)
def test_errors_name_the_line_and_column(text, line, column, words):
    error = error_of(text)
    assert (error.line, error.column) == (line, column)
    assert words in error.message
    assert str(error).startswith(f"line {line}")


def test_the_first_bad_line_wins_and_the_leftmost_column_within_it():
    rows = ["a,b,tie"] * 50 + ["a,,nobody"] + ["a,b,nobody"] * 5 + [",b,tie"]
    error = error_of(HEADER + "\n".join(rows) + "\n")
    assert (error.line, error.column) == (52, "model_b")


def test_line_numbers_count_blank_lines_and_multiline_fields():
    text = HEADER + "a,b,tie\n\n\"a\nstill a\",b,tie\na,b,oops\n"
    error = error_of(text)
    assert (error.line, error.column) == (6, "winner")


def test_invalid_utf8_is_reported():
    error = error_of(HEADER.encode() + b"a,b,tie\n\xff\xfe,b,tie\n")
    assert (error.line, error.column) == (3, "model_a")


def test_require_prompt():
    with pytest.raises(VoteFileError, match="missing column 'prompt_id'"):
        parse_vote_bytes(HEADER.encode() + b"a,b,tie\n", require_prompt=True)
    with pytest.raises(VoteFileError, match="empty prompt_id") as caught:
        parse_vote_bytes(b"model_a,model_b,winner,prompt_id\na,b,tie,p\na,b,tie,\n", require_prompt=True)
    assert caught.value.line == 3


def test_unreadable_file(tmp_path):
    with pytest.raises(VoteFileError, match="cannot read"):
        read_vote_file(tmp_path / "missing.csv")


def test_many_rows_match_a_plain_csv_reading(write_csv):
    import csv

    rng = np.random.default_rng(0)
    names = [f"m{i}" for i in range(12)] + ['odd, "name"']
    winners = ["model_a", "model_b", "tie", "tie (bothbad)"]
    lines = [["model_a", "model_b", "winner", "tstamp"]]
    for _ in range(5000):
        i, j = rng.choice(len(names), 2, replace=False)
        lines.append([names[i], names[j], winners[rng.integers(4)], f"{rng.random():.6f}"])
    path = write_csv("")
    with open(path, "w", newline="") as file:
        csv.writer(file).writerows(lines)
    votes = read_vote_file(path)
    names_sorted = sorted(names)
    assert votes.model_names == tuple(names_sorted)
    assert [votes.model_names[k] for k in votes.model_a] == [row[0] for row in lines[1:]]
    assert [votes.model_names[k] for k in votes.model_b] == [row[1] for row in lines[1:]]
    outcome = {"model_a": 1.0, "model_b": 0.0, "tie": 0.5, "tie (bothbad)": 0.5}
    np.testing.assert_array_equal(votes.outcome, [outcome[row[2]] for row in lines[1:]])
