"""``-p GROUP.KEY=VALUE``: an unknown group is named with the groups there are."""

import click
import pytest

from nst_engine.cli.params import group_options


def test_pairs_are_sorted_by_group(fresh_host):
    assert group_options(["backbone.pooling=avg", "gram.layers=a,b"], ["backbone", "gram"]) == {
        "backbone": {"pooling": "avg"}, "gram": {"layers": "a,b"}}


def test_an_unknown_group_lists_the_groups(fresh_host):
    with pytest.raises(click.UsageError, match="unknown group 'foo'; groups are backbone, optimizer, gram, color"):
        group_options(["foo.bar=1"], ["backbone", "optimizer", "gram", "color"])


def test_a_registered_loss_not_in_use_is_left_to_the_engine(fresh_host):
    assert group_options(["tv.weight=1"], ["backbone"]) == {"tv": {"weight": "1"}}
