// The ESM entry of @fastmd/ipc: the same API as the CommonJS core (lib/index.js).
//
//   import { connect } from '@fastmd/ipc';
//   await using client = await connect();
//   console.log(await client.transform('# Hello\n'));
import core from './index.js';

export const { connect, Client, FastmdError, ERRNO } = core;
export default core;
