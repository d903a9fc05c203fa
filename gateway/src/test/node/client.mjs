// A real connect-es client (not ours) calling the sample EchoService through the gateway over
// gRPC-Web or the Connect protocol, on HTTP/1.1 or HTTP/2. The service's schema comes from the
// descriptor set the build writes; no generated code. Prints one JSON object with what each
// call returned, for the Java integration tests to assert on.
//
//   node client.mjs <baseUrl> <descriptor-set.pb> <grpc-web|connect> <1.1|2> <proto|json>
import { createClient, ConnectError } from "@connectrpc/connect";
import { compressionGzip, createConnectTransport, createGrpcWebTransport }
  from "@connectrpc/connect-node";
import { createFileRegistry, fromBinary } from "@bufbuild/protobuf";
import { FileDescriptorSetSchema } from "@bufbuild/protobuf/wkt";
import { readFileSync } from "node:fs";

const [baseUrl, descriptorFile, protocol, httpVersion, encoding] = process.argv.slice(2);
const registry = createFileRegistry(fromBinary(FileDescriptorSetSchema,
  readFileSync(descriptorFile)));
const service = registry.getService("meshgate.samples.echo.v1.EchoService");
const options = { baseUrl, httpVersion, useBinaryFormat: encoding === "proto" };
const transport = protocol === "grpc-web" ? createGrpcWebTransport(options)
  : createConnectTransport(options);
const client = createClient(service, transport);

async function outcome(run) {
  try {
    return { ok: await run() };
  } catch (e) {
    const error = ConnectError.from(e);
    return { code: error.code, message: error.rawMessage };
  }
}

async function* requests(...messages) {
  for (const message of messages) {
    yield { message };
  }
}

const result = {};
result.unary = await outcome(async () => {
  const metadata = {};
  const keep = (h) => h.forEach((value, key) => { if (key.startsWith("x-")) metadata[key] = value; });
  const response = await client.echo({ message: "hello", payload: new Uint8Array([0, 1, 2, 255]) },
    { timeoutMs: 10000, headers: { "x-client-tag": "node" }, onHeader: keep, onTrailer: keep });
  return { message: response.message, payload: Array.from(response.payload),
    servedBy: response.servedBy, metadata };
});
result.serverStream = await outcome(async () => {
  const messages = [];
  for await (const response of client.expand({ message: "tick", responseCount: 3 },
      { timeoutMs: 10000 })) {
    messages.push(response.message);
  }
  return messages;
});
result.error = await outcome(() => client.echo({ message: "x", failCode: 5, failMessage: "no such echo" },
  { timeoutMs: 10000 }));
result.deadline = await outcome(() => client.echo({ message: "slow", delayMillis: 5000 },
  { timeoutMs: 300 }));
result.streamError = await outcome(async () => {
  const messages = [];
  for await (const response of client.expand({ message: "then", responseCount: 2, failCode: 9,
      failMessage: "stopped midway" }, { timeoutMs: 10000 })) {
    messages.push(response.message);
  }
  return messages;
});
if (protocol === "connect") {
  // GET for a method without side effects, and gzip both ways for large messages.
  const getClient = createClient(service, createConnectTransport({ ...options, useHttpGet: true }));
  result.get = await outcome(async () => (await getClient.echo({ message: "by get" },
    { timeoutMs: 10000 })).message);
  const gzipClient = createClient(service, createConnectTransport({ ...options,
    sendCompression: compressionGzip, acceptCompression: [compressionGzip] }));
  result.gzip = await outcome(async () => {
    const response = await gzipClient.echo({ message: "zipped", payload: new Uint8Array(4096).fill(7) },
      { timeoutMs: 10000 });
    return { message: response.message, payloadBytes: response.payload.length };
  });
}
if (httpVersion === "2") {
  result.clientStream = await outcome(async () => {
    const response = await client.collect(requests("a", "b", "c"), { timeoutMs: 10000 });
    return { message: response.message, receivedCount: Number(response.receivedCount) };
  });
  // Full duplex: the second request is sent only after the first answer came back.
  result.duplex = await outcome(async () => {
    const answers = [];
    let firstAnswer;
    const answered = new Promise((resolve) => { firstAnswer = resolve; });
    async function* pingPong() {
      yield { message: "ping-1" };
      await answered;
      yield { message: "ping-2" };
    }
    for await (const response of client.chat(pingPong(), { timeoutMs: 5000 })) {
      answers.push(response.message);
      firstAnswer();
    }
    return answers;
  });
  result.bidi = await outcome(async () => {
    const messages = [];
    for await (const response of client.chat(requests("x", "y"), { timeoutMs: 10000 })) {
      messages.push(response.message);
    }
    return messages;
  });
}
console.log(JSON.stringify(result));
