import { execIn } from './netns.ts';

/** What an HTTP request to the control API came back with. */
export interface HttpAnswer {
  status: number;
  body: string;
}

/**
 * One HTTP request from inside a namespace (the API listens on the lab
 * segment's address, which only the namespaces reach), sent by Node's own
 * fetch so no other HTTP client is needed.
 */
export async function httpIn(netns: string, url: string, init: { method?: string; headers?: Record<string, string>; body?: string } = {}): Promise<HttpAnswer> {
  const script = [
    'const [url, init] = [process.argv[1], JSON.parse(process.argv[2])];',
    'fetch(url, init).then(async (r) => process.stdout.write(JSON.stringify({ status: r.status, body: await r.text() })),',
    '  (e) => { process.stderr.write(String(e.cause ?? e)); process.exit(1); });',
  ].join('\n');
  const { stdout } = await execIn(netns, ['node', '-e', script, url, JSON.stringify(init)]);
  return JSON.parse(stdout) as HttpAnswer;
}

/** One Kea command over HTTP with a bearer token; the answer's JSON and its HTTP status. */
export async function commandIn(netns: string, url: string, token: string | undefined, command: string, args?: object): Promise<HttpAnswer & { json: { result: number; text: string; arguments?: Record<string, unknown> } }> {
  const answer = await httpIn(netns, url, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', ...(token !== undefined && { Authorization: `Bearer ${token}` }) },
    body: JSON.stringify(args === undefined ? { command } : { command, arguments: args }),
  });
  return { ...answer, json: JSON.parse(answer.body) };
}

/** The value of one series of a Prometheus text exposition (labels in any order), or undefined. */
export function seriesValue(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  for (const line of text.split('\n')) {
    const m = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const have = new Map([...(m[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map((x) => [x[1], x[2]]));
    if (Object.entries(labels).every(([k, v]) => have.get(k) === v)) return Number(m[3]);
  }
  return undefined;
}
