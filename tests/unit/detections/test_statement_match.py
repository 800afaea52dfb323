"""The shared title and grouping of statement matches: objects listed once, actor, failed attempts."""

from __future__ import annotations

from detections.observation import Observation
from detections.rule import Match
from detections.rules._statements import statement_match
from tests.factories import make_event


def test_objects_are_listed_once_and_cut_after_five() -> None:
    # GIVEN seven tables named with repeats and an empty name
    observation = Observation(make_event(0, statement="DROP TABLE …"))
    objects = ["a", "b", "", "a", "c", "d", "e", "f", "g", "b"]
    # WHEN matched
    match = statement_match(observation, "DROP TABLE", objects)
    # THEN each is named once, five shown, the rest counted, the actor and cluster after them
    assert match == Match(
        title="DROP TABLE a, b, c, d, e (+2 more) by app on prod",
        dedup_key="prod|app|10.0.0.5",
        objects=("a", "b", "c", "d", "e", "f", "g"),
    )


def test_a_failed_attempt_says_so_and_groups_apart() -> None:
    # GIVEN a failed password change and a failed DROP by an unknown user on a source without a cluster
    failed = Observation(make_event(0, status="1044", user="", cluster="", server_host=""))
    # WHEN matched
    sentence = statement_match(failed, "Password changed for", ["bob"])
    keyword = statement_match(failed, "DROP TABLE", [])
    # THEN a sentence start is lower-cased, SQL keywords are kept, and the dedup key says failed
    assert sentence.title == "Attempted password changed for bob (failed: 1044) by unknown user"
    assert keyword.title == "Attempted DROP TABLE (failed: 1044) by unknown user"
    assert (sentence.dedup_key, keyword.objects) == ("||10.0.0.5|failed", ())


def test_each_actor_is_named_for_their_own_match() -> None:
    # GIVEN the same statement by two users on two clusters, asked in turn and again
    actors = [("a", "x"), ("b", "y"), ("a", "x")]
    events = [make_event(0, user=user, cluster=cluster) for user, cluster in actors]
    # WHEN matched
    titles = [statement_match(Observation(event), "TRUNCATE", ["t"]).title for event in events]
    # THEN each title names its own user and cluster
    assert titles == ["TRUNCATE t by a on x", "TRUNCATE t by b on y", "TRUNCATE t by a on x"]
