"""Release policies from leaktrace.toml: defaults, roles, and clear errors."""

from __future__ import annotations

import tomllib

import pytest

from leaktrace.exceptions import ConfigError
from leaktrace.release.policy import CHANNELS, DEFAULT_DECOY_RATE, policy_for

CONFIG = tomllib.loads(
    """
[release]
decoy_rate = 0.05
decoy_phone_pool = ["+86 138-0013-8000", "13800138000", "13900139000"]

[release.roles.telemarketing]
mask = ["resident_id", "bank_card"]
channels = ["subset", "marks"]
marks = ["address"]
"""
)


def test_role_section_and_release_defaults():
    policy = policy_for(CONFIG, "telemarketing")
    assert policy.mask == ("resident_id", "bank_card")
    assert policy.channels == ("subset", "marks")
    assert policy.marks == ("address",)
    assert policy.decoy_rate == 0.05
    assert policy.decoy_phone_pool == ("13800138000", "13900139000")  # normalized, deduplicated
    assert policy.as_dict()["decoy_phone_pool"] == 2


def test_without_roles_any_role_gets_the_defaults():
    policy = policy_for({}, "anyone")
    assert (policy.mask, policy.channels, policy.marks) == ((), CHANNELS, None)
    assert policy.decoy_rate == DEFAULT_DECOY_RATE
    assert policy_for(CONFIG, "default").mask == ()


def test_a_role_the_policies_do_not_define_is_refused():
    """A mistyped role would otherwise release unmasked what its policy masks."""
    with pytest.raises(ConfigError, match=r"'telemarketng' has no policy.*telemarketing"):
        policy_for(CONFIG, "telemarketng")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('[release.roles.x]\nmask = ["phone"]', "unknown identifier type 'phone'"),
        ('[release.roles.x]\nchannels = ["watermark"]', "unknown channel"),
        ("[release.roles.x]\ndecoy_rate = 0.5", "decoy_rate"),
        ('[release]\ndecoy_phone_pool = ["12345"]', "not a valid mobile"),
        ('[release.roles.x]\nmask = "bank_card"', "list of strings"),
    ],
)
def test_bad_policies_are_one_line_errors(text, message):
    with pytest.raises(ConfigError, match=message):
        policy_for(tomllib.loads(text), "x")
