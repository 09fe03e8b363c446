"""Declared models for what crosses the API's edge (bodies, queries) and what is read back (stored
receipts, a model's answer): fields with their kinds and limits, checked into typed objects.

Why not pydantic: importing it and declaring its models cost every cold start about 0.4 of the
bare boto3 baseline (bench/cold_start.py), more than the 1.30 limit leaves for everything else.
This module keeps the part of it the project uses, and the rules it relied on:
- `strict` (every API body): a value has its JSON type; "24" is no number, `true` no integer.
  Otherwise (queries, stored items) a string, a Decimal or a float that holds the value is read.
- Patterns match the whole text, as API Gateway's (and pydantic's Rust) regex reads `^...$`: a
  trailing newline is no exception.
- Errors carry the field's path (`items.0.description`) and a message, never the input, and
  every field is checked, so one answer names every problem.
- Unknown fields are errors (`extra = "forbid"`) unless a model reads records (`"ignore"`).

A model declares each field as `name: type = field(kind, ...)`: the annotation is for the type
checker, the kind for the check. `model_json_schema()` describes a model for tests/contract.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Mapping
from decimal import Decimal, InvalidOperation
from typing import Any, ClassVar, Literal, TypeVar

ModelT = TypeVar("ModelT", bound="Model")
Validator = Callable[[Any], Any]
Loc = tuple[str | int, ...]
# What a model does with a field it does not declare: refuses it (bodies) or drops it (records).
Extra = Literal["forbid", "ignore"]


class ValidationError(ValueError):
    """What was wrong, by field. `errors()` gives each problem as a dict of `type`, `loc`, `msg`."""

    def __init__(self, issues: list[dict[str, Any]]) -> None:
        named = "; ".join(
            f"{'.'.join(str(part) for part in issue['loc']) or 'body'}: {issue['msg']}" for issue in issues
        )
        super().__init__(f"{len(issues)} validation error(s): {named}")  # paths and messages: never the input
        self._issues = issues

    def errors(self, **_options: bool) -> list[dict[str, Any]]:
        return [dict(issue) for issue in self._issues]

    def error_count(self) -> int:
        return len(self._issues)


class _RefusedError(Exception):
    """One value refused by its kind: recorded at the value's path by whoever checks it."""

    def __init__(self, kind: str, message: str) -> None:
        self.kind = kind
        self.message = message


_SURROGATE = re.compile("[\ud800-\udfff]")  # in a str, only a lone one: a pair is one code point
# A key an error may name: one shaped like a field. Any other key a client sent (an e-mail
# address, a lone surrogate no response could encode) is input, never echoed.
_NAMEABLE = re.compile(r"[A-Za-z][A-Za-z0-9_]{0,63}\Z")
UNDECLARED = "(undeclared field)"


def has_lone_surrogate(text: str) -> bool:
    """No UTF-8 holds a lone surrogate: a text with one can be neither stored nor answered."""
    return bool(_SURROGATE.search(text))


def key_as_named(key: object) -> str:
    """A client's key as an error may name it."""
    return key if isinstance(key, str) and _NAMEABLE.match(key) else UNDECLARED


_FAILED: Any = object()  # a value that failed; its problems are already recorded
_REQUIRED: Any = object()


class _Check:
    """The state of one validation: strict or not, and the problems found so far."""

    __slots__ = ("issues", "strict")

    def __init__(self, strict: bool) -> None:
        self.strict = strict
        self.issues: list[dict[str, Any]] = []

    def refuse(self, loc: Loc, kind: str, message: str) -> Any:
        self.issues.append({"type": kind, "loc": loc, "msg": message})
        return _FAILED


class Kind:
    """What a value must be. `check` returns the value as the model holds it, or raises _RefusedError;
    containers record their members' problems themselves."""

    type_error = ("type_error", "Input has the wrong type")

    def validate(self, value: Any, check: _Check, loc: Loc) -> Any:
        try:
            return self.check(value, check.strict)
        except _RefusedError as refused:
            return check.refuse(loc, refused.kind, refused.message)

    def check(self, value: Any, strict: bool) -> Any:
        raise NotImplementedError

    def refused(self) -> _RefusedError:
        return _RefusedError(*self.type_error)

    def schema(self) -> dict[str, Any]:
        raise NotImplementedError


