#!/usr/bin/python3
"""Validate snaptrig JSON lines against docs/snaptrig.schema.json.

Without --lines, check the sample lines: every file in tests/schema/valid must
pass and every file in tests/schema/invalid must fail. With --lines FILE,
validate every line of a snaptrig output file ("-" reads stdin) and check that
seq starts at 1 on each start line and grows by one on every other line.

Parsing is stricter than json.loads. A line must be UTF-8, end with a
newline and contain one JSON object. It must not contain duplicate keys,
NaN or Infinity, or lone surrogate escapes. The output has integers only,
so a number with a fraction or an exponent, even 1.0, is not an integer here.

The last line of output is "N passed, N failed". The exit status is 0 when
nothing failed, 1 otherwise, and 2 for a usage error.

Needs Debian's python3-jsonschema (4.10 supports draft 2020-12), so run it
with /usr/bin/python3.
"""

import argparse
import decimal
import json
import sys
from pathlib import Path

import jsonschema

HERE = Path(__file__).resolve().parent
DEFAULT_SCHEMA = HERE.parent.parent / "docs" / "snaptrig.schema.json"


class LineError(Exception):
    """A line that is not valid snaptrig output."""


def reject_duplicates(pairs):
    keys = [key for key, _ in pairs]
    for key in keys:
        if keys.count(key) > 1:
            raise LineError(f"duplicate key {key!r}")
    return dict(pairs)


def reject_constant(name):
    raise LineError(f"{name} is not valid JSON")


def reject_surrogates(value):
    """Raise LineError if a string anywhere in value contains a lone surrogate."""
    if isinstance(value, str):
        if any(0xD800 <= ord(ch) <= 0xDFFF for ch in value):
            raise LineError(f"string {value!r} contains a lone surrogate")
    elif isinstance(value, dict):
        for key, item in value.items():
            reject_surrogates(key)
            reject_surrogates(item)
    elif isinstance(value, list):
        for item in value:
            reject_surrogates(item)


def parse_line(raw):
    """Parse one line of bytes, including its newline, into a JSON object."""
    if not raw.endswith(b"\n"):
        raise LineError("no newline at the end of the line")
    try:
        text = raw[:-1].decode("utf-8")
    except UnicodeDecodeError as err:
        raise LineError(f"invalid UTF-8: {err}") from None
    try:
        # Decimal for fractions, so that the schema's "integer" rejects 1.0.
        value = json.loads(
            text,
            object_pairs_hook=reject_duplicates,
            parse_float=decimal.Decimal,
            parse_constant=reject_constant,
        )
    except json.JSONDecodeError as err:
        raise LineError(f"invalid JSON: {err}") from None
    reject_surrogates(value)
    return value


def schema_errors(validator, value):
    """Return one message per failed schema rule, most relevant first."""
    errors = sorted(validator.iter_errors(value), key=jsonschema.exceptions.relevance)
    messages = []
    for error in errors:
        where = "/".join(str(part) for part in error.absolute_path) or "(line)"
        messages.append(f"{where}: {error.message}")
    return messages


def check_line(validator, raw):
    """Return the parsed object and a list of error messages for one line."""
    try:
        value = parse_line(raw)
    except LineError as err:
        return None, [str(err)]
    return value, schema_errors(validator, value)


def check_samples(validator, verbose):
    """Check the sample files and return (passed, failed)."""
    passed = failed = 0
    for expect_valid, folder in ((True, HERE / "valid"), (False, HERE / "invalid")):
        samples = sorted(folder.glob("*.json"))
        if not samples:
            print(f"{folder}: no samples found")
            failed += 1
        for path in samples:
            raw = path.read_bytes()
            if raw.count(b"\n") > 1:
                print(f"{path}: a sample must be one line")
                failed += 1
                continue
            _, errors = check_line(validator, raw)
            if expect_valid and errors:
                print(f"{path}: valid sample rejected: {errors[0]}")
                failed += 1
            elif not expect_valid and not errors:
                print(f"{path}: invalid sample accepted")
                failed += 1
            else:
                if verbose and errors:
                    print(f"{path.name}: rejected as expected: {errors[0]}")
                passed += 1
    return passed, failed


def check_sequence(value, previous_seq):
    """Return an error message if value's seq does not follow previous_seq."""
    if not isinstance(value, dict) or not isinstance(value.get("seq"), int):
        return None
    seq = value["seq"]
    if value.get("type") == "start":
        return None if seq == 1 else f"seq is {seq} on a start line, expected 1"
    if previous_seq is None:
        return "the first line is not a start line"
    if seq != previous_seq + 1:
        return f"seq is {seq}, expected {previous_seq + 1}"
    return None


def check_lines(validator, name, stream, check_seq):
    """Check every line of an output stream and return (passed, failed)."""
    passed = failed = 0
    previous_seq = None
    for number, raw in enumerate(stream, start=1):
        value, errors = check_line(validator, raw)
        if check_seq and not errors:
            sequence_error = check_sequence(value, previous_seq)
            if sequence_error:
                errors.append(sequence_error)
        if isinstance(value, dict) and isinstance(value.get("seq"), int):
            previous_seq = value["seq"]
        if errors:
            for message in errors:
                print(f"{name}:{number}: {message}")
            failed += 1
        else:
            passed += 1
    return passed, failed


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--lines", metavar="FILE",
                        help='validate every line of a snaptrig output file ("-" for stdin)')
    parser.add_argument("--no-seq", action="store_true",
                        help="with --lines, skip the seq checks (for an excerpt of a file)")
    parser.add_argument("-v", "--verbose", action="store_true",
                        help="without --lines, also print why each invalid sample fails")
    parser.add_argument("--schema", type=Path, default=DEFAULT_SCHEMA,
                        help=f"schema file (default {DEFAULT_SCHEMA})")
    args = parser.parse_args()

    schema = json.loads(args.schema.read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator.check_schema(schema)
    validator = jsonschema.Draft202012Validator(
        schema, format_checker=jsonschema.FormatChecker())

    if args.lines is None:
        passed, failed = check_samples(validator, args.verbose)
    elif args.lines == "-":
        passed, failed = check_lines(validator, "stdin", sys.stdin.buffer, not args.no_seq)
    else:
        try:
            stream = open(args.lines, "rb")
        except OSError as err:
            parser.error(f"cannot open --lines file: {err}")
        with stream:
            passed, failed = check_lines(validator, args.lines, stream, not args.no_seq)

    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
