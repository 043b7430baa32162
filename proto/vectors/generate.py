#!/usr/bin/env python3
"""Generates proto/vectors/*.json: frames encoded by this small, independent MessagePack
encoder (not by the C++ or Node codecs it checks), with their expected decoded form.

  python3 proto/vectors/generate.py     # rewrites valid.json, invalid.json and ndjson.json

valid.json:   [{name, hex, message}]  — decoders must give `message`; encoders given
              `message` must give `hex` byte for byte.
invalid.json: [{name, hex, max_frame, error}] — decoders must fail with `error`.
`message` uses the wire keys; bin payloads appear as `params_hex` / `result_hex`.
ndjson.json:  {valid: [{name, line, message}], invalid: [{name, line | line_hex, error,
              answer_id?}]} — the legacy form (PROTOCOL.md §8), one line each without its
              '\n', written by Python's json module. Decoders of `valid` lines must give
              `message`; encoders given `message` must give `line` exactly, except entries
              marked "decode_only". An `invalid` line must fail with `error`; when it has
              `answer_id` it is a request a server answers with that error (else the session
              ends). Lines that are not UTF-8 are given as `line_hex`.
"""
import base64
import json
import os
import struct


def mp(value):
    """MessagePack-encodes ints, str, bytes, bool, None, list and dict (smallest forms)."""
    if value is None:
        return b"\xc0"
    if value is True:
        return b"\xc3"
    if value is False:
        return b"\xc2"
    if isinstance(value, int):
        if 0 <= value < 0x80:
            return bytes([value])
        if 0 <= value <= 0xFF:
            return b"\xcc" + struct.pack(">B", value)
        if 0 <= value <= 0xFFFF:
            return b"\xcd" + struct.pack(">H", value)
        if 0 <= value <= 0xFFFFFFFF:
            return b"\xce" + struct.pack(">I", value)
        if 0 <= value <= 0xFFFFFFFFFFFFFFFF:
            return b"\xcf" + struct.pack(">Q", value)
        if -32 <= value < 0:
            return struct.pack(">b", value)
        return b"\xd3" + struct.pack(">q", value)
    if isinstance(value, str):
        raw = value.encode()
        n = len(raw)
        if n < 32:
            return bytes([0xA0 | n]) + raw
        if n <= 0xFF:
            return b"\xd9" + bytes([n]) + raw
        if n <= 0xFFFF:
            return b"\xda" + struct.pack(">H", n) + raw
        return b"\xdb" + struct.pack(">I", n) + raw
    if isinstance(value, (bytes, bytearray)):
        n = len(value)
        if n <= 0xFF:
            return b"\xc4" + bytes([n]) + bytes(value)
        if n <= 0xFFFF:
            return b"\xc5" + struct.pack(">H", n) + bytes(value)
        return b"\xc6" + struct.pack(">I", n) + bytes(value)
    if isinstance(value, list):
        n = len(value)
        head = bytes([0x90 | n]) if n < 16 else b"\xdc" + struct.pack(">H", n)
        return head + b"".join(mp(v) for v in value)
    if isinstance(value, dict):
        n = len(value)
        head = bytes([0x80 | n]) if n < 16 else b"\xde" + struct.pack(">H", n)
        return head + b"".join(mp(k) + mp(v) for k, v in value.items())
    raise TypeError(value)


def frame(body):
    return struct.pack("<I", len(body)) + body


KEY_ORDER = ["version", "type", "id", "method", "error", "shm", "fds", "params", "result"]


def wire(message):
    """The canonical map of a message (keys in PROTOCOL.md order, payload as bytes)."""
    out = {}
    for key in KEY_ORDER:
        if key in message:
            out[key] = message[key]
        elif key + "_hex" in message:
            out[key] = bytes.fromhex(message[key + "_hex"])
    return out


