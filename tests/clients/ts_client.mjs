// Drives the gateway with the real @anthropic-ai/sdk: create, stream with finalMessage(), and a
// tool round trip; prints one JSON object with what the SDK returned.
import Anthropic from "@anthropic-ai/sdk";

const client = new Anthropic({ baseURL: process.env.BASE_URL, apiKey: process.env.KEY, maxRetries: 0 });
const model = process.env.MODEL;
const out = {};

const created = await client.messages.create({
  model, max_tokens: 64, messages: [{ role: "user", content: "Hello from TypeScript" }],
});
out.created = { text: created.content[0].text, model: created.model, usage: created.usage, stop: created.stop_reason };

const stream = client.messages.stream({
  model, max_tokens: 64, messages: [{ role: "user", content: "Stream please" }],
});
let streamed = "";
stream.on("text", (t) => { streamed += t; });
const final = await stream.finalMessage();
out.stream = { text: streamed, final: final.content[0].text, usage: final.usage, stop: final.stop_reason };

const tools = [{ name: "Write", description: "write a file", input_schema: { type: "object" } }];
const toolStream = client.messages.stream({
  model, max_tokens: 64, tools, messages: [{ role: "user", content: "SBFILE:/tmp/x.txt" }],
});
const toolFinal = await toolStream.finalMessage();
out.tool = { blocks: toolFinal.content.map((b) => b.type), input: toolFinal.content.find((b) => b.type === "tool_use")?.input, stop: toolFinal.stop_reason };

try {
  await new Anthropic({ baseURL: process.env.BASE_URL, apiKey: "wrong", maxRetries: 0 }).messages.create({
    model, max_tokens: 5, messages: [{ role: "user", content: "x" }],
  });
} catch (err) {
  out.error = { status: err.status, type: err.error?.error?.type, requestID: err.requestID };
}
console.log(JSON.stringify(out));