def _bounds(value: Any, ge: Any, le: Any) -> None:
    if ge is not None and not value >= ge:  # `not >=`: NaN is out of every bound
        raise _RefusedError("greater_than_equal", f"Input should be greater than or equal to {ge}")
    if le is not None and not value <= le:
        raise _RefusedError("less_than_equal", f"Input should be less than or equal to {le}")


def _bound_schema(ge: Any, le: Any) -> dict[str, Any]:
    return {key: bound for key, bound in (("minimum", ge), ("maximum", le)) if bound is not None}


class Text(Kind):
    """A string: its length in code points, then its pattern, then `after` (e.g. trimming)."""

    type_error = ("string_type", "Input should be a valid string")

    def __init__(
        self,
        *,
        min_length: int | None = None,
        max_length: int | None = None,
        pattern: str | None = None,
        after: Validator | None = None,
    ) -> None:
        self.min_length = min_length
        self.max_length = max_length
        self.pattern = pattern
        self.after = after
        self._compiled: re.Pattern[str] | None = None

    def matcher(self) -> re.Pattern[str]:
        """The pattern, compiled on first use (a cold start compiles only what its route checks),
        with a final `$` read as the end of the text: Python's `$` also matches before a final
        newline, which API Gateway's does not."""
        if self._compiled is None:
            assert self.pattern is not None  # noqa: S101 (only called for a pattern)
            pattern = self.pattern[:-1] + r"\Z" if self.pattern.endswith("$") else self.pattern
            self._compiled = re.compile(pattern)
        return self._compiled

    def check(self, value: Any, strict: bool) -> Any:
        if not isinstance(value, str):
            raise self.refused()
        if has_lone_surrogate(value):  # no UTF-8 holds it: DynamoDB, S3 and JSON encoders would fail on it
            raise _RefusedError("string_unicode", "Input should be a valid string, without lone surrogates")
        if self.min_length is not None and len(value) < self.min_length:
            raise _RefusedError("string_too_short", f"String should have at least {self.min_length} characters")
        if self.max_length is not None and len(value) > self.max_length:
            raise _RefusedError("string_too_long", f"String should have at most {self.max_length} characters")
        if self.pattern is not None and not self.matcher().search(value):
            raise _RefusedError("string_pattern_mismatch", "String should match the field's pattern")
        if self.after is not None:
            try:
                value = self.after(value)
            except ValueError as error:
                raise _RefusedError("value_error", f"Value error, {error}") from None
        return value

    def schema(self) -> dict[str, Any]:
        limits = (("minLength", self.min_length), ("maxLength", self.max_length), ("pattern", self.pattern))
        return {"type": "string", **{key: limit for key, limit in limits if limit is not None}}


# A query's integer: ASCII digits only (no "٥", "1_0", "5.0" or " 7 "), and few enough that
# int() never meets Python's limit on digits.
_WHOLE_NUMBER = re.compile(r"-?[0-9]{1,19}\Z")
_TRUE = frozenset({"1", "on", "t", "true", "y", "yes"})
_FALSE = frozenset({"0", "off", "f", "false", "n", "no"})


class Boolean(Kind):
    type_error = ("bool_type", "Input should be a valid boolean")

    def check(self, value: Any, strict: bool) -> Any:
        if isinstance(value, bool):
            return value
        if not strict and isinstance(value, int | float | Decimal) and value in (0, 1):
            return bool(value)
        if not strict and isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
            return value.strip().lower() in _TRUE
        raise self.refused()

    def schema(self) -> dict[str, Any]:
        return {"type": "boolean"}


