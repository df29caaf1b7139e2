// Reference (a) of `npm run bench`: the runtime ceiling. Reads the request body and answers 200
// without doing any work, so the same local stack (wrangler dev + workerd) can be measured with
// the same requests as the service. Server-Timing reports the time spent reading the body.
export default {
  async fetch(request) {
    const start = performance.now();
    await request.arrayBuffer();
    return new Response(null, {
      status: 200,
      headers: { "Server-Timing": `null;dur=${(performance.now() - start).toFixed(2)}` },
    });
  },
};
