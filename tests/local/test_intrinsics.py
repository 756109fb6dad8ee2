import pytest

from infra.local.intrinsics import NO_VALUE, Resolver, UnresolvedReference, references


def _resolver(**exports):
    refs = {"Table": "tbl", "Fn": "fn-name"}
    atts = {("Table", "Arn"): "arn:table", ("Fn", "Arn"): "arn:fn"}
    return Resolver(
        stack_name="S",
        ref=lambda name: refs[name],
        get_att=lambda lid, att: atts[(lid, att)],
        exports=exports,
        parameters={"BootstrapVersion": "/cdk-bootstrap/version"},
    )


def test_resolves_the_intrinsics_cdk_emits():
    r = _resolver(**{"Data:ExportsOutputRefBucket": "bucket-1"})
    value = {
        "a": {"Ref": "Table"},
        "b": {"Fn::GetAtt": ["Fn", "Arn"]},
        "c": {"Fn::Join": ["", ["arn:aws:s3:::", {"Fn::ImportValue": "Data:ExportsOutputRefBucket"}, "/*"]]},
        "d": {"Fn::Sub": "${AWS::Region}:${Table}:${Fn.Arn}:${!Literal}"},
        "e": {"Fn::Select": [1, {"Fn::Split": [",", "x,y,z"]}]},
        "f": {"Ref": "AWS::NoValue"},
        "g": [{"Ref": "AWS::NoValue"}, {"Ref": "AWS::AccountId"}],
        "h": {"Ref": "BootstrapVersion"},
    }
    assert r.resolve(value) == {
        "a": "tbl",
        "b": "arn:fn",
        "c": "arn:aws:s3:::bucket-1/*",
        "d": "us-east-1:tbl:arn:fn:${Literal}",
        "e": "y",
        "g": ["123456789012"],
        "h": "/cdk-bootstrap/version",
    }
    assert r.resolve({"Ref": "AWS::NoValue"}) is NO_VALUE


def test_missing_import_is_an_error():
    with pytest.raises(UnresolvedReference, match="exports"):
        _resolver().resolve({"Fn::ImportValue": "nope"})


def test_references_for_ordering():
    assert references({"x": [{"Ref": "A"}, {"Fn::GetAtt": ["B", "Arn"]}, {"Fn::Sub": "${C.Arn}/${AWS::Region}"}]}) == {
        "A",
        "B",
        "C",
    }