class Integer(Kind):
    """An int. Not strict, a number or a numeric string that holds a whole number is read as one
    (a stored Decimal('3'), a query's "50")."""

    type_error = ("int_type", "Input should be a valid integer")

    def __init__(self, *, ge: int | None = None, le: int | None = None) -> None:
        self.ge = ge
        self.le = le

    def check(self, value: Any, strict: bool) -> Any:
        number = value if type(value) is int else self._read(value) if not strict else None
        if number is None:
            raise self.refused()
        _bounds(number, self.ge, self.le)
        return number

    def _read(self, value: Any) -> int | None:
        if isinstance(value, bool):
            return int(value)
        if isinstance(value, str):
            if not _WHOLE_NUMBER.match(value):
                raise _RefusedError("int_parsing", "Input should be a valid integer")
            return int(value)
        if isinstance(value, float):
            value = Decimal(value)
        if isinstance(value, Decimal):
            if not value.is_finite():
                return None
            if value != value.to_integral_value():
                raise _RefusedError(
                    "int_from_float", "Input should be a valid integer, got a number with a fractional part"
                )
            return int(value)
        return None

    def schema(self) -> dict[str, Any]:
        return {"type": "integer", **_bound_schema(self.ge, self.le)}


class Number(Kind):
    """A float. An int is one; not strict, so is a numeric string."""

    type_error = ("float_type", "Input should be a valid number")

    def __init__(self, *, ge: float | None = None, le: float | None = None) -> None:
        self.ge = ge
        self.le = le

    def check(self, value: Any, strict: bool) -> Any:
        if isinstance(value, bool):
            if strict:
                raise self.refused()
            number = float(value)
        elif isinstance(value, int | float | Decimal):
            number = float(value)
        elif isinstance(value, str) and not strict:
            try:
                number = float(value.strip())
            except ValueError:
                raise _RefusedError("float_parsing", "Input should be a valid number") from None
        else:
            raise self.refused()
        _bounds(number, self.ge, self.le)
        return number

    def schema(self) -> dict[str, Any]:
        return {"type": "number", **_bound_schema(self.ge, self.le)}


class DecimalNumber(Kind):
    """An exact decimal, with its digits counted as written but for trailing zeros (1.50 has two
    digits, one place)."""

    type_error = ("decimal_type", "Input should be a valid decimal")

    def __init__(
        self,
        *,
        ge: int | None = None,
        le: int | None = None,
        max_digits: int | None = None,
        decimal_places: int | None = None,
    ) -> None:
        self.ge = ge
        self.le = le
        self.max_digits = max_digits
        self.decimal_places = decimal_places

    def check(self, value: Any, strict: bool) -> Any:
        if isinstance(value, Decimal):
            number = value
        elif strict or isinstance(value, bool) or not isinstance(value, int | float | str):
            raise self.refused()
        else:
            try:
                number = Decimal(str(value).strip())
            except InvalidOperation:
                raise _RefusedError("decimal_parsing", "Input should be a valid decimal") from None
        if not number.is_finite():
            raise _RefusedError("finite_number", "Input should be a finite number")
        self._digits(number)
        _bounds(number, self.ge, self.le)
        return number

    def _digits(self, number: Decimal) -> None:
        _, digits, exponent = number.normalize().as_tuple()
        assert isinstance(exponent, int)  # noqa: S101 (finite, checked above)
        places = max(-exponent, 0)
        count = max(len(digits) + max(exponent, 0), places)
        if self.max_digits is not None and count > self.max_digits:
            raise _RefusedError(
                "decimal_max_digits", f"Decimal input should have no more than {self.max_digits} digits"
            )
        if self.decimal_places is not None and places > self.decimal_places:
            raise _RefusedError(
                "decimal_max_places", f"Decimal input should have no more than {self.decimal_places} decimal places"
            )
        if self.max_digits is not None and self.decimal_places is not None:
            whole = self.max_digits - self.decimal_places
            if count - places > whole:
                raise _RefusedError(
                    "decimal_whole_digits", f"Decimal input should have no more than {whole} digits before the point"
                )

    def schema(self) -> dict[str, Any]:
        return {"type": "number", **_bound_schema(self.ge, self.le)}


