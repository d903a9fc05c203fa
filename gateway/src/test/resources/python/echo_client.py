"""A grpc-python client for the echo service, used by PythonClientIntegrationTest.

It talks to the gateway with raw protobuf bytes (no generated code needed) and prints one JSON
object with what it saw, so the Java test can assert on another gRPC implementation's view.
"""
import json
import sys

import grpc

SERVICE = "/meshgate.samples.echo.v1.EchoService/"


def varint(n):
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def field_bytes(number, value):
    return varint(number << 3 | 2) + varint(len(value)) + value


def field_int(number, value):
    return varint(number << 3) + varint(value)


def read_varint(buf, i):
    shift = result = 0
    while True:
        b = buf[i]
        i += 1
        result |= (b & 0x7F) << shift
        if not b & 0x80:
            return result, i
        shift += 7


def parse(buf):
    """Decodes the fields of an EchoResponse we care about."""
    fields = {}
    i = 0
    while i < len(buf):
        key, i = read_varint(buf, i)
        number, wire = key >> 3, key & 7
        if wire == 2:
            length, i = read_varint(buf, i)
            fields[number] = buf[i:i + length]
            i += length
        elif wire == 0:
            fields[number], i = read_varint(buf, i)
        else:
            raise ValueError("unexpected wire type %d" % wire)
    return fields


def main(target):
    result = {}
    with grpc.insecure_channel(target) as channel:
        echo = channel.unary_unary(SERVICE + "Echo")
        request = field_bytes(1, "hello from python".encode()) + field_bytes(2, b"\x00\x01\xff")
        response, call = echo.with_call(
            request, timeout=10,
            metadata=[("x-echo-lang", "python"), ("x-echo-blob-bin", b"\x00\xfe")])
        fields = parse(response)
        result["message"] = fields[1].decode()
        result["payload"] = list(fields[2])
        result["headers"] = {k: (v if isinstance(v, str) else list(v))
                             for k, v in call.initial_metadata()}
        result["trailers"] = {k: (v if isinstance(v, str) else list(v))
                              for k, v in call.trailing_metadata()}

        expand = channel.unary_stream(SERVICE + "Expand")
        stream = expand(field_int(3, 25) + field_int(4, 1000), timeout=10)
        result["streamed"] = [parse(m).get(3, 0) for m in stream]

        collect = channel.stream_unary(SERVICE + "Collect")
        summary = parse(collect(iter([field_bytes(2, b"x" * 100)] * 7), timeout=10))
        result["collected"] = [summary.get(4, 0), summary.get(5, 0)]

        chat = channel.stream_stream(SERVICE + "Chat")
        replies = chat(iter([field_bytes(1, ("m%d" % i).encode()) for i in range(5)]),
                       timeout=10)
        result["chat"] = [parse(m)[1].decode() for m in replies]

        try:
            echo(field_int(5, 5) + field_bytes(6, "no such thing".encode()), timeout=10)
            result["error"] = None
        except grpc.RpcError as e:
            result["error"] = {"code": e.code().name, "details": e.details()}

        try:
            echo(field_int(7, 1), timeout=0.3)
            result["deadline"] = None
        except grpc.RpcError as e:
            result["deadline"] = e.code().name

        unknown = channel.unary_unary("/acme.nowhere.v1.Nothing/Call")
        try:
            unknown(b"", timeout=10)
            result["unknown"] = None
        except grpc.RpcError as e:
            result["unknown"] = e.code().name
    print(json.dumps(result))


if __name__ == "__main__":
    main(sys.argv[1])
