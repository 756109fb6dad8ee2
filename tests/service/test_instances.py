import pytest
from annolake_service.domain.instances import InvalidInstances, label_counts, parse_instance_list


def test_valid_packet_instances_and_counts():
    instances = parse_instance_list(
        [
            {"type": "box", "name": "car", "x_min": 1, "y_min": 1, "x_max": 10, "y_max": 10},
            {"type": "box", "name": "car", "x_min": 2, "y_min": 2, "x_max": 5, "y_max": 5},
            {"type": "polygon", "name": "road", "points": [{"x": 0, "y": 0}, {"x": 5, "y": 0}, {"x": 5, "y": 5}]},
            {"type": "tag", "name": "night"},
        ],
        width=20,
        height=20,
    )
    assert label_counts(instances) == {"car": 2, "road": 1, "night": 1}


@pytest.mark.parametrize(
    "instance, problem",
    [
        ({"type": "box", "name": "car", "x_min": 10, "y_min": 1, "x_max": 1, "y_max": 10}, "x_min <= x_max"),
        ({"type": "polygon", "name": "r", "points": [{"x": 0, "y": 0}]}, "at least 3"),
        ({"type": "box", "name": "car", "x_min": 1, "y_min": 1, "x_max": 50, "y_max": 10}, "outside"),
        ({"type": "cube", "name": "car"}, "instance 0"),
    ],
)
def test_invalid_instances_name_the_problem(instance, problem):
    with pytest.raises(InvalidInstances, match=problem):
        parse_instance_list([instance], width=20, height=20)


def test_attribute_values_summary_for_queries():
    from annolake_service.domain.instances import attribute_values

    instances = parse_instance_list(
        [
            {
                "type": "box",
                "name": "car",
                "x_min": 1,
                "y_min": 1,
                "x_max": 5,
                "y_max": 5,
                "attributes": {"occluded": "no", "colour": ["red", "blue"], "kind": ["vehicle", "car"]},
            },
            {
                "type": "box",
                "name": "car",
                "x_min": 1,
                "y_min": 1,
                "x_max": 5,
                "y_max": 5,
                "attributes": {"occluded": "yes", "speed": 30, "parked": True},
            },
            {"type": "global", "attributes": {"time of day": "night"}},
        ],
        width=20,
        height=20,
    )
    assert attribute_values(instances) == {
        "occluded": ["no", "yes"],
        "colour": ["blue", "red"],
        "kind": ["car", "vehicle"],
        "speed": [30],
        "parked": ["true"],
        "time of day": ["night"],
    }
    assert label_counts(instances) == {"car": 2}