class OneOf(Kind):
    """One of a few strings (a Literal type's values)."""

    type_error = ("literal_error", "Input should be one of the field's values")

    def __init__(self, values: Iterable[str]) -> None:
        self.values = tuple(values)
        self._set = frozenset(self.values)
        listed = ", ".join(repr(value) for value in self.values[:-1])
        self.type_error = (
            "literal_error",
            f"Input should be {listed} or {self.values[-1]!r}" if listed else f"Input should be {self.values[0]!r}",
        )

    def check(self, value: Any, strict: bool) -> Any:
        if isinstance(value, str) and value in self._set:
            return value
        raise self.refused()

    def schema(self) -> dict[str, Any]:
        return {"type": "string", "enum": list(self.values)}


class AnyJson(Kind):
    """Any JSON value, or with `object_only` a JSON object, read by the code that uses it."""

    def __init__(self, *, object_only: bool = False) -> None:
        self.object_only = object_only
        self.type_error = ("dict_type", "Input should be a valid dictionary")

    def check(self, value: Any, strict: bool) -> Any:
        if self.object_only and not isinstance(value, dict):
            raise self.refused()
        return value

    def schema(self) -> dict[str, Any]:
        return {"type": "object"} if self.object_only else {}


class ListOf(Kind):
    """A list: its length first (one problem for the list), then each item (one per item)."""

    type_error = ("list_type", "Input should be a valid list")

    def __init__(self, item: Kind, *, min_length: int | None = None, max_length: int | None = None) -> None:
        self.item = item
        self.min_length = min_length
        self.max_length = max_length

    def validate(self, value: Any, check: _Check, loc: Loc) -> Any:
        if not isinstance(value, list) and (check.strict or not isinstance(value, tuple)):
            return check.refuse(loc, *self.type_error)
        if self.min_length is not None and len(value) < self.min_length:
            return check.refuse(loc, "too_short", f"List should have at least {self.min_length} item(s)")
        if self.max_length is not None and len(value) > self.max_length:
            return check.refuse(loc, "too_long", f"List should have at most {self.max_length} item(s)")
        items = [self.item.validate(item, check, (*loc, index)) for index, item in enumerate(value)]
        return _FAILED if any(item is _FAILED for item in items) else items

    def schema(self) -> dict[str, Any]:
        limits = (("minItems", self.min_length), ("maxItems", self.max_length))
        return {"type": "array", "items": self.item.schema(), **{key: n for key, n in limits if n is not None}}


class MapOf(Kind):
    """An object of any keys, each value of one kind."""

    type_error = ("dict_type", "Input should be a valid dictionary")

    def __init__(self, value: Kind) -> None:
        self.value = value

    def validate(self, value: Any, check: _Check, loc: Loc) -> Any:
        if not isinstance(value, dict):
            return check.refuse(loc, *self.type_error)
        entries = {key: self.value.validate(item, check, (*loc, key_as_named(key))) for key, item in value.items()}
        return _FAILED if any(item is _FAILED for item in entries.values()) else entries

    def schema(self) -> dict[str, Any]:
        return {"type": "object", "additionalProperties": self.value.schema()}


class Nested(Kind):
    """Another model, as an object in this one."""

    def __init__(self, model: type[Model]) -> None:
        self.model = model

    def validate(self, value: Any, check: _Check, loc: Loc) -> Any:
        return self.model._validate(value, check, loc)

    def schema(self) -> dict[str, Any]:
        return self.model.model_json_schema()


