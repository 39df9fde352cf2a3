"""`--with`: the services init can write a compose file for, checked, in a fixed order."""

from __future__ import annotations

import pytest
import yaml

from ci_toolkit.errors import UsageError
from ci_toolkit.onboard import compose_template
from ci_toolkit.onboard.model import written_by_init


def test_with_is_comma_separated_or_repeated_in_a_fixed_order() -> None:
    assert compose_template.kinds(["nats,postgres", "redis", "postgres"]) == ("postgres", "redis", "nats")


def test_an_unknown_service_says_what_it_may_be() -> None:
    with pytest.raises(UsageError, match=r"--with postgress: not a service init can write") as err:
        compose_template.kinds(["postgress"])
    assert "did you mean 'postgres'?" in str(err.value)


def test_the_file_publishes_only_dynamic_ports_on_localhost_and_says_who_wrote_it() -> None:
    text = compose_template.render(("postgres", "redis", "nats"))
    assert written_by_init(text)
    services = yaml.safe_load(text)["services"]
    assert sorted(services) == ["nats", "postgres", "redis"]
    assert [p for s in services.values() for p in s["ports"]] == [
        "127.0.0.1::5432",
        "127.0.0.1::6379",
        "127.0.0.1::4222",
    ]
    assert services["nats"]["command"] == ["-js"]


def test_only_the_first_line_marks_a_file_as_inits() -> None:
    text = compose_template.render(("redis",))
    assert written_by_init(text)
    assert not written_by_init(text.split("\n", 1)[1])  # the user deleted line 1: theirs now
