"""The slice query language (see docs/query.md): parse, check names, evaluate, and push down to DynamoDB.

``parse_query(text)`` gives a typed AST (``nodes``); ``check_query`` checks label and attribute names
against the schema; ``evaluate(node, FileView)`` is the reference semantics; ``plan(node)`` splits a
query into a DynamoDB filter and a residual for ``evaluate``. ``format_query`` renders an AST as text.

Semantics (``not`` > ``and`` > ``or``; the field may stand on either side of an operator):

==========================  =========================================================================
field                       meaning of ``=``/``==``, ``!=``, ``< <= > >=``, ``in [..]``, ``not in [..]``
==========================  =========================================================================
``labels.<name>``           the number of live instances of the label; a file without it counts 0.
                            Numbers only.
``frames.<name>``           on how many frames of a video the label shows (a track not outside, a
                            frame tag); 0 for an image or a video without it. Numbers only.
``attributes.<group>``      the file's set of values of the group (every element of a multi-select
                            or tree path). ``=`` contains, ``!=`` does not contain, ``in`` contains
                            any, ``not in`` contains none; an ordering holds if some value satisfies
                            it. Strings, numbers, ``true``/``false`` (stored as "true"/"false") and
                            dates (stored as "YYYY-MM-DD").
``file.name``/``type``      the original file name / media type ("image", ...): strings, ordered by
                            code point.
``file.width``/``height``   pixels (numbers); a file without a size matches only ``!=`` / ``not in``.
``file.created``            when the file was created (UTC). A date (``2026-01-31``) stands for the
                            whole UTC day (``= 2026-01-31`` is that day, ``< 2026-01-31`` before it);
                            a date-time (``2026-01-31T12:00:00Z``, no offset means UTC) for the
                            instant. Strings holding either are accepted.
``file.status``             "processing", "quarantined" or "ready": ``=``, ``!=``, ``in`` only.
``file.metadata.<k>[.<k>]`` the value at that path of the user's JSON metadata (quote keys with dots or
                            spaces). Compares only within a kind (numbers, strings, booleans); a
                            missing key or another kind matches only ``!=`` / ``not in``; a list
                            behaves like an attribute set. Dates compare as their ISO strings.
``dataset.name``/``id``     whether the file is in that dataset: ``=``, ``!=``, ``in``, ``not in``.
``predictions.<m>.<label>`` how many instances of the label model ``m``'s latest finished run (or the
                            run ``m`` when it is a run id, ``pr_…``) predicted on the file; 0 when none.
``… .<label>.score``        the file's lowest score for the label in that run; a file without such a
                            prediction has no score and matches only ``!=`` / ``not in``.
``eval.<run>.<metric>``     the file's result in the last evaluation of the run (a run id, or a model
                            name: its latest finished run): ``tp``, ``fp``, ``fn`` or
                            ``disagreement`` (numbers); a file the evaluation does not hold matches
                            only ``!=`` / ``not in``.
==========================  =========================================================================

``!=`` is always the negation of ``=``, and ``not in`` of ``in``. Literals: integers and decimals
(``-1``, ``2.5``, ``1e3``), strings in single or double quotes with backslash escapes, ``true``/
``false``, dates and date-times unquoted. Names are bare (letters, digits, ``_``, ``-``) or quoted
(``labels."traffic light"``). Keywords are case-insensitive.
"""

from annolake_service.domain.query.checker import check_query
from annolake_service.domain.query.errors import QueryError, QueryNameError, QuerySyntaxError, QueryTypeError
from annolake_service.domain.query.evaluator import FileView, evaluate
from annolake_service.domain.query.nodes import (
    And,
    AttributeValues,
    Compare,
    CompareOp,
    DatasetRef,
    Evaluated,
    Field,
    FileField,
    FrameCount,
    InList,
    LabelCount,
    Metadata,
    Node,
    Not,
    Or,
    Position,
    Predicted,
    Value,
    evaluation_refs,
    format_query,
    walk,
)
from annolake_service.domain.query.parser import parse_query
from annolake_service.domain.query.pushdown import DynamoFilter, Plan, plan

__all__ = [
    "And",
    "AttributeValues",
    "Compare",
    "CompareOp",
    "DatasetRef",
    "DynamoFilter",
    "Evaluated",
    "Field",
    "FileField",
    "FileView",
    "InList",
    "FrameCount",
    "LabelCount",
    "Metadata",
    "Node",
    "Not",
    "Or",
    "Plan",
    "Position",
    "Predicted",
    "QueryError",
    "QueryNameError",
    "QuerySyntaxError",
    "QueryTypeError",
    "Value",
    "check_query",
    "evaluate",
    "evaluation_refs",
    "format_query",
    "parse_query",
    "plan",
    "walk",
]