class Field:
    """One field of a model: its kind, its default, the key it has in a body when that is no
    Python name (`from`), and validators: `before` sees the value as sent (even null), `after`
    the checked value (never null)."""

    def __init__(
        self,
        kind: Kind,
        *,
        default: Any = _REQUIRED,
        default_factory: Callable[[], Any] | None = None,
        alias: str | None = None,
        before: tuple[Validator, ...] = (),
        after: tuple[Validator, ...] = (),
    ) -> None:
        self.kind = kind
        self.default = default
        self.default_factory = default_factory
        self.alias = alias
        self.before = before
        self.after = after
        self.name = ""

    @property
    def key(self) -> str:
        return self.alias or self.name

    @property
    def required(self) -> bool:
        return self.default is _REQUIRED and self.default_factory is None

    @property
    def nullable(self) -> bool:
        """A field whose default is None takes an explicit null, as `X | None = None` does."""
        return self.default is None

    def default_value(self) -> Any:
        return self.default_factory() if self.default_factory is not None else self.default

    def validate(self, value: Any, check: _Check, loc: Loc) -> Any:
        try:
            for validator in self.before:
                value = validator(value)
        except ValueError as error:
            return check.refuse(loc, "value_error", f"Value error, {error}")
        if value is None:
            return None if self.nullable else check.refuse(loc, *self.kind.type_error)
        value = self.kind.validate(value, check, loc)
        if value is _FAILED:
            return value
        try:
            for validator in self.after:
                value = validator(value)
        except ValueError as error:
            return check.refuse(loc, "value_error", f"Value error, {error}")
        return value

    def schema(self) -> dict[str, Any]:
        schema = self.kind.schema()
        return {"anyOf": [schema, {"type": "null"}]} if self.nullable else schema


def field(
    kind: Kind,
    *,
    default: Any = _REQUIRED,
    default_factory: Callable[[], Any] | None = None,
    alias: str | None = None,
    before: Validator | tuple[Validator, ...] = (),
    after: Validator | tuple[Validator, ...] = (),
) -> Any:
    """A field, typed Any so that `name: str = field(...)` gives the attribute its annotation's type."""
    return Field(
        kind,
        default=default,
        default_factory=default_factory,
        alias=alias,
        before=before if isinstance(before, tuple) else (before,),
        after=after if isinstance(after, tuple) else (after,),
    )


def optional(kind: Kind, **options: Any) -> Any:
    """A field that may be left out or null: None when it is."""
    return field(kind, default=None, **options)


