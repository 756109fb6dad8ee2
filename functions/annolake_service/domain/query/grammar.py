"""The Lark grammar of slice queries (LALR(1) with the contextual lexer).

Keywords are case-insensitive and whole words (``notes`` is a name, ``not`` a keyword). A field is a
bare root (``labels``, ``attributes``, ``file``, ``dataset``) followed by dotted segments, each bare
or quoted; which roots and segments are valid is decided after parsing, so a misspelt root gets a
"did you mean" instead of a bare syntax error.
"""

GRAMMAR = r"""
?start: or_expr

?or_expr: and_expr (_OR and_expr)*
?and_expr: not_expr (_AND not_expr)*
?not_expr: _NOT not_expr -> negation
         | atom
?atom: comparison
     | _LPAR or_expr _RPAR

comparison: field COMP_OP value        -> compare
          | value COMP_OP field        -> compare_reversed
          | field _IN value_list       -> in_list
          | field _NOT _IN value_list  -> not_in_list

value_list: _LSQB value (_COMMA value)* _COMMA? _RSQB

field: NAME (_DOT segment)+
?segment: NAME | STRING

?value: NUMBER | STRING | DATE | DATETIME | TRUE | FALSE

_OR.2: /or\b/i
_AND.2: /and\b/i
_NOT.2: /not\b/i
_IN.2: /in\b/i
TRUE.2: /true\b/i
FALSE.2: /false\b/i

COMP_OP: "==" | "!=" | "<=" | ">=" | "=" | "<" | ">"
DATETIME.4: /\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}(:\d{2}(\.\d+)?)?([Zz]|[+-]\d{2}:?\d{2})?/
DATE.3: /\d{4}-\d{2}-\d{2}(?!\d)/
NUMBER: /-?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?/
STRING: /"(?:[^"\\\n]|\\.)*"|'(?:[^'\\\n]|\\.)*'/
NAME: /[^\W\d][\w\-]*/

_LPAR: "("
_RPAR: ")"
_LSQB: "["
_RSQB: "]"
_COMMA: ","
_DOT: "."

%import common.WS
%ignore WS
"""