def valid_vectors():
    nested_hello = mp({"role": "worker", "pid": 4242, "name": "md",
                       "methods": [{"name": "transform", "concurrency": 2}],
                       "wants": [], "max_frame": 67174400, "shm": True})
    messages = [
        ("request-empty", {"version": 1, "type": "request", "id": 1, "method": "echo"}),
        ("request-64B", {"version": 1, "type": "request", "id": 2, "method": "echo",
                         "params_hex": bytes(range(64)).hex()}),
        ("request-1KiB", {"version": 1, "type": "request", "id": 3, "method": "transform",
                          "params_hex": (b"# Title\n\nSome *text*.\n" * 45)[:1024].hex()}),
        ("request-big-id", {"version": 1, "type": "request", "id": 2**64 - 1,
                            "method": "transform", "params_hex": "23206869"}),
        ("response-ok", {"version": 1, "type": "response", "id": 3,
                         "result_hex": b"<h1>Title</h1>\n".hex()}),
        ("response-empty", {"version": 1, "type": "response", "id": 4}),
        ("response-error", {"version": 1, "type": "response", "id": 5,
                            "error": {"code": 300, "message": "method 'nope' is not served"}}),
        ("request-shm", {"version": 1, "type": "request", "id": 6, "method": "transform",
                         "shm": {"segment": 3, "offset": 4096, "length": 10485760,
                                 "generation": 7}}),
        ("response-shm", {"version": 1, "type": "response", "id": 6,
                          "shm": {"segment": 9, "offset": 128, "length": 70000,
                                  "generation": 1}}),
        ("request-attached-memfd", {"version": 1, "type": "request", "id": 7,
                                    "method": "echo", "fds": 1,
                                    "shm": {"segment": 0, "offset": 0,
                                            "length": 268435456, "generation": 0}}),
        ("notification-cancel", {"version": 1, "type": "notification", "method": "ipc.cancel",
                                 "params_hex": mp({"id": 2}).hex()}),
        ("request-hello", {"version": 1, "type": "request", "id": 1, "method": "ipc.hello",
                           "params_hex": nested_hello.hex()}),
        ("notification-introduce", {"version": 1, "type": "notification",
                                    "method": "ipc.introduce", "fds": 2,
                                    "params_hex": mp({"peer": 12, "role": "worker", "pid": 99,
                                                      "name": "md", "methods": [
                                                          {"name": "echo", "concurrency": 1}],
                                                      "max_frame": 65536,
                                                      "segment": {"segment": 2,
                                                                  "size": 4194304,
                                                                  "generation": 5}}).hex()}),
    ]
    vectors = [{"name": name, "hex": frame(mp(wire(m))).hex(), "message": m}
               for name, m in messages]
    # Decoders accept any key order and ignore unknown keys; these decode but do not re-encode
    # to the same bytes, so they carry "decode_only".
    shuffled = {"id": 9, "method": "echo", "type": "request", "version": 1,
                "future_key": [1, 2, {"x": "y"}], "params": b"abc"}
    vectors.append({"name": "request-any-order-unknown-key", "decode_only": True,
                    "hex": frame(mp(shuffled)).hex(),
                    "message": {"version": 1, "type": "request", "id": 9, "method": "echo",
                                "params_hex": b"abc".hex()}})
    return vectors


def invalid_vectors():
    ok = {"version": 1, "type": "request", "id": 1, "method": "echo"}

    def with_(**changes):
        m = dict(ok)
        for k, v in changes.items():
            if v is None:
                m.pop(k, None)
            else:
                m[k] = v
        return mp(m)

    raw = [
        ("empty-frame", struct.pack("<I", 0), 65536, "FRAME_EMPTY"),
        ("oversize-length", struct.pack("<I", 65537) + b"\x80", 65536, "FRAME_TOO_LARGE"),
        ("huge-length", struct.pack("<I", 0xFFFFFFFF), 65536, "FRAME_TOO_LARGE"),
        ("truncated-body", frame(mp(ok)[:5]), 65536, "MALFORMED"),
        ("length-beyond-bytes", struct.pack("<I", 20) + mp(ok)[:5], 65536, "MALFORMED"),
        ("truncated-string", frame(b"\x81\xa7version\xdb\x00\x00\x01\x00ab"), 65536, "MALFORMED"),
        ("reserved-byte", frame(b"\xc1"), 65536, "MALFORMED"),
        ("not-a-map", frame(mp([1, "request"])), 65536, "NOT_A_MAP"),
        ("trailing-bytes", frame(mp(ok) + b"\x00"), 65536, "TRAILING_BYTES"),
        ("missing-version", frame(with_(version=None)), 65536, "MISSING_FIELD"),
        ("missing-type", frame(with_(type=None)), 65536, "MISSING_FIELD"),
        ("missing-id", frame(with_(id=None)), 65536, "MISSING_FIELD"),
        ("missing-method", frame(with_(method=None)), 65536, "MISSING_FIELD"),
        ("version-2", frame(with_(version=2)), 65536, "VERSION_MISMATCH"),
        ("unknown-type", frame(with_(type="query")), 65536, "UNKNOWN_TYPE"),
        ("id-is-string", frame(with_(id="1")), 65536, "WRONG_FIELD_TYPE"),
        ("negative-id", frame(with_(id=-1)), 65536, "WRONG_FIELD_TYPE"),
        ("params-is-string", frame(with_(params="text")), 65536, "WRONG_FIELD_TYPE"),
        ("method-too-long", frame(with_(method="m" * 129)), 65536, "INVALID_FIELD"),
        ("too-many-fds", frame(with_(fds=5)), 65536, "INVALID_FIELD"),
        ("payload-and-shm", frame(with_(params=b"x", shm={"segment": 1, "offset": 0,
                                                         "length": 1, "generation": 1})),
         65536, "INVALID_FIELD"),
        ("shm-missing-generation", frame(with_(shm={"segment": 1, "offset": 0, "length": 1})),
         65536, "MISSING_FIELD"),
        ("depth-bomb", frame(b"\x91" * 200 + b"\xc0"), 65536, "LIMIT_EXCEEDED"),
        ("huge-array-header", frame(b"\xdd\xff\xff\xff\xff"), 65536, "LIMIT_EXCEEDED"),
        ("huge-map-header", frame(b"\xdf\xff\xff\xff\xff"), 65536, "LIMIT_EXCEEDED"),
        # A str/bin header promising more bytes than the frame holds is truncation: the frame
        # is bounded by max_frame, so nothing large is ever allocated for it.
        ("str-header-beyond-frame", frame(b"\x81\xa1k\xdb\xff\xff\xff\xff"), 65536, "MALFORMED"),
        ("bin-header-beyond-frame", frame(b"\x81\xa1k\xc6\xff\xff\xff\xff"), 65536, "MALFORMED"),
        ("str-over-limit", frame(with_(method="m" * 70000)), 1 << 20, "LIMIT_EXCEEDED"),
        ("ext-value", frame(b"\x81\xa1k\xd4\x01\x02"), 65536, "LIMIT_EXCEEDED"),
    ]
    return [{"name": n, "hex": h.hex(), "max_frame": mf, "error": e} for n, h, mf, e in raw]