class Model:
    """A model: fields declared with `field()`, checked by `model_validate`, then `check()` for
    rules across fields (raise ValueError). Subclasses inherit and may redeclare fields."""

    model_fields: ClassVar[dict[str, Field]] = {}
    extra: ClassVar[Extra] = "forbid"
    # Run on the raw object before its fields (refuse_nulls).
    before_fields: ClassVar[tuple[Validator, ...]] = ()
    _by_key: ClassVar[dict[str, Field]] = {}

    model_fields_set: set[str]

    def __init_subclass__(cls, **options: Any) -> None:
        super().__init_subclass__(**options)
        fields = dict(cls.model_fields)
        for name, value in list(vars(cls).items()):
            if isinstance(value, Field):
                value.name = name
                fields[name] = value
                delattr(cls, name)
        cls.model_fields = fields
        cls._by_key = {entry.key: entry for entry in fields.values()}

    def __init__(self, **data: Any) -> None:
        """A model from keyword arguments (by key: `from` for `from_`), checked as model_validate does."""
        checked = type(self).model_validate(data)
        self.__dict__.update(checked.__dict__)

    def check(self) -> None:
        """Rules across fields, once every field is valid: raise ValueError to refuse."""

    @classmethod
    def model_validate(cls: type[ModelT], data: Any, *, strict: bool = False) -> ModelT:
        check = _Check(strict)
        result = cls._validate(data, check, ())
        if check.issues:
            raise ValidationError(check.issues)
        return result

    @classmethod
    def model_validate_json(cls: type[ModelT], text: str | bytes, *, strict: bool = True) -> ModelT:
        """JSON as API Gateway reads it: no NaN or Infinity, no lone surrogate, no nesting past
        the parser's depth; any of them is `json_invalid`."""
        try:
            document = json.loads(text, parse_constant=_no_constant)
            _refuse_lone_surrogates(document)
        except (ValueError, RecursionError):
            raise ValidationError([{"type": "json_invalid", "loc": (), "msg": "Invalid JSON"}]) from None
        return cls.model_validate(document, strict=strict)

    @classmethod
    def _validate(cls: type[ModelT], data: Any, check: _Check, loc: Loc) -> ModelT:
        try:
            for validator in cls.before_fields:
                data = validator(data)
        except ValueError as error:
            return check.refuse(loc, "value_error", f"Value error, {error}")  # type: ignore[no-any-return]
        if isinstance(data, cls):
            return data
        if not isinstance(data, dict):
            return check.refuse(loc, "model_type", "Input should be an object")  # type: ignore[no-any-return]
        values: dict[str, Any] = {}
        given: set[str] = set()
        failed = False
        for name, entry in cls.model_fields.items():
            if entry.key in data:
                value = entry.validate(data[entry.key], check, (*loc, entry.key))
                failed = failed or value is _FAILED
                values[name] = value
                given.add(name)
            elif entry.required:
                check.refuse((*loc, entry.key), "missing", "Field required")
                failed = True
            else:
                values[name] = entry.default_value()
        if cls.extra == "forbid":
            for key in data:
                if key not in cls._by_key:
                    check.refuse((*loc, key_as_named(key)), "extra_forbidden", "Extra inputs are not permitted")
                    failed = True
        if failed:
            return _FAILED  # type: ignore[no-any-return]
        instance = cls._from_values(values, given)
        try:
            instance.check()
        except ValueError as error:
            return check.refuse(loc, "value_error", f"Value error, {error}")  # type: ignore[no-any-return]
        return instance

    @classmethod
    def _from_values(cls: type[ModelT], values: dict[str, Any], given: set[str]) -> ModelT:
        instance = cls.__new__(cls)
        instance.__dict__.update(values)
        instance.model_fields_set = given
        return instance

    def model_dump(
        self,
        *,
        include: Iterable[str] | None = None,
        exclude: Iterable[str] | None = None,
        exclude_none: bool = False,
        by_alias: bool = False,
    ) -> dict[str, Any]:
        """The fields as plain data (models as dicts), by name or with by_alias by key."""
        included = None if include is None else set(include)
        excluded = set() if exclude is None else set(exclude)
        dumped: dict[str, Any] = {}
        for name, entry in self.model_fields.items():
            if (included is not None and name not in included) or name in excluded:
                continue
            value = self.__dict__[name]
            if exclude_none and value is None:
                continue
            dumped[entry.key if by_alias else name] = _plain(value, exclude_none)
        return dumped

    def model_copy(self: ModelT, *, update: Mapping[str, Any] | None = None) -> ModelT:
        values = {**{name: self.__dict__[name] for name in self.model_fields}, **(update or {})}
        return self._from_values(values, self.model_fields_set | set(update or ()))

    @classmethod
    def model_json_schema(cls) -> dict[str, Any]:
        """The model as a JSON Schema object (keys as sent, nullable fields as `anyOf` with null)."""
        schema: dict[str, Any] = {
            "type": "object",
            "properties": {entry.key: entry.schema() for entry in cls.model_fields.values()},
            "required": [entry.key for entry in cls.model_fields.values() if entry.required],
        }
        if cls.extra == "forbid":
            schema["additionalProperties"] = False
        return schema

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        return all(self.__dict__[name] == other.__dict__[name] for name in self.model_fields)

    __hash__ = None  # type: ignore[assignment]  # mutable, compared by value

    def __repr__(self) -> str:
        return f"{type(self).__name__}({', '.join(self.model_fields)})"  # names only: values may be personal


def _plain(value: Any, exclude_none: bool) -> Any:
    if isinstance(value, Model):
        return value.model_dump(exclude_none=exclude_none)
    if isinstance(value, list):
        return [_plain(item, exclude_none) for item in value]
    if isinstance(value, dict):
        return {key: _plain(item, exclude_none) for key, item in value.items()}
    return value


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _refuse_lone_surrogates(value: Any) -> None:
    """After parsing, a surrogate left in a string had no partner: no UTF-8 can hold it."""
    if isinstance(value, str):
        if has_lone_surrogate(value):
            raise ValueError("a lone surrogate")
    elif isinstance(value, dict):
        for key, item in value.items():
            _refuse_lone_surrogates(key)
            _refuse_lone_surrogates(item)
    elif isinstance(value, list):
        for item in value:
            _refuse_lone_surrogates(item)
