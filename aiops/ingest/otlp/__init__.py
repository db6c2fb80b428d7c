"""OTLP/HTTP: OpenTelemetry traces, metrics and logs decoded into the engine's columnar batches.

``wire`` reads and writes the protocol's two encodings (binary protobuf and OTLP's JSON
mapping) with the ``opentelemetry-proto`` message classes; ``traces``, ``logs`` and
``metrics`` turn a decoded request into what storage takes, refusing single items (counted
for ``partial_success``) rather than whole requests wherever the protocol allows.
Source: the OTLP specification 1.x, "OTLP/HTTP" and "JSON Protobuf Encoding".
"""