def ndjson_line(message):
    """The NDJSON line of a message: wire keys in order, payload as text or base64."""
    out = {}
    for key in KEY_ORDER:
        if key in message:
            out[key] = message[key]
        elif key + "_hex" in message:
            raw = bytes.fromhex(message[key + "_hex"])
            try:
                out[key] = raw.decode("utf-8")
            except UnicodeDecodeError:
                out[key + "_base64"] = base64.b64encode(raw).decode()
    return json.dumps(out, ensure_ascii=False, separators=(",", ":"))


def ndjson_vectors():
    markdown = "# Title\n\nSome *text* with \"quotes\", a \\ and\ttabs, caf\u00e9 \u2603 \U0001F600.\n"
    messages = [
        ("request-empty", {"version": 1, "type": "request", "id": 1, "method": "echo"}),
        ("request-markdown", {"version": 1, "type": "request", "id": 2, "method": "transform",
                              "params_hex": markdown.encode().hex()}),
        ("request-big-id", {"version": 1, "type": "request", "id": 2**64 - 1,
                            "method": "transform", "params_hex": b"# hi".hex()}),
        ("request-binary", {"version": 1, "type": "request", "id": 3, "method": "echo",
                            "params_hex": bytes(range(256)).hex()}),
        ("request-invalid-utf8", {"version": 1, "type": "request", "id": 4, "method": "echo",
                                  "params_hex": b"caf\xe9 \xed\xa0\x80 \xc0\xaf".hex()}),
        ("response-ok", {"version": 1, "type": "response", "id": 2,
                         "result_hex": b"<h1>Title</h1>\n".hex()}),
        ("response-empty", {"version": 1, "type": "response", "id": 5}),
        ("response-binary", {"version": 1, "type": "response", "id": 3,
                             "result_hex": b"\xff\xfe\x00".hex()}),
        ("response-error", {"version": 1, "type": "response", "id": 8,
                            "error": {"code": 300, "message": "method 'x' is not served"}}),
        ("notification-cancel", {"version": 1, "type": "notification", "method": "ipc.cancel",
                                 "params_hex": b'{"id":2}'.hex()}),
    ]
    valid = [{"name": name, "line": ndjson_line(m), "message": m} for name, m in messages]
    # Decoders accept any key order, unknown keys, whitespace and every JSON escape; these
    # decode to `message` but are not what an encoder writes.
    decode_only = [
        ("request-any-order-unknown-key",
         '{"method":"echo","future":{"a":[1,2.5,null,true]},"id":9,"type":"request","version":1,'
         '"params":"abc"}',
         {"version": 1, "type": "request", "id": 9, "method": "echo",
          "params_hex": b"abc".hex()}),
        ("request-escapes",
         '{ "version": 1, "type": "request", "id": 10, "method": "echo", '
         '"params": "\\u0041\\u001f\\u001F\\/\\ud83d\\ude00\\u0000" }',
         {"version": 1, "type": "request", "id": 10, "method": "echo",
          "params_hex": ("A\x1f\x1f/\U0001F600\x00").encode().hex()}),
        ("request-base64-text",
         '{"version":1,"type":"request","id":11,"method":"echo","params_base64":"aGk="}',
         {"version": 1, "type": "request", "id": 11, "method": "echo",
          "params_hex": b"hi".hex()}),
    ]
    valid += [{"name": n, "decode_only": True, "line": line, "message": m}
              for n, line, m in decode_only]

    ok = '{"version":1,"type":"request","id":1,"method":"echo"'
    invalid = [
        ("empty-line", "", "FRAME_EMPTY", None),
        ("not-json", "hello", "MALFORMED", None),
        ("truncated", '{"version":1,"type":"req', "MALFORMED", None),
        ("array", "[1,2]", "NOT_A_MAP", None),
        ("string", '"request"', "NOT_A_MAP", None),
        ("two-objects", ok + "} {}", "TRAILING_BYTES", None),
        ("missing-version", '{"type":"request","id":1,"method":"echo"}', "MISSING_FIELD", 1),
        ("missing-type", '{"version":1,"id":1,"method":"echo"}', "MISSING_FIELD", None),
        ("missing-id", '{"version":1,"type":"request","method":"echo"}', "MISSING_FIELD", None),
        ("missing-method", '{"version":1,"type":"request","id":1}', "MISSING_FIELD", 1),
        ("version-2", '{"version":2,"type":"request","id":1,"method":"echo"}',
         "VERSION_MISMATCH", 1),
        ("unknown-type", '{"version":1,"type":"query","id":1,"method":"echo"}',
         "UNKNOWN_TYPE", None),
        ("id-is-string", '{"version":1,"type":"request","id":"1","method":"echo"}',
         "WRONG_FIELD_TYPE", None),
        ("negative-id", '{"version":1,"type":"request","id":-1,"method":"echo"}',
         "WRONG_FIELD_TYPE", None),
        ("fractional-id", '{"version":1,"type":"request","id":1.5,"method":"echo"}',
         "WRONG_FIELD_TYPE", None),
        ("id-over-u64", '{"version":1,"type":"request","id":18446744073709551616,'
         '"method":"echo"}', "WRONG_FIELD_TYPE", None),
        ("params-is-number", ok + ',"params":5}', "WRONG_FIELD_TYPE", 1),
        ("params-is-null", ok + ',"params":null}', "WRONG_FIELD_TYPE", 1),
        ("method-too-long", '{"version":1,"type":"request","id":1,"method":"' + "m" * 129 + '"}',
         "INVALID_FIELD", 1),
        ("text-and-base64", ok + ',"params":"a","params_base64":"YQ=="}', "INVALID_FIELD", 1),
        ("bad-base64", ok + ',"params_base64":"YQ="}', "INVALID_FIELD", 1),
        ("shm-in-ndjson", ok + ',"shm":{"segment":1,"offset":0,"length":1,"generation":1}}',
         "INVALID_FIELD", 1),
        ("fds-in-ndjson", ok + ',"fds":1}', "INVALID_FIELD", 1),
        ("error-without-code", '{"version":1,"type":"response","id":1,"error":{"message":"x"}}',
         "MISSING_FIELD", None),
        ("error-and-result", '{"version":1,"type":"response","id":1,'
         '"error":{"code":300,"message":"x"},"result":"y"}', "INVALID_FIELD", None),
        ("raw-control-char", ok + ',"params":"a\tb"}', "MALFORMED", None),
        ("depth-bomb", ok + ',"x":' + "[" * 200 + "]" * 200 + "}", "LIMIT_EXCEEDED", None),
    ]
    out = [{"name": n, "line": line, "error": e, **({"answer_id": a} if a is not None else {})}
           for n, line, e, a in invalid]
    out.append({"name": "invalid-utf8-in-string",
                "line_hex": (ok + ',"params":"caf').encode().hex() + "e9" + '"}'.encode().hex(),
                "error": "MALFORMED"})
    return {"valid": valid, "invalid": out}


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    for name, vectors in (("valid.json", valid_vectors()), ("invalid.json", invalid_vectors()),
                          ("ndjson.json", ndjson_vectors())):
        with open(os.path.join(here, name), "w") as f:
            json.dump(vectors, f, indent=1)
            f.write("\n")


if __name__ == "__main__":
    main()
