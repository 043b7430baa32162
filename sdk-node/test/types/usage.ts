// Compiled by test/types.test.js with tsc --strict: the hand-written lib/index.d.ts describes
// the API the way the docs use it. The `@ts-expect-error` lines must stay errors.
import { connect, Client, FastmdError, ERRNO, type ConnectOptions, type FastmdErrorCode, type TransportInfo } from '@fastmd/ipc';

async function main(): Promise<void> {
  const options: ConnectOptions = { transport: 'auto', workers: 2, timeoutMs: 1000, workerCommand: ['w', '--stdio'] };
  const client: Client = await connect(options);
  const transport: 'fast' | 'legacy' = client.transport;
  const why: string | null = client.transportInfo.reason;
  const counted: Client = await connect({ onTransport: (info: TransportInfo) => console.log(info.transport, info.source) });
  const html: string = await client.transform('# hi');
  const bytes: Buffer = await client.transform(Buffer.from('# hi'));
  const asText: string = await client.call('echo', new Uint8Array([1]), { as: 'string' });
  const asBytes: Buffer = await client.call('echo', 'x', { as: 'buffer', signal: AbortSignal.timeout(10) });
  const many: string[] = await client.callMany('transform', ['a', 'b']);
  const spinning: Client = await connect({ transport: 'fast', spinUs: 200 });
  const manyBytes: Buffer[] = await spinning.callMany('echo', ['a', 'b'], { as: 'buffer', timeoutMs: 100 });
  const load: number = client.workers[0].outstanding;
  try {
    await client.call('x', 'y', { timeoutMs: 5, idempotent: false });
  } catch (error) {
    if (error instanceof FastmdError) {
      const code: FastmdErrorCode = error.code;
      const errno: number | undefined = error.errno;
      console.log(code, errno, ERRNO.TIMEOUT);
    }
  }
  // @ts-expect-error a number is not a payload
  await client.call('echo', 42);
  // @ts-expect-error not a transport
  await connect({ transport: 'carrier-pigeon' });
  // @ts-expect-error spinUs is a number of microseconds
  await connect({ spinUs: '200' });
  // @ts-expect-error onTransport is a function
  await connect({ onTransport: 'metrics' });
  // @ts-expect-error a string payload gives a string
  const wrong: Buffer = await client.transform('# hi');
  console.log(transport, why, html, bytes, asText, asBytes, many, manyBytes, load, wrong);
  await counted.close();
  await client[Symbol.asyncDispose]();
  await client.close();
}

void main();
