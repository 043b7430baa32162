#!/usr/bin/env python3
"""Generates proto/vectors/*.json: frames encoded by this small, independent MessagePack
encoder (not by the C++ or Node codecs it checks), with their expected decoded form.

  python3 proto/vectors/generate.py     # rewrites valid.json, invalid.json, ndjson.json,
                                        # shm.json, control.json

valid.json:   [{name, hex, message}]  — decoders must give `message`; encoders given
              `message` must give `hex` byte for byte.
invalid.json: [{name, hex, max_frame, error}] — decoders must fail with `error`.
`message` uses the wire keys; bin payloads appear as `params_hex` / `result_hex`.
control.json: {valid: [{name, what, hex, body, decode_only?}], invalid: [{name, what, hex,
              error}], method_not_found: [{method, served, message}]} — control bodies (a
              message's params/result bin, PROTOCOL.md §3): `what` names the body
              ("ipc.want params", "ipc.load params"); `valid` ones decode to `body` and (unless
              decode_only) encode to `hex`, `invalid` ones fail with `error`; method_not_found
              gives the one text of METHOD_NOT_FOUND for a method and the methods served.
ndjson.json:  {valid: [{name, line, message}], invalid: [{name, line | line_hex, error,
              answer_id?}]} — the legacy form (PROTOCOL.md §8), one line each without its
              '\n', written by Python's json module. Decoders of `valid` lines must give
              `message`; encoders given `message` must give `line` exactly, except entries
              marked "decode_only". An `invalid` line must fail with `error`; when it has
              `answer_id` it is a request a server answers with that error (else the session
              ends). Lines that are not UTF-8 are given as `line_hex`.
shm.json:     the shared-memory layout (PROTOCOL.md §4), packed here with `struct` from the
              byte tables of PROTOCOL.md, never from the C++ structs:
              {constants, segment_headers: [{name, segment, generation, size, hex}] — the 64
              bytes the daemon writes at offset 0 when it leases a segment;
              owner_writes: [{name, segment: {segment, size, generation}, blocks: [{allocate,
              seal, handle, header_offset, header_hex}]}] — an owner that allocates `allocate`
              bytes and seals `seal` of them, in order, in a fresh (zeroed) segment, writes
              exactly `header_hex` at `header_offset` and hands out `handle`;
              reads: [{name, segment, segment_header_hex, header_offset, header_hex, handle,
              expect, released_header_hex?}] — a reader given a segment holding
              `segment_header_hex` at 0 and `header_hex` at `header_offset` (the rest zero)
              answers `handle` with `expect` ("OK" or an error name); after releasing an "OK"
              block the header reads `released_header_hex`, and releasing a refused handle
              writes nothing; opens: [{name, segment, file_size, seals, expect}] — the checks
              on a segment's fd and its announced {segment, size, generation}.}
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


def method_not_found(method, served):
    """The one METHOD_NOT_FOUND text (PROTOCOL.md §3.9): served methods sorted, once each."""
    names = ", ".join(sorted(set(served))) or "none"
    return "no worker serves method '%s' (served: %s)" % (method, names)


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
        ("notification-load", {"version": 1, "type": "notification", "method": "ipc.load",
                               "params_hex": mp({"in_flight": 3, "served": 70000}).hex()}),
        ("request-hello", {"version": 1, "type": "request", "id": 1, "method": "ipc.hello",
                           "params_hex": nested_hello.hex()}),
        ("response-hello", {"version": 1, "type": "response", "id": 1,
                            "result_hex": mp({"session": 7, "daemon": "0.4.0",
                                              "no_worker_wait_ms": 5000}).hex()}),
        ("request-want", {"version": 1, "type": "request", "id": 2, "method": "ipc.want",
                          "params_hex": mp({"method": "transform"}).hex()}),
        ("response-method-not-found", {"version": 1, "type": "response", "id": 3,
                                       "error": {"code": 300, "message": method_not_found(
                                           "trasnform", ["transform", "echo", "length"])}}),
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
    # The unpack limits at their boundaries (PROTOCOL.md §1): the body map is depth 1, so 5
    # arrays inside it make depth 6; 64 map pairs; 1024 array elements.
    deepest = {"version": 1, "type": "request", "id": 10, "method": "echo",
               "x": [[[[[1]]]]]}
    widest = {"version": 1, "type": "request", "id": 11, "method": "echo"}
    widest.update({"k%02d" % i: i for i in range(60)})
    longest = {"version": 1, "type": "request", "id": 12, "method": "echo",
               "x": list(range(1024))}
    for name, body in (("nesting-depth-6", deepest), ("map-of-64-pairs", widest),
                       ("array-of-1024-elements", longest)):
        vectors.append({"name": name, "decode_only": True, "hex": frame(mp(body)).hex(),
                        "message": {k: body[k] for k in ("version", "type", "id", "method")}})
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
        ("nesting-depth-7", frame(with_(x=[[[[[[1]]]]]])), 65536, "LIMIT_EXCEEDED"),
        ("map-of-65-pairs", frame(with_(**{"k%02d" % i: i for i in range(61)})), 65536,
         "LIMIT_EXCEEDED"),
        ("array-of-1025-elements", frame(with_(x=list(range(1025)))), 65536, "LIMIT_EXCEEDED"),
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


def control_vectors():
    """Control bodies (the params/result bin of a control message, PROTOCOL.md §3) that the
    additions of ipc.want and no_worker_wait_ms rest on, and the METHOD_NOT_FOUND text."""
    valid = [
        ("want", "ipc.want params", {"method": "transform"}),
        ("hello-result-with-wait", "ipc.hello result",
         {"session": 7, "daemon": "0.4.0", "no_worker_wait_ms": 5000}),
        ("hello-result-with-segment-and-zero-wait", "ipc.hello result",
         {"session": 2**40, "daemon": "0.4.0",
          "segment": {"segment": 3, "size": 4194304, "generation": 9},
          "no_worker_wait_ms": 0}),
        ("hello-result-from-an-older-daemon", "ipc.hello result",
         {"session": 1, "daemon": "0.3.0"}),
    ]
    invalid = [
        ("want-without-method", "ipc.want params", {}, "MISSING_FIELD"),
        ("want-empty-method", "ipc.want params", {"method": ""}, "INVALID_FIELD"),
        ("want-method-too-long", "ipc.want params", {"method": "m" * 129}, "INVALID_FIELD"),
        ("want-method-not-a-string", "ipc.want params", {"method": 5}, "WRONG_FIELD_TYPE"),
        ("want-not-a-map", "ipc.want params", ["transform"], "NOT_A_MAP"),
        ("hello-result-negative-wait", "ipc.hello result",
         {"session": 1, "no_worker_wait_ms": -1}, "WRONG_FIELD_TYPE"),
        ("hello-result-wait-over-u32", "ipc.hello result",
         {"session": 1, "no_worker_wait_ms": 2**32}, "INVALID_FIELD"),
        ("hello-result-wait-as-string", "ipc.hello result",
         {"session": 1, "no_worker_wait_ms": "5000"}, "WRONG_FIELD_TYPE"),
    ]
    texts = [
        ("trasnform", ["transform", "echo", "length"]),
        ("echo", []),
        ("x", ["b", "a", "b"]),
    ]
    load = load_vectors()
    later = drain_vectors(), ring_vectors()
    return {
        "valid": [{"name": n, "what": w, "hex": mp(b).hex(), "body": b} for n, w, b in valid]
        + load["valid"] + [v for more in later for v in more["valid"]],
        "invalid": [{"name": n, "what": w, "hex": mp(b).hex(), "error": e}
                    for n, w, b, e in invalid] + load["invalid"]
        + [v for more in later for v in more["invalid"]],
        "method_not_found": [{"method": m, "served": s, "message": method_not_found(m, s)}
                             for m, s in texts],
    }


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


def body_vectors(valid, invalid):
    """{valid, invalid} entries of control.json from (name, what, body[, error]) tuples."""
    return {"valid": [{"name": n, "what": w, "hex": mp(b).hex(), "body": b}
                      for n, w, b in valid],
            "invalid": [{"name": n, "what": w, "hex": mp(b).hex(), "error": e}
                        for n, w, b, e in invalid]}


WORKER_HELLO = {"role": "worker", "pid": 4242, "name": "md",
                "methods": [{"name": "transform", "concurrency": 2}], "wants": [],
                "max_frame": 1048576, "shm": True}


def drain_vectors():
    """The bodies the drain rests on (PROTOCOL.md §3.11): reports_load and accepts_load,
    drain_ms, ipc.peer_draining."""
    hello, result = "ipc.hello params", "ipc.hello result"
    return body_vectors(
        [("hello-result-accepting-load-with-drain-bound", result,
          {"session": 2, "daemon": "0.5.0", "no_worker_wait_ms": 5000, "accepts_load": True,
           "drain_ms": 2000}),
         ("hello-params-worker-reporting-load", hello, {**WORKER_HELLO, "reports_load": True}),
         ("hello-params-worker-without-reports-load", hello, WORKER_HELLO),
         ("peer-draining", "ipc.peer_draining params", {"peer": 7})],
        [("hello-result-accepts-load-not-a-bool", result, {"session": 1, "accepts_load": 1},
          "WRONG_FIELD_TYPE"),
         ("hello-result-drain-over-u32", result, {"session": 1, "drain_ms": 2**32},
          "INVALID_FIELD"),
         ("peer-draining-without-peer", "ipc.peer_draining params", {}, "MISSING_FIELD")])


def ring_vectors():
    """The `rings` offer of a hello and its introduction (PROTOCOL.md §5.5)."""
    hello, introduce = "ipc.hello params", "ipc.introduce params"
    return body_vectors(
        [("hello-params-worker-offering-rings", hello,
          {**WORKER_HELLO, "reports_load": True, "rings": 1}),
         ("introduce-params-with-rings", introduce,
          {"peer": 5, "role": "worker", "pid": 4242, "name": "md",
           "methods": [{"name": "transform", "concurrency": 2}], "max_frame": 67174400,
           "rings": 1}),
         ("introduce-params-without-rings", introduce,
          {"peer": 6, "role": "client", "pid": 77, "name": "node", "methods": [],
           "max_frame": 67174400})],
        [("hello-params-rings-as-string", hello, {"role": "client", "rings": "1"},
          "WRONG_FIELD_TYPE"),
         ("hello-params-rings-over-u32", hello, {"role": "client", "rings": 2**32},
          "INVALID_FIELD")])


def load_vectors():
    """The ipc.load params bodies of control.json (PROTOCOL.md §3.10): `valid` ones decode to
    `body` and (unless decode_only) encode to `hex` byte for byte (keys in the order shown);
    `invalid` ones fail with `error`."""
    load = "ipc.load params"
    valid = [
        ("load-idle", load, {"in_flight": 0, "served": 0}),
        ("load-busy", load, {"in_flight": 3, "served": 70000}),
        ("load-largest", load, {"in_flight": 2**32 - 1, "served": 2**64 - 1}),
    ]
    vectors = [{"name": n, "what": w, "hex": mp(b).hex(), "body": b} for n, w, b in valid]
    # Decoders take any key order and ignore unknown keys.
    vectors.append({"name": "load-any-order-unknown-key", "what": load, "decode_only": True,
                    "hex": mp({"served": 5, "future": [1], "in_flight": 1}).hex(),
                    "body": {"in_flight": 1, "served": 5}})
    invalid = [
        ("load-empty-map", load, mp({}), "MISSING_FIELD"),
        ("load-missing-served", load, mp({"in_flight": 1}), "MISSING_FIELD"),
        ("load-missing-in-flight", load, mp({"served": 1}), "MISSING_FIELD"),
        ("load-in-flight-is-string", load, mp({"in_flight": "1", "served": 1}),
         "WRONG_FIELD_TYPE"),
        ("load-negative-served", load, mp({"in_flight": 0, "served": -1}), "WRONG_FIELD_TYPE"),
        ("load-in-flight-over-u32", load, mp({"in_flight": 2**32, "served": 0}),
         "INVALID_FIELD"),
        ("load-not-a-map", load, mp([0, 0]), "NOT_A_MAP"),
        ("load-truncated", load, mp({"in_flight": 1, "served": 2})[:-1], "MALFORMED"),
        ("load-depth-bomb", load, b"\x91" * 200 + b"\xc0", "LIMIT_EXCEEDED"),
    ]
    return {"valid": vectors,
            "invalid": [{"name": n, "what": w, "hex": h.hex(), "error": e}
                        for n, w, h, e in invalid]}


# ---- shared-memory layout (PROTOCOL.md §4) ----

CACHE_LINE = 64
SEGMENT_MAGIC = b"FMDSEG01"  # the 8 ASCII bytes as they lie in memory
BLOCK_MAGIC = b"FMDBLK01"
LAYOUT_VERSION = 1
STATES = {"free": 0, "writing": 1, "sealed": 2, "released": 3}


def segment_header(segment, generation, size, magic=SEGMENT_MAGIC, layout=LAYOUT_VERSION):
    """Offset 0: magic[8], layout_version u32, segment u32, generation u32, reserved u32,
    size u64, reserved u64[4]; little endian."""
    out = magic + struct.pack("<IIIIQ", layout, segment, generation, 0, size) + bytes(32)
    assert len(out) == CACHE_LINE
    return out


def state_word(generation, state):
    return (generation << 32) | STATES[state]


def block_header(generation, state, offset, length, capacity, magic=BLOCK_MAGIC,
                 endian="<"):
    """At payload offset - 64: state u64 (generation << 32 | state), magic[8], offset u64,
    length u64, capacity u64, reserved u64[3]."""
    word = struct.pack(endian + "Q", state_word(generation, state))
    if endian == ">":
        magic = magic[::-1]
    out = word + magic + struct.pack(endian + "QQQ", offset, length, capacity) + bytes(24)
    assert len(out) == CACHE_LINE
    return out


def round_up(n):
    return (n + CACHE_LINE - 1) // CACHE_LINE * CACHE_LINE


def handle(segment, offset, length, generation):
    return {"segment": segment, "offset": offset, "length": length, "generation": generation}


def shm_vectors():
    seg = {"segment": 3, "size": 4096, "generation": 7}
    s, size, g = seg["segment"], seg["size"], seg["generation"]
    good_segment = segment_header(s, g, size)

    segment_headers = [
        {"name": "first-lease", "segment": 1, "generation": 1, "size": 8 << 20},
        {"name": "slot-3-generation-7", "segment": 3, "generation": 7, "size": 4096},
        {"name": "largest-fields", "segment": 0xFFFFFFFF, "generation": 0xFFFFFFFF,
         "size": 512 << 20},
    ]
    for v in segment_headers:
        v["hex"] = segment_header(v["segment"], v["generation"], v["size"]).hex()

    def owner(name, allocations, info=seg):
        blocks, cursor = [], CACHE_LINE
        for allocate, seal in allocations:
            header_offset = cursor
            payload = header_offset + CACHE_LINE
            capacity = round_up(seal)  # write-then-shrink: the unused tail is free at once
            blocks.append({"allocate": allocate, "seal": seal, "header_offset": header_offset,
                           "handle": handle(info["segment"], payload, seal, info["generation"]),
                           "header_hex": block_header(info["generation"], "sealed", payload,
                                                      seal, capacity).hex()})
            cursor = payload + capacity
        return {"name": name, "segment": info, "blocks": blocks}

    owner_writes = [
        owner("one-block", [(100, 100)]),
        owner("exact-cache-lines", [(128, 128)]),
        owner("empty-block", [(0, 0)]),
        owner("shrunk-on-seal", [(1000, 100)]),
        owner("three-blocks-back-to-back", [(100, 100), (64, 64), (65, 65)]),
        owner("largest-block", [(size - 2 * CACHE_LINE, size - 2 * CACHE_LINE)]),
        owner("generation-in-state-word", [(10, 10)],
              {"segment": 9, "size": 4096, "generation": 0xFEDCBA98}),
    ]

    def read(name, expect, header_offset, header, h, segment_bytes=good_segment):
        v = {"name": name, "segment": seg, "segment_header_hex": segment_bytes.hex(),
             "header_offset": header_offset, "header_hex": header.hex(), "handle": h,
             "expect": expect}
        if expect == "OK":
            released = bytearray(header)
            released[0:8] = struct.pack("<Q", state_word(h["generation"], "released"))
            v["released_header_hex"] = bytes(released).hex()
        return v

    def sealed(offset, length, generation=g, state="sealed", **kw):
        return block_header(generation, state, offset, length, round_up(length), **kw)

    def at(offset, length, **kw):
        """A block whose header sits right before `offset`, and the handle naming it."""
        return offset - CACHE_LINE, sealed(offset, length, **kw), handle(s, offset, length, g)

    reads = [
        read("first-block", "OK", *at(128, 100)),
        read("later-block", "OK", *at(1088, 64)),
        read("empty-block", "OK", *at(128, 0)),
        read("block-ending-at-segment-end", "OK", *at(size - 64, 64)),
        read("largest-block", "OK", *at(128, size - 128)),
    ]
    # Readers never judge the segment header (the daemon's announcement is the authority).
    for name, bad in (("bad-magic", segment_header(s, g, size, magic=b"XXXXXXXX")),
                      ("stale-generation", segment_header(s, g - 1, size)),
                      ("other-segment", segment_header(s + 1, g, size)),
                      ("layout-version-2", segment_header(s, g, size, layout=2)),
                      ("zeroed", bytes(CACHE_LINE))):
        reads.append(read("segment-header-" + name + "-is-not-judged", "OK", *at(128, 100),
                          segment_bytes=bad))

    def refused(name, expect, header_offset, header, h):
        reads.append(read(name, expect, header_offset, header, h))

    h = handle(s, 128, 100, g)
    refused("unknown-segment", "SHM_UNKNOWN_SEGMENT", 64, sealed(128, 100),
            handle(s + 1, 128, 100, g))
    refused("segment-0-is-never-a-pool-segment", "SHM_UNKNOWN_SEGMENT", 64, sealed(128, 100),
            handle(0, 128, 100, g))
    refused("stale-handle-generation", "SHM_STALE_GENERATION", 64, sealed(128, 100, g - 1),
            handle(s, 128, 100, g - 1))
    refused("future-handle-generation", "SHM_STALE_GENERATION", 64, sealed(128, 100, g + 1),
            handle(s, 128, 100, g + 1))
    refused("offset-beyond-segment", "SHM_OUT_OF_BOUNDS", 64, sealed(128, 100),
            handle(s, size + 64, 64, g))
    refused("length-overflow", "SHM_OUT_OF_BOUNDS", 64, sealed(128, size - 127),
            handle(s, 128, size - 127, g))
    refused("offset-plus-length-wraps-64-bits", "SHM_OUT_OF_BOUNDS", 64,
            sealed(128, 2**64 - 64), handle(s, 128, 2**64 - 64, g))
    refused("bad-block-magic", "SHM_BAD_BLOCK", 64, sealed(128, 100, magic=b"FMDBLK02"), h)
    refused("zeroed-header", "SHM_BAD_BLOCK", 64, bytes(CACHE_LINE), h)
    refused("big-endian-header", "SHM_BAD_BLOCK", 64, sealed(128, 100, endian=">"), h)
    refused("misaligned-offset", "SHM_BAD_BLOCK", 66, sealed(130, 100),
            handle(s, 130, 100, g))
    refused("offset-inside-segment-header", "SHM_BAD_BLOCK", 0, sealed(64, 100),
            handle(s, 64, 100, g))
    refused("offset-zero", "SHM_BAD_BLOCK", 64, sealed(128, 100), handle(s, 0, 100, g))
    refused("header-names-another-offset", "SHM_BAD_BLOCK", 64, sealed(192, 100), h)
    refused("header-names-another-length", "SHM_BAD_BLOCK", 64, sealed(128, 101), h)
    refused("handle-between-blocks", "SHM_BAD_BLOCK", 64, sealed(128, 100),
            handle(s, 256, 100, g))
    for state in ("free", "writing", "released"):
        refused("block-" + state, "SHM_BAD_BLOCK", 64, sealed(128, 100, state=state), h)
    refused("block-of-an-earlier-generation", "SHM_BAD_BLOCK", 64, sealed(128, 100, g - 1), h)
    refused("unknown-state-value", "SHM_BAD_BLOCK", 64,
            struct.pack("<Q", (g << 32) | 4) + sealed(128, 100)[8:], h)
    # The checks run in order: segment, generation, bounds, block.
    refused("unknown-segment-before-generation", "SHM_UNKNOWN_SEGMENT", 64, bytes(CACHE_LINE),
            handle(s + 1, 128, 100, g + 1))
    refused("generation-before-bounds", "SHM_STALE_GENERATION", 64, bytes(CACHE_LINE),
            handle(s, size * 2, 100, g + 1))
    refused("bounds-before-block", "SHM_OUT_OF_BOUNDS", 64, bytes(CACHE_LINE),
            handle(s, 130, size, g))

    sealed_segment = ["F_SEAL_SHRINK", "F_SEAL_GROW"]
    opens = [
        {"name": "sealed-memfd", "segment": seg, "file_size": size, "seals": sealed_segment,
         "expect": "OK"},
        {"name": "file-larger-than-announced", "segment": seg, "file_size": 2 * size,
         "seals": sealed_segment, "expect": "OK"},
        {"name": "smallest-segment", "segment": {"segment": 1, "size": 192, "generation": 1},
         "file_size": 192, "seals": sealed_segment, "expect": "OK"},
        {"name": "segment-0", "segment": {"segment": 0, "size": size, "generation": 1},
         "file_size": size, "seals": sealed_segment, "expect": "SHM_UNKNOWN_SEGMENT"},
        {"name": "file-shorter-than-announced", "segment": seg, "file_size": size // 2,
         "seals": sealed_segment, "expect": "SHM_BAD_FD"},
        {"name": "size-not-a-multiple-of-64", "segment": dict(seg, size=4000),
         "file_size": 4096, "seals": sealed_segment, "expect": "SHM_BAD_FD"},
        {"name": "size-below-the-smallest-segment",
         "segment": {"segment": 1, "size": 128, "generation": 1}, "file_size": 4096,
         "seals": sealed_segment, "expect": "SHM_BAD_FD"},
        {"name": "memfd-without-seals", "segment": seg, "file_size": size, "seals": [],
         "expect": "SHM_BAD_FD"},
        {"name": "memfd-sealed-against-shrink-only", "segment": seg, "file_size": size,
         "seals": ["F_SEAL_SHRINK"], "expect": "SHM_BAD_FD"},
    ]
    constants = {
        "cache_line": CACHE_LINE, "segment_header_bytes": CACHE_LINE,
        "block_header_bytes": CACHE_LINE, "first_block_offset": CACHE_LINE,
        "min_segment_size": 3 * CACHE_LINE, "layout_version": LAYOUT_VERSION,
        "segment_magic_hex": SEGMENT_MAGIC.hex(), "block_magic_hex": BLOCK_MAGIC.hex(),
        "states": STATES,
    }
    return {"constants": constants, "segment_headers": segment_headers,
            "owner_writes": owner_writes, "reads": reads, "opens": opens}


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    for name, vectors in (("valid.json", valid_vectors()), ("invalid.json", invalid_vectors()),
                          ("ndjson.json", ndjson_vectors()), ("shm.json", shm_vectors()),
                          ("control.json", control_vectors())):
        with open(os.path.join(here, name), "w") as f:
            json.dump(vectors, f, indent=1)
            f.write("\n")


if __name__ == "__main__":
    main()
